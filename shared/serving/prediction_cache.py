"""Answers already computed, by model version and feature vector, in each process's memory.

A feature vector's answer never changes for one model version, so a process may keep it and nothing
ever has to drop it: new results or odds make new features, a promotion a new version, and so new
keys. The least recently asked answers go first (PREDICTION_MEMORY_CACHE entries).

Until #19 a Redis tier stood behind this one, shared between replicas. Measured, it only cost: its key
is the feature vector, so a Redis hit saved the booster's 10-50 µs at the price of a round trip
(GET before the answer, SET after it: 230 µs a request in-process, and 40 µs of Redis CPU). Without it
POST /predict misses went from 1,481 to 2,887 req/s at one client and from 2,640 to 3,488 at eight
(`t2b bench serve`, same machine, same run).
"""

from __future__ import annotations

import struct
import threading

from cachetools import LRUCache

from shared.metrics import CACHE, child
from shared.serving.champion import LoadedModel

PREDICTION_IN_MEMORY = "prediction_memory"  # the CACHE metric's label for this tier

Answer = list[float]  # home, draw, away
Key = tuple[str, str, bytes]


def cache_key(model: LoadedModel, features: dict[str, float]) -> Key:
    """Model name, version and the feature values as IEEE doubles: equal inputs share the answer. Bytes,
    not floats, so that a missing feature (NaN, never equal to itself) still finds its answer; the
    feature code fixes the names and their order for a model."""
    return model.name, model.version, struct.pack(f"{len(features)}d", *features.values())


class PredictionCache:
    def __init__(self, memory_size: int) -> None:
        self._memory: LRUCache[Key, Answer] = LRUCache(memory_size)
        self._lock = threading.Lock()  # the event loop and worker threads share it

    def remembered(self, key: Key) -> Answer | None:
        """The answer this process keeps for `key` (counted as a hit or miss)."""
        with self._lock:
            known = self._memory.get(key)
        child(CACHE, PREDICTION_IN_MEMORY, "hit" if known is not None else "miss").inc()
        return known

    def remember(self, key: Key, probabilities: Answer) -> None:
        with self._lock:
            self._memory[key] = probabilities
