"""Redis as a cache that is never needed for correctness.

Short socket timeouts make a slow Redis a miss; after a failure Redis is skipped for a while so a
dead cache costs one timeout, not one per request. Every outcome is counted.

`Cache` blocks, for tasks and worker threads. `AsyncCache` is for code on an event loop: a Redis
round trip there must not stall every other request the loop is serving.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import struct
import threading
import time
from typing import Any

import redis
import redis.asyncio

from shared.config import Settings
from shared.metrics import CACHE, child

log = logging.getLogger("time2bet.cache")
REDIS_ERRORS = (redis.RedisError, OSError, asyncio.TimeoutError)


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
        except REDIS_ERRORS as exc:
            self._backoff.failed(name, exc)
            return None
        return _counted(name, raw)

    def set_json(self, name: str, key: str, value: Any, ttl_s: int) -> None:
        client = self._usable()
        if client is None:
            return
        try:
            client.set(f"{self._prefix}{name}:{key}", _encoded(value), ex=ttl_s)
        except REDIS_ERRORS as exc:
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
        except REDIS_ERRORS as exc:
            self._backoff.failed(name, exc)
            return 0


_Read = tuple[str, str, "asyncio.Future[Any | None]"]  # cache name, full key, where the value goes


def _answer(reads: list[_Read], values: list[Any | None]) -> None:
    for (_name, _key, answer), value in zip(reads, values, strict=True):
        if not answer.done():  # a request that went away cancelled its future
            answer.set_result(value)


class AsyncCache:
    """The same cache for an event loop. redis.asyncio connections belong to the loop that opened
    them, so the client is made on first use in a loop and `aclose()` ends it with that loop."""

    def __init__(self, settings: Settings, write_delay_s: float = 0.05) -> None:
        self._url = settings.redis_url
        self._timeout_s = settings.redis_socket_timeout_seconds
        self._prefix = settings.redis_key_prefix
        self._backoff = _Backoff(settings.redis_retry_after_seconds)
        self._client: redis.asyncio.Redis | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._write_delay_s = write_delay_s
        self._queued: dict[str, tuple[str, str, int]] = {}  # key -> (cache name, JSON, TTL)
        self._flush_timer: asyncio.TimerHandle | None = None
        self._reads: list[_Read] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def _usable(self) -> redis.asyncio.Redis | None:
        if self._url is None or not self._backoff.up():
            return None
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = redis.asyncio.Redis.from_url(
                self._url, socket_timeout=self._timeout_s, socket_connect_timeout=self._timeout_s
            )
            self._loop = loop
            # timers and reads of a loop that ended never complete
            self._flush_timer, self._queued, self._reads = None, {}, []
        return self._client

    async def get_json(self, name: str, key: str) -> Any | None:
        """Reads asked for in one turn of the loop (concurrent requests) go to Redis as one MGET."""
        if self._usable() is None:
            child(CACHE, name, "bypass").inc()
            return None
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Any | None] = loop.create_future()
        self._reads.append((name, f"{self._prefix}{name}:{key}", answer))
        if len(self._reads) == 1:
            loop.call_soon(self._read_batch)  # after the other requests this turn has started
        return await answer

    def _read_batch(self) -> None:
        reads, self._reads = self._reads, []
        client = self._usable()
        if client is None:  # Redis failed since these were asked for
            _answer(reads, [None] * len(reads))
            return
        self._track(asyncio.get_running_loop().create_task(self._mget(client, reads)))

    async def _mget(self, client: redis.asyncio.Redis, reads: list[_Read]) -> None:
        try:
            values = await client.mget([key for _name, key, _answer in reads])
        except REDIS_ERRORS as exc:
            for name in {name for name, _key, _answer in reads}:
                self._backoff.failed(name, exc)
            _answer(reads, [None] * len(reads))
        else:
            _answer(reads, [_counted(name, raw) for (name, _key, _answer), raw in zip(reads, values, strict=True)])

    def _track(self, task: asyncio.Task[None]) -> None:
        self._tasks.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(self._tasks.discard)

    def set_json_later(self, name: str, key: str, value: Any, ttl_s: int) -> None:
        """Queue a write: the caller has its answer already. Writes queued within `write_delay_s`
        go to Redis in one pipelined round trip, off the request path."""
        if self._usable() is None:
            return
        self._queued[f"{self._prefix}{name}:{key}"] = (name, _encoded(value), ttl_s)
        if self._flush_timer is None:
            self._flush_timer = asyncio.get_running_loop().call_later(self._write_delay_s, self._flush)

    def _flush(self) -> None:
        self._flush_timer = None
        client = self._usable()
        queued, self._queued = self._queued, {}
        if client is None or not queued:
            return
        self._track(asyncio.get_running_loop().create_task(self._write(client, queued)))

    async def _write(self, client: redis.asyncio.Redis, queued: dict[str, tuple[str, str, int]]) -> None:
        pipeline = client.pipeline(transaction=False)
        for key, (_name, encoded, ttl_s) in queued.items():
            pipeline.set(key, encoded, ex=ttl_s)
        try:
            await pipeline.execute()
        except REDIS_ERRORS as exc:
            for name in {name for name, _encoded, _ttl_s in queued.values()}:
                self._backoff.failed(name, exc)

    async def aclose(self) -> None:
        """Write what is queued and close the connections (on the loop that opened them)."""
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=self._timeout_s * 2)
        if self._client is not None:
            await self._client.aclose()
            self._client, self._loop = None, None


def fingerprint(values: dict[str, float]) -> str:
    """A hash of a feature vector, names included: equal features share a cache entry. The values
    are hashed as IEEE doubles (NaN included); the feature code fixes the names' order."""
    digest = hashlib.blake2b(",".join(values).encode(), digest_size=16)
    digest.update(struct.pack(f"{len(values)}d", *values.values()))
    return digest.hexdigest()


def cache_from_settings(settings: Settings) -> Cache:
    client = None
    if settings.redis_url:
        client = redis.Redis.from_url(
            settings.redis_url,
            socket_timeout=settings.redis_socket_timeout_seconds,
            socket_connect_timeout=settings.redis_socket_timeout_seconds,
            health_check_interval=30,
        )
    return Cache(client, settings.redis_key_prefix, settings.redis_retry_after_seconds)
