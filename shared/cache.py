"""Redis as a cache that is never needed for correctness.

Short socket timeouts make a slow Redis a miss; after a failure Redis is skipped for a while so a
dead cache costs one timeout, not one per request. Every outcome is counted.

`Cache` blocks: tasks and worker threads use it; nothing on an event loop asks Redis per request.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from shared.config import Settings
from shared.metrics import CACHE, child

if TYPE_CHECKING:  # imported with the first client: without REDIS_URL a process never loads it
    import redis

log = logging.getLogger("time2bet.cache")


@functools.cache
def _redis_errors() -> tuple[type[BaseException], ...]:
    """What a failing Redis raises (evaluated only when something was raised: a client exists)."""
    import redis

    return (redis.RedisError, OSError, asyncio.TimeoutError)


class _Backoff:
    """Skips Redis for `retry_after_s` after a failure, and logs the outage once."""

    def __init__(self, retry_after_s: float) -> None:
        self._retry_after_s = retry_after_s
        self._down_until = 0.0
        self._lock = threading.Lock()

    def up(self) -> bool:
        return time.monotonic() >= self._down_until

    def failed(self, name: str, exc: BaseException) -> None:
        child(CACHE, name, "error").inc()
        with self._lock:
            if time.monotonic() >= self._down_until:
                log.warning("redis unavailable (%s): serving without cache for %.0f s", exc, self._retry_after_s)
            self._down_until = time.monotonic() + self._retry_after_s


def _counted(name: str, raw: bytes | None) -> Any | None:
    child(CACHE, name, "hit" if raw is not None else "miss").inc()
    return json.loads(raw) if raw is not None else None


def _encoded(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


class Cache:
    def __init__(self, client: redis.Redis | None, prefix: str, retry_after_s: float) -> None:
        self._client = client
        self._prefix = prefix
        self._backoff = _Backoff(retry_after_s)

    @property
    def enabled(self) -> bool:
        return self._client is not None

    def _usable(self) -> redis.Redis | None:
        return self._client if self._client is not None and self._backoff.up() else None

    def get_json(self, name: str, key: str) -> Any | None:
        client = self._usable()
        if client is None:
            child(CACHE, name, "bypass").inc()
            return None
        try:
            raw = client.get(f"{self._prefix}{name}:{key}")
        except _redis_errors() as exc:
            self._backoff.failed(name, exc)
            return None
        return _counted(name, raw)

    def set_json(self, name: str, key: str, value: Any, ttl_s: int) -> None:
        client = self._usable()
        if client is None:
            return
        try:
            client.set(f"{self._prefix}{name}:{key}", _encoded(value), ex=ttl_s)
        except _redis_errors() as exc:
            self._backoff.failed(name, exc)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def delete_prefix(self, name: str) -> int:
        """Drop every key of one cache (e.g. predictions after new results); 0 when Redis is away."""
        client = self._usable()
        if client is None:
            return 0
        try:
            keys = list(client.scan_iter(match=f"{self._prefix}{name}:*", count=500))
            return client.delete(*keys) if keys else 0
        except _redis_errors() as exc:
            self._backoff.failed(name, exc)
            return 0


def cache_from_settings(settings: Settings) -> Cache:
    client = None
    if settings.redis_url:
        import redis

        client = redis.Redis.from_url(
            settings.redis_url,
            socket_timeout=settings.redis_socket_timeout_seconds,
            socket_connect_timeout=settings.redis_socket_timeout_seconds,
            health_check_interval=30,
        )
    return Cache(client, settings.redis_key_prefix, settings.redis_retry_after_seconds)
