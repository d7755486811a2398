"""The Redis client of serve and worker processes (``community.db.create_redis``)."""

from __future__ import annotations

import asyncio
import os
import secrets

import pytest

from community.db import create_redis


@pytest.mark.skipif(
    not os.environ.get("COMMUNITY_TEST_REDIS_URL"), reason="needs COMMUNITY_TEST_REDIS_URL"
)
async def test_a_burst_beyond_the_redis_pool_waits_for_a_connection() -> None:
    """More Redis commands at once than the pool has connections queue for one (redis-py's
    default pool raised "Too many connections": 500s when 300 pages opened their streams)."""
    redis = create_redis(os.environ["COMMUNITY_TEST_REDIS_URL"], max_connections=3)
    key = f"test-burst-{secrets.token_hex(4)}"
    try:
        # Each BLPOP holds its connection for 0.2 s: ten of them on three connections.
        answers = await asyncio.gather(*(redis.blpop([key], timeout=0.2) for _ in range(10)))
        assert answers == [None] * 10
    finally:
        await redis.aclose()
