"""Routers' availability zone hints and ports' extra DHCP options (issue 21).

``routers.availability_zone_hints`` (router_availability_zone; existing routers get Neutron's default, no
hints) and the ``extradhcpopts`` table (extra_dhcp_opt: one option per port, name and IP version).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("routers") as batch:
        batch.add_column(sa.Column("availability_zone_hints", sa.JSON(), nullable=False, server_default="[]"))
    op.create_table(
        "extradhcpopts",
        sa.Column("port_id", sa.String(length=36), nullable=False),
        sa.Column("opt_name", sa.String(length=64), nullable=False),
        sa.Column("ip_version", sa.Integer(), nullable=False),
        sa.Column("opt_value", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["port_id"], ["ports.id"], name=op.f("fk_extradhcpopts_port_id_ports"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("port_id", "opt_name", "ip_version", name=op.f("pk_extradhcpopts")),
    )
    op.create_index(op.f("ix_extradhcpopts_port_id"), "extradhcpopts", ["port_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_extradhcpopts_port_id"), table_name="extradhcpopts")
    op.drop_table("extradhcpopts")
    with op.batch_alter_table("routers") as batch:
        batch.drop_column("availability_zone_hints")
