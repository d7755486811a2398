"""moderation thread settings and away moderators

Revision ID: moderation_0002
Revises: moderation_0001
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "moderation_0002"
down_revision: str | None = "moderation_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "moderation_threads",
        sa.Column("thread_id", sa.Integer(), nullable=False),
        sa.Column("slow_seconds", sa.Integer(), nullable=False),
        sa.Column("close_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("set_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["set_by_id"],
            ["members.id"],
            name=op.f("fk_moderation_threads_set_by_id_members"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["threads.id"],
            name=op.f("fk_moderation_threads_thread_id_threads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("thread_id", name=op.f("pk_moderation_threads")),
    )
    with op.batch_alter_table("moderation_threads", schema=None) as batch_op:
        batch_op.create_index("ix_moderation_threads_close_at", ["close_at"], unique=False)

    op.create_table(
        "moderation_away",
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_moderation_away_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_moderation_away")),
    )


def downgrade() -> None:
    op.drop_table("moderation_away")
    with op.batch_alter_table("moderation_threads", schema=None) as batch_op:
        batch_op.drop_index("ix_moderation_threads_close_at")

    op.drop_table("moderation_threads")
