"""core invites: a message for the invitee, a landing page, and existing members accepting

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("invites") as batch:
        batch.add_column(sa.Column("message", sa.Text(), nullable=True))
        batch.add_column(sa.Column("landing", sa.String(200), nullable=True))
    op.create_table(
        "invite_acceptances",
        sa.Column(
            "invite_id",
            sa.Integer(),
            sa.ForeignKey("invites.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "member_id",
            sa.Integer(),
            sa.ForeignKey("members.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_invite_acceptances_member_id", "invite_acceptances", ["member_id"])


def downgrade() -> None:
    op.drop_index("ix_invite_acceptances_member_id", table_name="invite_acceptances")
    op.drop_table("invite_acceptances")
    with op.batch_alter_table("invites") as batch:
        batch.drop_column("landing")
        batch.drop_column("message")
