"""core reactions: an index on created_at, for reading one day of reactions

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_reactions_created_at", "reactions", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_reactions_created_at", table_name="reactions")
