"""Duplicate suppression on (subscription, event source, event id) for at-least-once delivery.

Redis (SET NX with a TTL) shares the memory between processes when REDIS_URL is set; a bounded
in-process LRU always records too, so losing Redis mid-run degrades to per-process dedupe instead
of failing deliveries. An event is marked only after it was handled (delivered or dead-lettered):
marking first would let a crash between mark and ack silently drop the redelivered copy.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis
import redis.asyncio

from shared.config import Settings, get_settings

log = logging.getLogger(__name__)
T = TypeVar("T")
AsyncCall = Callable[[redis.asyncio.Redis], Awaitable[T]]

# After a Redis error, skip Redis for this long so every event does not pay a connect timeout.
REDIS_RETRY_AFTER_SECONDS = 5.0
REDIS_TIMEOUT_SECONDS = 0.25


class LocalSeen:
    """Bounded, thread-safe LRU set of keys."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._keys: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def __contains__(self, key: str) -> bool:
        with self._lock:
            if key in self._keys:
                self._keys.move_to_end(key)
                return True
            return False

    def add(self, key: str) -> None:
        with self._lock:
            self._keys[key] = None
            self._keys.move_to_end(key)
            while len(self._keys) > self._capacity:
                self._keys.popitem(last=False)


class Deduper:
    def __init__(self, redis_url: str | None, key_prefix: str, ttl_seconds: int, local_capacity: int) -> None:
        self._redis = (
            redis.Redis.from_url(
                redis_url, socket_timeout=REDIS_TIMEOUT_SECONDS, socket_connect_timeout=REDIS_TIMEOUT_SECONDS
            )
            if redis_url
            else None
        )
        self._redis_url = redis_url
        self._async_redis: redis.asyncio.Redis | None = None  # made on the loop that first uses it
        self._prefix = f"{key_prefix}events:seen:"
        self._ttl_seconds = ttl_seconds
        self._local = LocalSeen(local_capacity)
        self._redis_down_until = 0.0

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Deduper:
        settings = settings or get_settings()
        return cls(
            settings.redis_url,
            settings.redis_key_prefix,
            settings.events_dedupe_ttl_seconds,
            settings.events_dedupe_local_size,
        )

    @staticmethod
    def key(subscription: str, source: str, event_id: str) -> str:
        # CloudEvents makes source + id unique, not id alone.
        return f"{subscription}|{source}|{event_id}"

    def seen(self, key: str) -> bool:
        if key in self._local:
            return True
        found = self._with_redis(lambda client: client.exists(self._prefix + key))
        return bool(found)

    def remember(self, key: str) -> None:
        self._local.add(key)
        self._with_redis(lambda client: client.set(self._prefix + key, b"1", nx=True, ex=self._ttl_seconds))

    async def seen_async(self, key: str) -> bool:
        """seen() for an event loop: waiting for Redis does not stop the loop's other deliveries."""
        if key in self._local:
            return True
        return bool(await self._with_async_redis(lambda client: client.exists(self._prefix + key)))

    async def remember_async(self, key: str) -> None:
        self._local.add(key)
        await self._with_async_redis(lambda client: client.set(self._prefix + key, b"1", nx=True, ex=self._ttl_seconds))

    def close(self) -> None:
        if self._redis is not None:
            self._redis.close()

    async def close_async(self) -> None:
        if self._async_redis is not None:
            await self._async_redis.aclose()
            self._async_redis = None

    async def _with_async_redis(self, call: AsyncCall[T]) -> T | None:
        if self._redis_url is None or time.monotonic() < self._redis_down_until:
            return None
        if self._async_redis is None:
            self._async_redis = redis.asyncio.Redis.from_url(
                self._redis_url, socket_timeout=REDIS_TIMEOUT_SECONDS, socket_connect_timeout=REDIS_TIMEOUT_SECONDS
            )
        try:
            return await call(self._async_redis)
        except redis.RedisError as error:
            self._redis_unavailable(error)
            return None

    def _with_redis(self, call: Callable[[redis.Redis], T]) -> T | None:
        if self._redis is None or time.monotonic() < self._redis_down_until:
            return None
        try:
            return call(self._redis)
        except redis.RedisError as error:
            self._redis_unavailable(error)
            return None

    def _redis_unavailable(self, error: redis.RedisError) -> None:
        self._redis_down_until = time.monotonic() + REDIS_RETRY_AFTER_SECONDS
        log.warning(
            "event dedupe: Redis unavailable (%s); using the in-process memory for %.0f s",
            error,
            REDIS_RETRY_AFTER_SECONDS,
        )
