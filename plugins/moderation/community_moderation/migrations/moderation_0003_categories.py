"""moderation category moderators and approve-every-post

Revision ID: moderation_0003
Revises: moderation_0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "moderation_0003"
down_revision: str | None = "moderation_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "moderation_categories",
        sa.Column("category_id", sa.Integer(), nullable=False),
        sa.Column("moderator_group_id", sa.Integer(), nullable=True),
        sa.Column("approve_all", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["categories.id"],
            name=op.f("fk_moderation_categories_category_id_categories"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["moderator_group_id"],
            ["groups.id"],
            name=op.f("fk_moderation_categories_moderator_group_id_groups"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("category_id", name=op.f("pk_moderation_categories")),
    )
    with op.batch_alter_table("moderation_categories", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_moderation_categories_moderator_group_id"),
            ["moderator_group_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("moderation_categories", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_moderation_categories_moderator_group_id"))

    op.drop_table("moderation_categories")
