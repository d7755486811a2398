"""The migrations against the test database (PostgreSQL when COMMUNITY_TEST_DATABASE_URL is set).

``community.migrate`` runs its own event loop, so these tests are plain functions.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from alembic.util import CommandError
from sqlalchemy import inspect

from community import migrate
from community.db import core_tables, create_engine
from community.settings import Settings


def table_names(database_url: str) -> set[str]:
    async def names() -> set[str]:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as connection:
                return set(await connection.run_sync(lambda sync: inspect(sync).get_table_names()))
        finally:
            await engine.dispose()

    return asyncio.run(names())


def test_models_and_migrations_agree(settings: Settings) -> None:
    migrate.check(settings.database_url)


def test_downgrade_to_base_and_upgrade_again(settings: Settings, app: Any) -> None:
    """From empty tables (the ``app`` fixture deletes every row): dropping a table that other
    tests' rows still point at would fail on foreign keys, whatever the migrations say."""
    url = settings.database_url
    model_tables = core_tables()
    assert "members" in model_tables
    try:
        assert migrate.is_current(url)
        assert model_tables <= table_names(url)

        migrate.downgrade(url, "base")
        assert not migrate.is_current(url)
        assert "(head)" not in migrate.current(url)  # the core's and plugins' histories
        left = table_names(url)
        assert "members" not in left
        assert not model_tables & left, f"downgrade left {model_tables & left}"
        # `check` refuses a database that is behind instead of reporting a false agreement.
        with pytest.raises(CommandError):
            migrate.check(url)

        migrate.upgrade(url)
        assert migrate.is_current(url)
        assert "(head)" in migrate.current(url)
        assert model_tables <= table_names(url)
        migrate.check(url)
    finally:
        # Other tests share this database: leave it at head whatever happened above.
        migrate.upgrade(url)
    assert migrate.is_current(url)
