"""Port forwardings of floating IPs (issue 17): the ``portforwardings`` table.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portforwardings",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("floatingip_id", sa.String(length=36), nullable=False),
        sa.Column("internal_port_id", sa.String(length=36), nullable=False),
        sa.Column("internal_ip_address", sa.String(length=64), nullable=False),
        sa.Column("protocol", sa.String(length=40), nullable=False),
        sa.Column("external_port_start", sa.Integer(), nullable=False),
        sa.Column("external_port_end", sa.Integer(), nullable=False),
        sa.Column("internal_port_start", sa.Integer(), nullable=False),
        sa.Column("internal_port_end", sa.Integer(), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["floatingip_id"],
            ["floatingips.id"],
            name=op.f("fk_portforwardings_floatingip_id_floatingips"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["internal_port_id"],
            ["ports.id"],
            name=op.f("fk_portforwardings_internal_port_id_ports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portforwardings")),
    )
    with op.batch_alter_table("portforwardings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_portforwardings_floatingip_id"), ["floatingip_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_portforwardings_internal_port_id"), ["internal_port_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("portforwardings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portforwardings_internal_port_id"))
        batch_op.drop_index(batch_op.f("ix_portforwardings_floatingip_id"))
    op.drop_table("portforwardings")
