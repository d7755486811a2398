"""Fixed-window rate limits shared by every process: Redis INCR, or in-process when embedded."""

from __future__ import annotations

import time
from dataclasses import dataclass

from redis.asyncio import Redis

from community.errors import ServiceError


@dataclass(frozen=True)
class Limit:
    count: int
    seconds: int


LIMITS: dict[str, Limit] = {
    "signin_ip": Limit(30, 300),
    "signin_account": Limit(10, 900),
    "register_ip": Limit(10, 3600),
    "invite_ip": Limit(60, 600),
    "post": Limit(20, 60),
    "thread": Limit(10, 600),
    "react": Limit(60, 60),
    "search": Limit(30, 60),
    "preview": Limit(120, 60),
    "campaign_ip": Limit(30, 60),
}
"""The named limits; tests and operators read them here."""


class RateLimiter:
    def __init__(self, redis: Redis | None = None, namespace: str = "community") -> None:
        self._redis = redis
        self._namespace = namespace
        self._windows: dict[str, tuple[int, float]] = {}

    async def hit(self, name: str, key: str, limit: Limit | None = None) -> None:
        """Count one attempt; raise ServiceError 429 with ``retry_after`` past the limit
        (``LIMITS[name]`` unless ``limit`` is given: plugins name their own)."""
        limit = limit or LIMITS[name]
        now = time.time()
        window = int(now // limit.seconds)
        retry_after = max(1, int((window + 1) * limit.seconds - now))
        full_key = f"{self._namespace}:rl:{name}:{key.lower()}:{window}"
        if self._redis is not None:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(full_key)
                pipe.expire(full_key, limit.seconds + 1)
                count, _ = await pipe.execute()
        else:
            count = self._windows.get(full_key, (0, 0.0))[0] + 1
            self._windows[full_key] = (count, now + limit.seconds)
            if len(self._windows) > 10_000:
                self._windows = {k: v for k, v in self._windows.items() if v[1] > now}
        if count > limit.count:
            raise ServiceError(
                "rate_limited",
                f"Too many attempts. Try again in {retry_after} seconds.",
                429,
                retry_after=retry_after,
            )
