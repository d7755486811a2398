"""beta tables

Revision ID: beta_0001
Revises:
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "beta_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("beta",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "beta_clock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_beta_clock")),
    )
    op.create_table(
        "beta_programs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.Column("terms_version", sa.Integer(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("waitlist_open", sa.Boolean(), nullable=False),
        sa.Column("questions", sa.JSON(), nullable=False),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_beta_programs")),
        sa.UniqueConstraint("slug", name=op.f("uq_beta_programs_slug")),
    )
    op.create_table(
        "beta_acceptances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_beta_acceptances_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["beta_programs.id"],
            name=op.f("fk_beta_acceptances_program_id_beta_programs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_beta_acceptances")),
    )
    with op.batch_alter_table("beta_acceptances", schema=None) as batch_op:
        batch_op.create_index(
            "ix_beta_acceptances_program_member", ["program_id", "member_id"], unique=False
        )

    op.create_table(
        "beta_categories",
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["categories.id"],
            name=op.f("fk_beta_categories_category_id_categories"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["beta_programs.id"],
            name=op.f("fk_beta_categories_program_id_beta_programs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("category_id", name=op.f("pk_beta_categories")),
    )
    with op.batch_alter_table("beta_categories", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_beta_categories_program_id"), ["program_id"], unique=False
        )

    op.create_table(
        "beta_flags",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("rollout", sa.Integer(), nullable=False),
        sa.Column("group_ids", sa.JSON(), nullable=False),
        sa.Column("killed", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["members.id"],
            name=op.f("fk_beta_flags_updated_by_id_members"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_beta_flags")),
    )
    op.create_table(
        "beta_open_groups",
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["groups.id"],
            name=op.f("fk_beta_open_groups_group_id_groups"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["beta_programs.id"],
            name=op.f("fk_beta_open_groups_program_id_beta_programs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("program_id", "group_id", name=op.f("pk_beta_open_groups")),
    )
    op.create_table(
        "beta_participants",
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("added_by_id", sa.Integer(), nullable=True),
        sa.Column("accepted_version", sa.Integer(), nullable=False),
        sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("welcomed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["added_by_id"],
            ["members.id"],
            name=op.f("fk_beta_participants_added_by_id_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_beta_participants_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["beta_programs.id"],
            name=op.f("fk_beta_participants_program_id_beta_programs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("program_id", "member_id", name=op.f("pk_beta_participants")),
    )
    with op.batch_alter_table("beta_participants", schema=None) as batch_op:
        batch_op.create_index("ix_beta_participants_member_id", ["member_id"], unique=False)

    op.create_table(
        "beta_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("admitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_beta_requests_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["beta_programs.id"],
            name=op.f("fk_beta_requests_program_id_beta_programs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_beta_requests")),
        sa.UniqueConstraint("program_id", "member_id", name=op.f("uq_beta_requests_program_id")),
    )
    with op.batch_alter_table("beta_requests", schema=None) as batch_op:
        batch_op.create_index(
            "ix_beta_requests_program_requested", ["program_id", "requested_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("beta_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_beta_requests_program_requested")

    op.drop_table("beta_requests")
    with op.batch_alter_table("beta_participants", schema=None) as batch_op:
        batch_op.drop_index("ix_beta_participants_member_id")

    op.drop_table("beta_participants")
    op.drop_table("beta_open_groups")
    op.drop_table("beta_flags")
    with op.batch_alter_table("beta_categories", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_beta_categories_program_id"))

    op.drop_table("beta_categories")
    with op.batch_alter_table("beta_acceptances", schema=None) as batch_op:
        batch_op.drop_index("ix_beta_acceptances_program_member")

    op.drop_table("beta_acceptances")
    op.drop_table("beta_programs")
    op.drop_table("beta_clock")
