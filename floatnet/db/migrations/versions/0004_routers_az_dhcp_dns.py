"""Routers' availability zone hints (issue 21, router_availability_zone).

``routers.availability_zone_hints``: existing routers get Neutron's default, no hints.

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


def downgrade() -> None:
    with op.batch_alter_table("routers") as batch:
        batch.drop_column("availability_zone_hints")
