"""Security groups (issue 13): groups, rules, each project's default group, port bindings and allowed
address pairs (the tables of the matching floatnet.db.models classes).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "securitygroups",
        sa.Column("stateful", sa.Boolean(), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_securitygroups")),
    )
    with op.batch_alter_table("securitygroups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_securitygroups_project_id"), ["project_id"], unique=False)

    op.create_table(
        "default_security_groups",
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("security_group_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["security_group_id"],
            ["securitygroups.id"],
            name=op.f("fk_default_security_groups_security_group_id_securitygroups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", name=op.f("pk_default_security_groups")),
        sa.UniqueConstraint("security_group_id", name=op.f("uq_default_security_groups_security_group_id")),
    )
    op.create_table(
        "securitygrouprules",
        sa.Column("security_group_id", sa.String(length=36), nullable=False),
        sa.Column("remote_group_id", sa.String(length=36), nullable=True),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("ethertype", sa.String(length=40), nullable=False),
        sa.Column("protocol", sa.String(length=40), nullable=True),
        sa.Column("port_range_min", sa.Integer(), nullable=True),
        sa.Column("port_range_max", sa.Integer(), nullable=True),
        sa.Column("remote_ip_prefix", sa.String(length=255), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("revision_number", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["remote_group_id"],
            ["securitygroups.id"],
            name=op.f("fk_securitygrouprules_remote_group_id_securitygroups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["security_group_id"],
            ["securitygroups.id"],
            name=op.f("fk_securitygrouprules_security_group_id_securitygroups"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_securitygrouprules")),
    )
    with op.batch_alter_table("securitygrouprules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_securitygrouprules_project_id"), ["project_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_securitygrouprules_remote_group_id"), ["remote_group_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_securitygrouprules_security_group_id"), ["security_group_id"], unique=False
        )

    op.create_table(
        "allowedaddresspairs",
        sa.Column("port_id", sa.String(length=36), nullable=False),
        sa.Column("mac_address", sa.String(length=32), nullable=False),
        sa.Column("ip_address", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["port_id"], ["ports.id"], name=op.f("fk_allowedaddresspairs_port_id_ports"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("port_id", "mac_address", "ip_address", name=op.f("pk_allowedaddresspairs")),
    )
    op.create_table(
        "securitygroupportbindings",
        sa.Column("port_id", sa.String(length=36), nullable=False),
        sa.Column("security_group_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["port_id"], ["ports.id"], name=op.f("fk_securitygroupportbindings_port_id_ports"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["security_group_id"],
            ["securitygroups.id"],
            name=op.f("fk_securitygroupportbindings_security_group_id_securitygroups"),
        ),
        sa.PrimaryKeyConstraint("port_id", "security_group_id", name=op.f("pk_securitygroupportbindings")),
    )
    with op.batch_alter_table("securitygroupportbindings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_securitygroupportbindings_security_group_id"), ["security_group_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("securitygroupportbindings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_securitygroupportbindings_security_group_id"))

    op.drop_table("securitygroupportbindings")
    op.drop_table("allowedaddresspairs")
    with op.batch_alter_table("securitygrouprules", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_securitygrouprules_security_group_id"))
        batch_op.drop_index(batch_op.f("ix_securitygrouprules_remote_group_id"))
        batch_op.drop_index(batch_op.f("ix_securitygrouprules_project_id"))

    op.drop_table("securitygrouprules")
    op.drop_table("default_security_groups")
    with op.batch_alter_table("securitygroups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_securitygroups_project_id"))

    op.drop_table("securitygroups")
