"""Everything a process holds for its lifetime, built from one `Settings`: one `Services` per process.

Who builds it owns it and closes it: an HTTP function's app lifespan (Knative: one function per
process), the local server hosting every function (`t2b serve`, `t2b up`: one for all of them), an
event function's process on its first event, a test case. HTTP functions receive it through
FastAPI's dependency injection (`shared.web.deps.get_services`, so `app.dependency_overrides` swaps
it), event functions as the second argument of their work (`shared.tasks.handler.EventTask`).

Each member is built on first use, once, under the object's lock (first requests arrive together on
worker threads; the prediction log alone must start one writer process), and then read as a plain
attribute. A function builds only what it asks for: predict-async never imports the ML stack.
`close()` releases what was built, last built first.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from shared.config import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from shared.cache import Cache
    from shared.events.bus import EventHandler
    from shared.events.dedupe import Deduper
    from shared.events.publisher import Publisher
    from shared.jobs import JobStore
    from shared.prediction_log import PredictionLogWriter
    from shared.queries.fixtures import LatestBatch
    from shared.queries.model_card import ModelCards
    from shared.serving.batch_lookup import BatchPredictions
    from shared.serving.champion import ChampionModel
    from shared.serving.dataplane import DataPlane
    from shared.storage import ObjectStore

log = logging.getLogger("time2bet.services")
T = TypeVar("T")


class ServicesClosed(RuntimeError):
    """A member was asked for after close()."""


class _Member(Generic[T]):
    """A member built on first use; afterwards the instance attribute answers without this descriptor."""

    def __init__(self, build: Callable[[Services], T], close: Callable[[T], None] | None = None) -> None:
        self._build = build
        self._close = close
        self.name = build.__name__

    def __get__(self, services: Services | None, owner: type) -> T:
        if services is None:
            return self  # type: ignore[return-value]
        with services._lock:
            if self.name not in services.__dict__:
                if services._closed:
                    raise ServicesClosed(f"{self.name} asked for after the services were closed")
                value = self._build(services)
                services.__dict__[self.name] = value
                services._built.append((self.name, value, self._close))
            return services.__dict__[self.name]


def member(close: Callable[[Any], None] | None = None) -> Callable[[Callable[[Services], T]], _Member[T]]:
    def wrap(build: Callable[[Services], T]) -> _Member[T]:
        return _Member(build, close)

    return wrap


class Services:
    def __init__(self, settings: Settings, *, shares_interpreter: bool = False) -> None:
        self.settings = settings
        # Several functions in this interpreter (`t2b up`, `t2b serve`): process-wide tuning made for one
        # function alone (predict's collector settings) stays off.
        self.shares_interpreter = shares_interpreter
        self._lock = threading.RLock()
        self._built: list[tuple[str, Any, Callable[[Any], None] | None]] = []
        self._closed = False
        self._event_handlers: dict[str, EventHandler] = {}

    @classmethod
    def from_environment(cls, *, shares_interpreter: bool = False) -> Services:
        return cls(Settings(), shares_interpreter=shares_interpreter)

    def built(self, name: str) -> bool:
        """True once the member `name` exists (an event loop may then read it without waiting)."""
        return name in self.__dict__

    def host_event_functions(self, handlers: Mapping[str, EventHandler]) -> None:
        """The event functions this process hosts, by Knative Service name: without AMQP_URL the
        in-process bus delivers to them. Call before the publisher is first used: it keeps what it got."""
        if self.built("publisher"):
            raise RuntimeError("the publisher is built already: host the event functions first")
        self._event_handlers.update(handlers)

    # --- store and objects ------------------------------------------------------------------

    @member(close=lambda engine: engine.dispose())
    def engine(self) -> Engine:
        from shared.db.session import new_engine

        return new_engine(self.settings.resolved_database_url, self.settings.database_echo)

    @member()
    def store(self) -> ObjectStore:
        from shared.storage import store_from_settings

        return store_from_settings(self.settings)

    # --- Redis ------------------------------------------------------------------------------

    @member(close=lambda cache: cache.close())
    def cache(self) -> Cache:
        from shared.cache import cache_from_settings

        return cache_from_settings(self.settings)

    @member(close=lambda jobs: jobs.close())
    def job_store(self) -> JobStore:
        from shared.jobs import job_store_from_settings

        return job_store_from_settings(self.settings)

    # --- events -----------------------------------------------------------------------------

    @member(close=lambda deduper: deduper.close())
    def deduper(self) -> Deduper:
        from shared.events.dedupe import Deduper

        return Deduper.from_settings(self.settings)

    @member(close=lambda publisher: publisher.close())
    def publisher(self) -> Publisher:
        from shared.events.publisher import publisher_from_settings

        return publisher_from_settings(self.settings, self._event_handlers, self.deduper)

    # --- serving ----------------------------------------------------------------------------

    @member()
    def champion(self) -> ChampionModel:
        from shared.serving.champion import ChampionModel

        return ChampionModel(
            self.settings.resolved_mlflow_tracking_uri,
            self.settings.model_name,
            refresh_interval_s=self.settings.model_refresh_interval_seconds,
            store=self.store,
            pinned_version=self.settings.model_version,
        )

    @member(close=lambda writer: writer.close())
    def prediction_log(self) -> PredictionLogWriter:
        from shared.prediction_log import PredictionLogWriter

        writer = PredictionLogWriter(
            self.settings.resolved_database_url,
            self.settings.prediction_log_batch,
            self.settings.prediction_log_flush_seconds,
        )
        writer.start()
        return writer

    @member()
    def predictions(self) -> DataPlane:
        from shared.serving.dataplane import DataPlane

        return DataPlane.from_services(self)

    @member()
    def batch_predictions(self) -> BatchPredictions:
        from shared.serving.batch_lookup import BatchPredictions

        return BatchPredictions(self.store, self.settings.model_refresh_interval_seconds)

    @member()
    def latest_batch(self) -> LatestBatch:
        from shared.queries.fixtures import LatestBatch

        return LatestBatch(self.store, self.settings.model_refresh_interval_seconds)

    @member()
    def model_cards(self) -> ModelCards:
        from shared.queries.model_card import ModelCards

        return ModelCards(self.settings.resolved_mlflow_tracking_uri, self.settings.model_name)

    # --- the end ----------------------------------------------------------------------------

    def close(self) -> None:
        """Release every member built, last built first; a failure is logged and the rest still closed."""
        with self._lock:
            self._closed = True
            built, self._built = self._built, []
        for name, value, close in reversed(built):
            self.__dict__.pop(name, None)
            if close is None:
                continue
            try:
                close(value)
            except Exception:
                log.exception("closing %s failed", name)

    async def aclose(self) -> None:
        """close() from an event loop: first the loop's own Redis connections, on that loop."""
        if self.built("deduper"):
            await self.deduper.close_async()
        self.close()

    def __enter__(self) -> Services:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
