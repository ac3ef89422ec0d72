"""RBAC policies and agent bindings (issue 21): the ``rbac_policies`` table, and the wildcard rows Neutron keeps
for what is already shared or external — a shared network, address scope or subnet pool gets ``*``
``access_as_shared``, an external network ``*`` ``access_as_external`` (visibility reads these rows from now on);
the ``router_l3_agent_bindings`` and ``network_dhcp_agent_bindings`` tables of manual (re)scheduling; a
network's ``availability_zone_hints``.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# (table, object_type, flag column, action) of the rows that existed before RBAC
_BACKFILL = (
    ("networks", "network", "shared", "access_as_shared"),
    ("networks", "network", "external", "access_as_external"),
    ("address_scopes", "address_scope", "shared", "access_as_shared"),
    ("subnetpools", "subnetpool", "shared", "access_as_shared"),
)


def upgrade() -> None:
    policies = op.create_table(
        "rbac_policies",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("object_id", sa.String(length=36), nullable=False),
        sa.Column("action", sa.String(length=255), nullable=False),
        sa.Column("target_project", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rbac_policies")),
        sa.UniqueConstraint(
            "object_type",
            "object_id",
            "action",
            "target_project",
            name=op.f("uq_rbac_policies_object_type_object_id_action_target_project"),
        ),
    )
    op.create_index(op.f("ix_rbac_policies_project_id"), "rbac_policies", ["project_id"], unique=False)
    op.create_index(op.f("ix_rbac_policies_object_id"), "rbac_policies", ["object_id"], unique=False)
    op.create_index(
        "ix_rbac_policies_object_type_target_project", "rbac_policies", ["object_type", "target_project"], unique=False
    )
    # a plain ALTER TABLE ADD COLUMN on every backend: SQLite's batch mode would copy the table, and dropping the
    # old one would cascade to the subnets and ports that refer to it
    op.add_column("networks", sa.Column("availability_zone_hints", sa.JSON(), nullable=False, server_default="[]"))
    _binding_table("router_l3_agent_bindings", "router_id", "routers")
    _binding_table("network_dhcp_agent_bindings", "network_id", "networks")
    bind = op.get_bind()
    for table, object_type, flag, action in _BACKFILL:
        found = bind.execute(sa.text(f"SELECT id, project_id FROM {table} WHERE {flag}")).all()  # noqa: S608
        rows = [
            {"id": str(uuid.uuid4()), "project_id": project, "object_type": object_type, "object_id": object_id,
             "action": action, "target_project": "*"}
            for object_id, project in found
        ]  # fmt: skip
        if rows:
            op.bulk_insert(policies, rows)


def _binding_table(name: str, key: str, parent: str) -> None:
    op.create_table(
        name,
        sa.Column(key, sa.String(length=36), nullable=False),
        sa.Column("agent_id", sa.String(length=36), nullable=True),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f(f"fk_{name}_agent_id_agents"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint([key], [f"{parent}.id"], name=op.f(f"fk_{name}_{key}_{parent}"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint(key, name=op.f(f"pk_{name}")),
    )
    op.create_index(op.f(f"ix_{name}_agent_id"), name, ["agent_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("networks") as batch:
        batch.drop_column("availability_zone_hints")
    for name in ("network_dhcp_agent_bindings", "router_l3_agent_bindings"):
        op.drop_index(op.f(f"ix_{name}_agent_id"), table_name=name)
        op.drop_table(name)
    op.drop_index("ix_rbac_policies_object_type_target_project", table_name="rbac_policies")
    op.drop_index(op.f("ix_rbac_policies_object_id"), table_name="rbac_policies")
    op.drop_index(op.f("ix_rbac_policies_project_id"), table_name="rbac_policies")
    op.drop_table("rbac_policies")
