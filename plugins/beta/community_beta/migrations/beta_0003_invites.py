"""beta invite links that enrol into a program

Revision ID: beta_0003
Revises: beta_0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "beta_0003"
down_revision: str | None = "beta_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "beta_invites",
        sa.Column("invite_id", sa.Integer(), nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["invite_id"],
            ["invites.id"],
            name=op.f("fk_beta_invites_invite_id_invites"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["program_id"],
            ["beta_programs.id"],
            name=op.f("fk_beta_invites_program_id_beta_programs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("invite_id", name=op.f("pk_beta_invites")),
    )
    op.create_index("ix_beta_invites_program_id", "beta_invites", ["program_id"])
    op.create_table(
        "beta_invite_uses",
        sa.Column("invite_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["invite_id"],
            ["beta_invites.invite_id"],
            name=op.f("fk_beta_invite_uses_invite_id_beta_invites"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_beta_invite_uses_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("invite_id", "member_id", name=op.f("pk_beta_invite_uses")),
    )


def downgrade() -> None:
    op.drop_table("beta_invite_uses")
    op.drop_index("ix_beta_invites_program_id", table_name="beta_invites")
    op.drop_table("beta_invites")
