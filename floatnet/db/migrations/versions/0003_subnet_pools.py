"""Subnet pools and address scopes (issue 21): the ``address_scopes`` and ``subnetpools`` tables and an index
on ``subnets.subnetpool_id`` (a pool's taken space and its in-use check query by it).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _standard() -> list[sa.Column]:
    return [
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "address_scopes",
        sa.Column("ip_version", sa.Integer(), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        *_standard(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_address_scopes")),
    )
    op.create_index(op.f("ix_address_scopes_project_id"), "address_scopes", ["project_id"], unique=False)
    op.create_table(
        "subnetpools",
        sa.Column("ip_version", sa.Integer(), nullable=False),
        sa.Column("prefixes", sa.JSON(), nullable=False),
        sa.Column("default_prefixlen", sa.Integer(), nullable=False),
        sa.Column("min_prefixlen", sa.Integer(), nullable=False),
        sa.Column("max_prefixlen", sa.Integer(), nullable=False),
        sa.Column("default_quota", sa.Integer(), nullable=True),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("address_scope_id", sa.String(length=36), nullable=True),
        *_standard(),
        sa.ForeignKeyConstraint(
            ["address_scope_id"], ["address_scopes.id"], name=op.f("fk_subnetpools_address_scope_id_address_scopes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subnetpools")),
    )
    op.create_index(op.f("ix_subnetpools_project_id"), "subnetpools", ["project_id"], unique=False)
    op.create_index(op.f("ix_subnetpools_address_scope_id"), "subnetpools", ["address_scope_id"], unique=False)
    op.create_index(op.f("ix_subnets_subnetpool_id"), "subnets", ["subnetpool_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_subnets_subnetpool_id"), table_name="subnets")
    op.drop_index(op.f("ix_subnetpools_address_scope_id"), table_name="subnetpools")
    op.drop_index(op.f("ix_subnetpools_project_id"), table_name="subnetpools")
    op.drop_table("subnetpools")
    op.drop_index(op.f("ix_address_scopes_project_id"), table_name="address_scopes")
    op.drop_table("address_scopes")
