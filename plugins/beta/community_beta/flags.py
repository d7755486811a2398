"""Feature flags: ``feature_enabled(member, key)`` for plugins (and, through the plugin's own
pages, templates).

A flag is on for a member when it is not killed and the member is a participant (who
accepted the current terms) of a running program that lists the flag, or is in one of the
flag's groups, or falls in its rollout: a hash of the key and the member's id gives each
member a bucket from 0 to 99, and the flag is on for buckets below the percentage, so the
same member stays in or out and raising the percentage only adds members. The kill switch
turns it off for everyone at once, whatever else says.

Answers come from a snapshot of every flag held in each process. A change anywhere is
published on the plugin's ``clock`` channel (Redis pub/sub when configured): every process
hears it and compares the plugin's revision (``clock``) on its next answer, reloading when it
moved. As a safety net for a message lost while Redis reconnects (or a deployment without
Redis), a process also compares the revision at least once a second: a change reaches every
process within a second, usually within milliseconds.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from community import plugins
from community.accounts.models import Group, Member
from community.db import utcnow
from community.errors import ServiceError
from community_beta import clock
from community_beta.models import PRIVATE, PUBLIC, Flag, Participant, Program
from community_beta.programs import FLAG_RE, bad, groups_named, no_nul

FIELDS = ("description", "rollout", "groups", "killed")
RECHECK_SECONDS = 1.0
"""How stale a process's snapshot may be before it compares the revision again."""
RUNNING = (PRIVATE, PUBLIC)
"""Programs whose participants get their flags."""


def bucket(key: str, member_id: int) -> int:
    """The member's sticky place (0 to 99) in the rollout of flag ``key``."""
    digest = hashlib.sha256(f"{key}:{member_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100


@dataclass(frozen=True)
class Rule:
    """What a flag's answer depends on, as loaded."""

    rollout: int = 0
    groups: frozenset[int] = frozenset()
    participants: frozenset[int] = frozenset()
    killed: bool = False

    def on_for(self, key: str, member: Any) -> bool:
        if self.killed or member is None:
            return False
        member_id = int(getattr(member, "id", 0) or 0)
        if member_id in self.participants:
            return True
        if self.groups & {group.id for group in getattr(member, "groups", None) or []}:
            return True
        return self.rollout >= 100 or (member_id > 0 and bucket(key, member_id) < self.rollout)


@dataclass
class Cache:
    """One process's snapshot of every flag, and when it last compared the revision."""

    rules: dict[str, Rule] = field(default_factory=dict)
    revision: int = -1
    checked: float = float("-inf")
    commits: int = -1
    """``clock.commits`` when last loaded: a change this process made reloads at once."""

    def forget(self) -> None:
        """A change was committed somewhere: compare the revision on the next answer."""
        self.checked = float("-inf")

    def stale(self, now: float) -> bool:
        return self.commits != clock.commits or now - self.checked >= RECHECK_SECONDS

    async def refresh(self, db: AsyncSession) -> None:
        """Reload the snapshot when the revision moved (compared at most once a second)."""
        now = time.monotonic()
        if not self.stale(now):
            return
        commits = clock.commits
        current = await clock.revision(db)
        if current != self.revision:
            self.rules = await load(db)
            self.revision = current
        self.checked, self.commits = now, commits

    def enabled(self, member: Any, key: str) -> bool:
        """The answer from the snapshot as it is (no query)."""
        rule = self.rules.get(key)
        return rule is not None and rule.on_for(key, member)


async def load(db: AsyncSession) -> dict[str, Rule]:
    """Every flag's rule: the flags' own rows and the running programs' participants."""
    rules: dict[str, Rule] = {
        flag.key: Rule(flag.rollout, frozenset(flag.group_ids), frozenset(), flag.killed)
        for flag in await db.scalars(select(Flag))
    }
    listed: dict[str, set[int]] = {}
    running = list(await db.scalars(select(Program).where(Program.status.in_(RUNNING))))
    by_program = {program.id: program for program in running if program.flags}
    if by_program:
        rows = await db.execute(
            select(Participant.program_id, Participant.member_id)
            .join(Program, Program.id == Participant.program_id)
            .where(
                Participant.program_id.in_(list(by_program)),
                Participant.accepted_version == Program.terms_version,
            )
        )
        members: dict[int, set[int]] = {}
        for program_id, member_id in rows:
            members.setdefault(program_id, set()).add(member_id)
        for program in by_program.values():
            for key in program.flags:
                listed.setdefault(key, set()).update(members.get(program.id, set()))
    for key, member_ids in listed.items():
        rule = rules.get(key, Rule())
        rules[key] = Rule(rule.rollout, rule.groups, frozenset(member_ids), rule.killed)
    return rules


cache = Cache()
"""This process's snapshot."""


async def feature_enabled(member: Any, key: str, db: AsyncSession | None = None) -> bool:
    """Whether flag ``key`` is on for ``member`` (an unknown flag is off). Reads through this
    process's snapshot; ``db`` is used when the snapshot needs comparing (else a session of
    the running app)."""
    if cache.stale(time.monotonic()):
        if db is not None:
            await cache.refresh(db)
        else:
            async with plugins.session() as own:
                await cache.refresh(own)
    return cache.enabled(member, key)


def feature_enabled_now(member: Any, key: str) -> bool | None:
    """``feature_enabled`` without waiting, for templates and the core's ``feature_enabled``
    hook (which cannot wait): the snapshot as it is, None for a flag it does not hold. A
    stale snapshot is refreshed in the background, so it is at most a second behind (the
    first answers after a process starts may come before the first load)."""
    if cache.stale(time.monotonic()):
        _refresh_soon()
    if key not in cache.rules:
        return None
    return cache.enabled(member, key)


_refreshing: set[asyncio.Task[None]] = set()


def _refresh_soon() -> None:
    """Refresh the snapshot in a task of its own (one at a time), with a session of the
    running app."""
    if _refreshing:
        return

    async def refresh() -> None:
        async with plugins.session() as db:
            await cache.refresh(db)

    try:
        task = asyncio.get_running_loop().create_task(refresh())
    except RuntimeError:
        return  # no loop: nothing to refresh with
    _refreshing.add(task)
    task.add_done_callback(_refreshing.discard)


# ---------------------------------------------------------------------------------------------
# Changing flags (admins)


def check_key(key: Any) -> str:
    if not isinstance(key, str) or not FLAG_RE.fullmatch(key):
        raise bad(
            "invalid_key",
            "A flag key is lower-case letters, digits, _ . - (at most 64), like new-editor.",
            "key",
        )
    return key


def _rollout(value: Any) -> int:
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise bad(
            "invalid_rollout",
            f"rollout is a whole percentage from 0 to 100, not {value!r}.",
            "rollout",
        )
    return value


async def save(db: AsyncSession, admin: Member, key: Any, data: Any) -> Flag:
    """Create or change flag ``key`` from the fields ``data`` holds; commits (and is in the
    moderation plugin's audit log when that is enabled)."""
    key = check_key(key)
    if not isinstance(data, dict):
        raise bad("invalid_body", "Send a JSON object.")
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise bad("invalid_body", f"Unknown fields: {', '.join(unknown)}.")
    flag = await db.get(Flag, key)
    before = flag_json(flag, await group_names(db, flag.group_ids)) if flag is not None else {}
    if flag is None:
        flag = Flag(key=key, description="", rollout=0, group_ids=[], killed=False)
        db.add(flag)
    if "description" in data:
        if not isinstance(data["description"], str) or len(data["description"]) > 2000:
            raise bad("invalid_description", "description is text of at most 2,000 characters.")
        flag.description = no_nul(data["description"], "description").strip()
    if "rollout" in data:
        flag.rollout = _rollout(data["rollout"])
    if "groups" in data:
        flag.group_ids = [group.id for group in await groups_named(db, data["groups"], "groups")]
    if "killed" in data:
        if not isinstance(data["killed"], bool):
            raise bad("invalid_killed", "killed is true or false.", "killed")
        flag.killed = data["killed"]
    flag.updated_at, flag.updated_by_id = utcnow(), admin.id
    names = await group_names(db, flag.group_ids)
    audit(db, admin, key, before, flag_json(flag, names))
    await clock.tick(db)
    await db.commit()
    return flag


def audit(db: AsyncSession, admin: Member, key: str, before: dict[str, Any], after: Any) -> None:
    """Hand the change to the audit log (the moderation plugin's, when it is enabled)."""
    after = {k: v for k, v in after.items() if k != "updated_at"}
    before = {k: v for k, v in before.items() if k != "updated_at"}
    if before != after:
        plugins.audit(db, admin, "beta.flag", "flag", None, before=before, after=after, reason=key)


async def group_names(db: AsyncSession, group_ids: list[int]) -> list[str]:
    if not group_ids:
        return []
    return list(
        await db.scalars(select(Group.name).where(Group.id.in_(group_ids)).order_by(Group.name_key))
    )


def flag_json(flag: Flag, groups: list[str]) -> dict[str, Any]:
    return {
        "key": flag.key,
        "description": flag.description,
        "rollout": flag.rollout,
        "groups": groups,
        "killed": flag.killed,
        "updated_at": flag.updated_at.isoformat() if flag.updated_at else None,
    }


async def flag_by_key(db: AsyncSession, key: Any) -> Flag:
    flag = await db.get(Flag, check_key(key))
    if flag is None:
        raise ServiceError("not_found", f"No flag is called {key}.", 404)
    return flag


async def programs_listing(db: AsyncSession, key: str) -> list[str]:
    """The names of the programs that list flag ``key``."""
    return [
        p.name for p in await db.scalars(select(Program).order_by(Program.id)) if key in p.flags
    ]
