"""dns-integration's stored names (issue 21): ``networks.dns_domain``, ``floatingips.dns_name`` and
``floatingips.dns_domain`` (empty for existing rows). Plain ADD COLUMNs, never a table copy.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

COLUMNS = (("networks", "dns_domain"), ("floatingips", "dns_name"), ("floatingips", "dns_domain"))


def upgrade() -> None:
    for table, column in COLUMNS:
        op.add_column(table, sa.Column(column, sa.String(length=255), nullable=False, server_default=""))


def downgrade() -> None:
    for table, column in reversed(COLUMNS):
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column)
