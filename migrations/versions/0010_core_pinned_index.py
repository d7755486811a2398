"""core threads: a partial index of pinned threads (the home page lists them first; without it
PostgreSQL walked 100,000 threads by activity to find the two pinned: 10 ms a page)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_threads_pinned",
        "threads",
        ["last_posted_at"],
        postgresql_where=sa.text("pinned IS NOT NULL"),
        sqlite_where=sa.text("pinned IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_threads_pinned", table_name="threads")
