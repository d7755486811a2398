"""The database: engine, sessions, and the declarative ``Base`` every model inherits."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from sqlalchemy import DateTime, MetaData, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Every model's base, the core's and plugins' alike (so plugin tables may reference
    ``members.id``); each table records which package defined it, for migrations."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table = cls.__dict__.get("__table__")
        if table is not None:
            package = cls.__module__.split(".")[0]
            table.info.setdefault("package", package)


def core_tables() -> set[str]:
    """The tables the core's own models define (plugins' tables are theirs to migrate)."""
    return {
        table.name
        for table in Base.metadata.sorted_tables
        if table.info.get("package", "community") == "community"
    }


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on both backends (SQLite stores it naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def utcnow() -> datetime:
    return datetime.now(UTC)


def create_engine(database_url: str, pool_size: int = 10, max_overflow: int = 10) -> AsyncEngine:
    """An async engine; SQLite gets WAL, foreign keys and a busy timeout; PostgreSQL gets no JIT
    (compiling a query costs more than the forum's queries take: 0.85 s of a 1 s analytics
    report on the large demo) and a pool of ``pool_size`` connections, ``max_overflow`` more
    at busy times."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        connect_args = (
            {"server_settings": {"jit": "off"}} if url.get_driver_name() == "asyncpg" else {}
        )
        return create_async_engine(
            url,
            pool_pre_ping=True,
            pool_size=pool_size,
            max_overflow=max_overflow,
            connect_args=connect_args,
        )
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine.sync_engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine


def create_redis(url: str, max_connections: int = 100, wait: float = 10.0) -> Redis:
    """A Redis client whose pool makes callers wait, up to ``wait`` seconds, for one of its
    ``max_connections`` connections: redis-py's default pool fails at once when all are in use
    (a burst of 300 pages opening their live streams answered 500s)."""
    pool = BlockingConnectionPool.from_url(url, max_connections=max_connections, timeout=wait)
    return Redis.from_pool(pool)


def create_sessionmaker(
    engine: AsyncEngine, info: dict[str, Any] | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects after commit; ``info`` reaches every session (the app
    puts its event dispatch there, see ``community.events``)."""
    return async_sessionmaker(engine, expire_on_commit=False, info=info or {})


async def ping(engine: AsyncEngine) -> None:
    """Raise if the database does not answer."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
