"""A plugin with a table of its own and the Alembic branch that makes it. Only the migration
tests load it: the suite's shared database never holds a test plugin's tables."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from community import hookimpl
from community.db import Base
from community.plugins import Manifest

MANIFEST = Manifest(
    name="ledger",
    version="1.0",
    description="Keeps entries in a table of its own.",
    api=">=1.0,<2",
    capabilities={"migrations"},
)


class Entry(Base):
    """Named ``ledger_...`` and migrated by the plugin's own branch."""

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(String(200))


@hookimpl
def register_migrations() -> str:
    return str(Path(__file__).parent / "ledger_migrations")
