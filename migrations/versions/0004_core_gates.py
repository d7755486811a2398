"""core gates: posts and threads held for review

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("posts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("held_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("held_reason", sa.Text(), nullable=True))
    with op.batch_alter_table("threads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("held_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+): a batch rebuild of threads would trip the search
    # triggers that name it.
    op.execute("ALTER TABLE threads DROP COLUMN held_at")
    op.execute("ALTER TABLE posts DROP COLUMN held_reason")
    op.execute("ALTER TABLE posts DROP COLUMN held_at")
