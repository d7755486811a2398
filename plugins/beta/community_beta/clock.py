"""The plugin's revision counter: every write that can change a feature flag's answer (a
flag, a program's flags or status, who takes part, who accepted the terms) moves it on in
the same transaction, so each process's flag cache knows, by reading one row, whether what
it holds is still true. The commit is also told on the plugin's ``clock`` channel (Redis
pub/sub when configured), so every process's cache looks again at once."""

from __future__ import annotations

from sqlalchemy import event, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from community import plugins
from community_beta.models import Clock

ROW = 1
CHANNEL = "clock"
"""The plugin's channel every process listens to (``register_listeners``): a change was
committed somewhere, look again now."""
TICKED = "beta_ticked"
commits = 0
"""Changes committed in this process so far."""


async def tick(db: AsyncSession) -> None:
    """Move the revision on inside the caller's transaction (the row is made when missing)."""
    dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(Clock).values(id=ROW, revision=1)
    await db.execute(
        statement.on_conflict_do_update(
            index_elements=[Clock.id], set_={"revision": Clock.revision + 1}
        )
    )
    db.sync_session.info[TICKED] = True
    plugins.publish("beta", CHANNEL, "ticked", db=db)  # every process's caches look again


async def revision(db: AsyncSession) -> int:
    """The current revision (0 before any write)."""
    return int(await db.scalar(select(Clock.revision).where(Clock.id == ROW)) or 0)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    """A change committed in this process: its caches look again at once rather than
    waiting out their second."""
    global commits
    if session.info.pop(TICKED, False):
        commits += 1


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session: Session, previous_transaction: object) -> None:
    session.info.pop(TICKED, None)
