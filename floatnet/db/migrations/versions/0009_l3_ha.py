"""l3-ha (issue 15): ``routers.ha`` / ``routers.ha_vr_id`` (plain ADD COLUMNs), each project's HA network
(``ha_router_networks``), the VRRP ids taken on it (``ha_router_vrid_allocations``) and the replicas of each HA
router with their VRRP state (``ha_router_agent_port_bindings``), as Neutron's tables of the same names.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _fk(table: str, column: str, parent: str, ondelete: str = "CASCADE") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{parent}.id"], name=op.f(f"fk_{table}_{column}_{parent}"), ondelete=ondelete
    )


def upgrade() -> None:
    op.add_column("routers", sa.Column("ha", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("routers", sa.Column("ha_vr_id", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_routers_ha"), "routers", ["ha"], unique=False)  # each report looks for HA routers
    op.create_table(
        "ha_router_networks",
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("network_id", sa.String(length=36), nullable=False),
        _fk("ha_router_networks", "network_id", "networks"),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_ha_router_networks")),
        sa.UniqueConstraint("network_id", name=op.f("uq_ha_router_networks_network_id")),
    )
    op.create_table(
        "ha_router_vrid_allocations",
        sa.Column("network_id", sa.String(length=36), nullable=False),
        sa.Column("vr_id", sa.Integer(), autoincrement=False, nullable=False),
        _fk("ha_router_vrid_allocations", "network_id", "networks"),
        sa.PrimaryKeyConstraint("network_id", "vr_id", name=op.f("pk_ha_router_vrid_allocations")),
    )
    table = "ha_router_agent_port_bindings"
    op.create_table(
        table,
        sa.Column("port_id", sa.String(length=36), nullable=False),
        sa.Column("router_id", sa.String(length=36), nullable=False),
        sa.Column("l3_agent_id", sa.String(length=36), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False, server_default="standby"),
        _fk(table, "port_id", "ports"),
        _fk(table, "router_id", "routers"),
        _fk(table, "l3_agent_id", "agents", "SET NULL"),
        sa.PrimaryKeyConstraint("port_id", name=op.f(f"pk_{table}")),
    )
    op.create_index(op.f(f"ix_{table}_router_id"), table, ["router_id"], unique=False)
    op.create_index(op.f(f"ix_{table}_l3_agent_id"), table, ["l3_agent_id"], unique=False)


def downgrade() -> None:
    table = "ha_router_agent_port_bindings"
    op.drop_index(op.f(f"ix_{table}_l3_agent_id"), table_name=table)
    op.drop_index(op.f(f"ix_{table}_router_id"), table_name=table)
    for name in (table, "ha_router_vrid_allocations", "ha_router_networks"):
        op.drop_table(name)
    op.drop_index(op.f("ix_routers_ha"), table_name="routers")
    with op.batch_alter_table("routers") as batch:
        batch.drop_column("ha_vr_id")
        batch.drop_column("ha")
