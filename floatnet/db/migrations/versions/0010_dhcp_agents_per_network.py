"""``dhcp_agents_per_network`` (issue 14): a network's DHCP on several agents, one
``network_dhcp_agent_bindings`` row per (network, slot) as Neutron's table (``binding_index``), each agent at most
once per network.

The key moves from ``network_id`` to ``(network_id, binding_index)``. Today's rows become slot 1, so a network's
agent stays its agent and the operator's "on no agent" rows (NULL ``agent_id``) keep their meaning: that slot
stays empty. SQLite rebuilds the table (batch mode, nothing refers to it); PostgreSQL alters it in place.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TABLE = "network_dhcp_agent_bindings"


def upgrade() -> None:
    with op.batch_alter_table(TABLE) as batch:
        batch.add_column(sa.Column("binding_index", sa.Integer(), nullable=False, server_default="1"))
    with op.batch_alter_table(TABLE) as batch:
        batch.alter_column("binding_index", server_default=None, existing_type=sa.Integer(), existing_nullable=False)
        batch.drop_constraint(op.f(f"pk_{TABLE}"), type_="primary")
        batch.create_primary_key(op.f(f"pk_{TABLE}"), ["network_id", "binding_index"])
        batch.create_unique_constraint(op.f(f"uq_{TABLE}_network_id_agent_id"), ["network_id", "agent_id"])


def downgrade() -> None:
    """Back to one row per network: each network keeps its first slot."""
    op.execute(
        sa.text(
            f"DELETE FROM {TABLE} WHERE binding_index > "  # noqa: S608
            f"(SELECT MIN(b.binding_index) FROM {TABLE} b WHERE b.network_id = {TABLE}.network_id)"
        )
    )
    with op.batch_alter_table(TABLE) as batch:
        batch.drop_constraint(op.f(f"uq_{TABLE}_network_id_agent_id"), type_="unique")
        batch.drop_constraint(op.f(f"pk_{TABLE}"), type_="primary")
        batch.create_primary_key(op.f(f"pk_{TABLE}"), ["network_id"])
        batch.drop_column("binding_index")
