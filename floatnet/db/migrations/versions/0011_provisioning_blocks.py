"""Provisioning blocks: ``provisioning_blocks`` (port, entity) holds what a port still waits for before it may go
``ACTIVE`` (a DHCP server's confirmation, its agent's wiring), as Neutron's table of the same name. Existing
ports wait for nothing.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TABLE = "provisioning_blocks"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("port_id", sa.String(length=36), nullable=False),
        sa.Column("entity", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["port_id"], ["ports.id"], name=op.f(f"fk_{TABLE}_port_id_ports"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("port_id", "entity", name=op.f(f"pk_{TABLE}")),
    )


def downgrade() -> None:
    op.drop_table(TABLE)
