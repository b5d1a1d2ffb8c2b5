"""Answers already computed, by model version and feature vector: each process's memory in front of Redis.

A feature vector's answer never changes for one model version, so a process may keep it: repeated
requests then skip Redis too. Redis shares answers between replicas; it is a cache that degrades
(shared/cache.py). Worker threads use the blocking client, the event loop the async one, whose
writes leave after the response.
"""

from __future__ import annotations

import threading

from cachetools import TTLCache

from shared.cache import AsyncCache, Cache, fingerprint
from shared.metrics import CACHE, child
from shared.serving.champion import LoadedModel

PREDICTION = "prediction"  # the Redis cache (dropped by cache-ops on new results and promotions)
PREDICTION_IN_MEMORY = "prediction_memory"  # each process's own, in front of Redis

Answer = list[float]  # home, draw, away


def cache_key(model: LoadedModel, features: dict[str, float]) -> str:
    """Model name, version and feature fingerprint: equal inputs share the answer."""
    return f"{model.name}:{model.version}:{fingerprint(features)}"


class PredictionCache:
    def __init__(self, cache: Cache, async_cache: AsyncCache, memory_size: int, ttl_s: int) -> None:
        self._cache, self._async_cache, self._ttl_s = cache, async_cache, ttl_s
        self._memory: TTLCache[str, Answer] = TTLCache(memory_size, ttl_s)
        self._lock = threading.Lock()

    def remembered(self, key: str) -> Answer | None:
        """The answer this process keeps for `key` (counted as a hit or miss of the memory tier)."""
        with self._lock:
            known = self._memory.get(key)
        child(CACHE, PREDICTION_IN_MEMORY, "hit" if known is not None else "miss").inc()
        return known

    def remember(self, key: str, probabilities: Answer) -> None:
        with self._lock:
            self._memory[key] = probabilities

    def stored(self, key: str) -> Answer | None:
        """Redis's answer, blocking: for worker threads and tasks."""
        return self._cache.get_json(PREDICTION, key)

    async def stored_on_loop(self, key: str) -> Answer | None:
        """Redis's answer for the event loop, which serves other requests while Redis answers."""
        return await self._async_cache.get_json(PREDICTION, key)

    def store(self, key: str, probabilities: Answer) -> None:
        self._cache.set_json(PREDICTION, key, probabilities, self._ttl_s)

    def store_later(self, key: str, probabilities: Answer) -> None:
        """From the event loop: written to Redis after the response is on its way."""
        self._async_cache.set_json_later(PREDICTION, key, probabilities, self._ttl_s)
