"""Alembic environment: async, for SQLite and PostgreSQL, run by `community db ...`."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection

from community.db import Base, core_tables, create_engine
from community.models import load_models

load_models()
config = context.config
target_metadata = Base.metadata
CORE_TABLES = core_tables()


SEARCH_OBJECTS = ("posts_fts", "ix_posts_search", "ix_threads_search", "search_vector")
"""Made by hand in the migration (see community.forum.search); autogenerate must ignore them."""


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    return not (name or "").startswith(SEARCH_OBJECTS)


def owns(table: str) -> bool:
    """Whether this history owns ``table``: a plugin's, the tables named ``<plugin>_...``;
    the core's, the tables its own models define (a plugin's, installed or not, are not)."""
    target = config.attributes.get("target")
    if target is not None and target.prefix is not None:
        return table.startswith(target.prefix)
    return table in CORE_TABLES or table == "alembic_version"


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, other: Any) -> bool:
    table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
    return table is None or owns(table)


def run_on(connection: Connection) -> None:
    target = config.attributes.get("target")
    context.configure(
        include_name=include_name,
        include_object=include_object,
        version_table=target.version_table if target is not None else "alembic_version",
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_online() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_on)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("community migrations run online only: use `community db upgrade`")
asyncio.run(run_online())
