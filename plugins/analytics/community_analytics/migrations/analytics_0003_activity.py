"""analytics member days, thread days, hours and first responses

Revision ID: analytics_0003
Revises: analytics_0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "analytics_0003"
down_revision: str | None = "analytics_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "analytics_member_days",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("started", sa.Integer(), nullable=False),
        sa.Column("posts", sa.Integer(), nullable=False),
        sa.Column("replies", sa.Integer(), nullable=False),
        sa.Column("given", sa.Integer(), nullable=False),
        sa.Column("received", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_analytics_member_days_member_id_members"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_member_days")),
    )
    with op.batch_alter_table("analytics_member_days", schema=None) as batch_op:
        batch_op.create_index("ix_analytics_member_days_day", ["day"], unique=False)

    op.create_table(
        "analytics_thread_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("thread_id", sa.Integer(), nullable=False),
        sa.Column("posts", sa.Integer(), nullable=False),
        sa.Column("replies", sa.Integer(), nullable=False),
        sa.Column("reactions", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["threads.id"],
            name=op.f("fk_analytics_thread_days_thread_id_threads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("day", "thread_id", name=op.f("pk_analytics_thread_days")),
    )
    with op.batch_alter_table("analytics_thread_days", schema=None) as batch_op:
        batch_op.create_index("ix_analytics_thread_days_day", ["day"], unique=False)

    op.create_table(
        "analytics_hours",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("activity", sa.Integer(), nullable=False),
        sa.Column("replies", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "hour", "category_id", name=op.f("pk_analytics_hours")),
    )

    op.create_table(
        "analytics_responses",
        sa.Column("thread_id", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["threads.id"],
            name=op.f("fk_analytics_responses_thread_id_threads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("thread_id", name=op.f("pk_analytics_responses")),
    )


def downgrade() -> None:
    op.drop_table("analytics_responses")
    op.drop_table("analytics_hours")
    with op.batch_alter_table("analytics_thread_days", schema=None) as batch_op:
        batch_op.drop_index("ix_analytics_thread_days_day")
    op.drop_table("analytics_thread_days")
    with op.batch_alter_table("analytics_member_days", schema=None) as batch_op:
        batch_op.drop_index("ix_analytics_member_days_day")
    op.drop_table("analytics_member_days")
