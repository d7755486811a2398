"""Alembic environment: async, for SQLite and PostgreSQL, run by `community db ...`."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from community.db import Base, create_engine
from community.models import load_models

load_models()
config = context.config
target_metadata = Base.metadata


SEARCH_OBJECTS = ("posts_fts", "ix_posts_search", "ix_threads_search")
"""Made by hand in the migration (see community.forum.search); autogenerate must ignore them."""


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    return not (name or "").startswith(SEARCH_OBJECTS)


def run_on(connection: Connection) -> None:
    context.configure(
        include_name=include_name,
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
