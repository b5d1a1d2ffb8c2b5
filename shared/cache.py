"""Redis as a cache that is never needed for correctness.

Short socket timeouts make a slow Redis a miss; after a failure Redis is skipped for a while so a
dead cache costs one timeout, not one per request. Every outcome is counted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from functools import lru_cache
from typing import Any

import redis

from shared.config import Settings, get_settings
from shared.metrics import CACHE

log = logging.getLogger("time2bet.cache")


class Cache:
    def __init__(self, client: redis.Redis | None, prefix: str, retry_after_s: float) -> None:
        self._client = client
        self._prefix = prefix
        self._retry_after_s = retry_after_s
        self._down_until = 0.0
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self._client is not None

    def _usable(self) -> redis.Redis | None:
        if self._client is None or time.monotonic() < self._down_until:
            return None
        return self._client

    def _failed(self, name: str, exc: Exception) -> None:
        CACHE.labels(name, "error").inc()
        with self._lock:
            if time.monotonic() >= self._down_until:
                log.warning("redis unavailable (%s): serving without cache for %.0f s", exc, self._retry_after_s)
            self._down_until = time.monotonic() + self._retry_after_s

    def get_json(self, name: str, key: str) -> Any | None:
        client = self._usable()
        if client is None:
            CACHE.labels(name, "bypass").inc()
            return None
        try:
            raw = client.get(f"{self._prefix}{name}:{key}")
        except (redis.RedisError, OSError) as exc:
            self._failed(name, exc)
            return None
        CACHE.labels(name, "hit" if raw is not None else "miss").inc()
        return json.loads(raw) if raw is not None else None

    def set_json(self, name: str, key: str, value: Any, ttl_s: int) -> None:
        client = self._usable()
        if client is None:
            return
        try:
            client.set(f"{self._prefix}{name}:{key}", json.dumps(value, separators=(",", ":")), ex=ttl_s)
        except (redis.RedisError, OSError) as exc:
            self._failed(name, exc)

    def delete_prefix(self, name: str) -> int:
        """Drop every key of one cache (e.g. predictions after new results); 0 when Redis is away."""
        client = self._usable()
        if client is None:
            return 0
        try:
            keys = list(client.scan_iter(match=f"{self._prefix}{name}:*", count=500))
            return client.delete(*keys) if keys else 0
        except (redis.RedisError, OSError) as exc:
            self._failed(name, exc)
            return 0


def fingerprint(values: dict[str, float]) -> str:
    """A stable hash of a feature vector: equal features share a cache entry."""
    canonical = json.dumps(sorted((k, round(float(v), 10)) for k, v in values.items()), separators=(",", ":"))
    return hashlib.blake2b(canonical.encode(), digest_size=16).hexdigest()


def cache_from_settings(settings: Settings) -> Cache:
    client = None
    if settings.redis_url:
        client = redis.Redis.from_url(
            settings.redis_url,
            socket_timeout=settings.redis_socket_timeout_s,
            socket_connect_timeout=settings.redis_socket_timeout_s,
            health_check_interval=30,
        )
    return Cache(client, settings.redis_key_prefix, settings.redis_retry_after_s)


@lru_cache(maxsize=1)
def get_cache() -> Cache:
    return cache_from_settings(get_settings())
