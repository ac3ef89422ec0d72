"""The per-host change feed (issue 16): ``change_hosts`` (host, seq) names the hosts each change concerns.

Written in the changing transaction next to its ``changes`` row, so a long poll reads its host's rows by the
primary key instead of the whole log. Rows already in the log concern every host (``"*"``), as the feed was
unfiltered when they were written.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "change_hosts",
        sa.Column("host", sa.String(length=255), primary_key=True),
        sa.Column("seq", sa.Integer(), sa.ForeignKey("changes.seq", ondelete="CASCADE"), primary_key=True),
    )
    op.create_index("ix_change_hosts_seq", "change_hosts", ["seq"])
    op.execute("INSERT INTO change_hosts (host, seq) SELECT '*', seq FROM changes")


def downgrade() -> None:
    op.drop_index("ix_change_hosts_seq", table_name="change_hosts")
    op.drop_table("change_hosts")
