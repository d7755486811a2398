"""core jobs

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNFINISHED = sa.text("state IN ('pending', 'running')")


def upgrade() -> None:
    op.create_table(
        "job_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("run_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locked_by", sa.String(length=100), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("relayed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_outbox")),
    )
    with op.batch_alter_table("job_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_job_outbox_due", ["state", "run_after"], unique=False)
        batch_op.create_index(batch_op.f("ix_job_outbox_failed_at"), ["failed_at"], unique=False)
        batch_op.create_index(
            "uq_job_outbox_key",
            ["key"],
            unique=True,
            sqlite_where=UNFINISHED,
            postgresql_where=UNFINISHED,
        )

    op.create_table(
        "job_schedule_runs",
        sa.Column("schedule", sa.String(length=200), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("schedule", "due_at", name=op.f("pk_job_schedule_runs")),
    )


def downgrade() -> None:
    op.drop_table("job_schedule_runs")
    with op.batch_alter_table("job_outbox", schema=None) as batch_op:
        batch_op.drop_index("uq_job_outbox_key")
        batch_op.drop_index(batch_op.f("ix_job_outbox_failed_at"))
        batch_op.drop_index("ix_job_outbox_due")
    op.drop_table("job_outbox")
