"""AsyncCache against the real Redis: writes go behind in one pipeline, a dead Redis is a counted miss."""

from __future__ import annotations

import asyncio

from shared.cache import AsyncCache, cache_from_settings
from shared.config import get_settings
from shared.metrics import CACHE
from tests.services import free_port


def counted(name: str, result: str) -> float:
    return CACHE.labels(name, result)._value.get()


def test_writes_are_queued_then_pipelined_and_read_back(configure, redis_url: str, redis_prefix: str) -> None:
    configure(REDIS_URL=redis_url, REDIS_KEY_PREFIX=redis_prefix)
    cache, blocking = AsyncCache(get_settings(), write_delay_s=0.05), cache_from_settings(get_settings())

    async def scenario() -> tuple[object, object, object]:
        for n in range(3):
            cache.set_json_later("probe", f"k{n}", [n, 0.5], ttl_s=60)
        not_yet = blocking.get_json("probe", "k0")  # queued, not written: the caller never waits
        await asyncio.sleep(0.3)
        written = await cache.get_json("probe", "k2")
        cache.set_json_later("probe", "last", "on close", ttl_s=60)
        await cache.aclose()  # flushes what is still queued
        return not_yet, written, blocking.get_json("probe", "last")

    not_yet, written, flushed_on_close = asyncio.run(scenario())
    assert not_yet is None and written == [2, 0.5] and flushed_on_close == "on close"


def test_redis_down_is_a_counted_miss_then_bypassed(configure) -> None:
    configure(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0", REDIS_SOCKET_TIMEOUT="0.2", REDIS_RETRY_AFTER="60")
    cache = AsyncCache(get_settings())
    errors, bypassed = counted("probe-down", "error"), counted("probe-down", "bypass")

    async def scenario() -> tuple[object, object]:
        first = await cache.get_json("probe-down", "k")  # connection refused
        second = await cache.get_json("probe-down", "k")  # inside the back-off: Redis not tried
        cache.set_json_later("probe-down", "k", 1, ttl_s=60)  # dropped, not queued
        await cache.aclose()
        return first, second

    assert asyncio.run(scenario()) == (None, None)
    assert counted("probe-down", "error") == errors + 1
    assert counted("probe-down", "bypass") == bypassed + 1


def test_reads_of_one_loop_turn_are_one_mget(configure, redis_url: str, redis_prefix: str) -> None:
    import redis

    configure(REDIS_URL=redis_url, REDIS_KEY_PREFIX=redis_prefix)
    for n in range(4):
        cache_from_settings(get_settings()).set_json("probe", f"k{n}", n, ttl_s=60)
    server = redis.Redis.from_url(redis_url)

    def mget_calls() -> int:
        return server.info("commandstats").get("cmdstat_mget", {}).get("calls", 0)

    cache = AsyncCache(get_settings())

    async def scenario() -> list[object]:
        try:
            return await asyncio.gather(*(cache.get_json("probe", f"k{n}") for n in (3, 0, 9, 1)))
        finally:
            await cache.aclose()

    before = mget_calls()
    assert asyncio.run(scenario()) == [3, 0, None, 1]  # each caller gets its own key's value
    assert mget_calls() == before + 1
