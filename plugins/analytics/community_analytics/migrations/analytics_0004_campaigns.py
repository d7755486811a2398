"""analytics shares and clicks per source and campaign

Revision ID: analytics_0004
Revises: analytics_0003
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "analytics_0004"
down_revision: str | None = "analytics_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "analytics_campaigns",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("campaign", sa.String(length=100), nullable=False),
        sa.Column("thread_id", sa.Integer(), nullable=False),
        sa.Column("shares", sa.Integer(), nullable=False),
        sa.Column("clicks", sa.Integer(), nullable=False),
        sa.Column("member_clicks", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day", "source", "campaign", "thread_id", name=op.f("pk_analytics_campaigns")
        ),
    )
    with op.batch_alter_table("analytics_campaigns", schema=None) as batch_op:
        batch_op.create_index("ix_analytics_campaigns_day", ["day"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("analytics_campaigns", schema=None) as batch_op:
        batch_op.drop_index("ix_analytics_campaigns_day")
    op.drop_table("analytics_campaigns")
