"""analytics thread views, moderation marks and weekly digests

Revision ID: analytics_0002
Revises: analytics_0001
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "analytics_0002"
down_revision: str | None = "analytics_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "analytics_thread_views",
        sa.Column("thread_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("views", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["threads.id"],
            name=op.f("fk_analytics_thread_views_thread_id_threads"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("thread_id", "day", name=op.f("pk_analytics_thread_views")),
    )
    with op.batch_alter_table("analytics_thread_views", schema=None) as batch_op:
        batch_op.create_index("ix_analytics_thread_views_day", ["day"], unique=False)

    op.create_table(
        "analytics_marks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_analytics_marks_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_marks")),
    )
    with op.batch_alter_table("analytics_marks", schema=None) as batch_op:
        batch_op.create_index("ix_analytics_marks_member_id", ["member_id"], unique=False)

    op.create_table(
        "analytics_digests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("tiles", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_digests")),
        sa.UniqueConstraint("week", name=op.f("uq_analytics_digests_week")),
    )


def downgrade() -> None:
    op.drop_table("analytics_digests")
    with op.batch_alter_table("analytics_marks", schema=None) as batch_op:
        batch_op.drop_index("ix_analytics_marks_member_id")
    op.drop_table("analytics_marks")
    with op.batch_alter_table("analytics_thread_views", schema=None) as batch_op:
        batch_op.drop_index("ix_analytics_thread_views_day")
    op.drop_table("analytics_thread_views")
