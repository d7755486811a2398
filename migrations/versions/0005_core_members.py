"""core members: accounts waiting for an admin's approval

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("pending_reason", sa.Text(), nullable=True))
    # Everyone who had an account before gates could hold one was let in when they joined.
    op.execute("UPDATE members SET approved_at = created_at")


def downgrade() -> None:
    # Plain DROP COLUMN (SQLite 3.35+), like 0004: no batch rebuild of a table many others
    # reference.
    op.execute("ALTER TABLE members DROP COLUMN pending_reason")
    op.execute("ALTER TABLE members DROP COLUMN approved_at")
