"""The champion model of a process: resolved lazily, reloaded in the background when the alias moves.

Requests never wait for a reload: the first request loads the model (there is nothing to serve
before), later ones get the current model while a background thread checks the alias every
`model_refresh_interval_s` and swaps in a new version only once it is fully loaded.

The cold path stays clear of mlflow and the lightgbm package: the alias is resolved over the
tracking server's REST API (`shared.serving.aliases`) and the version is read from its immutable
copy in object storage (`shared.serving.model_cache`). Only a version without a copy yet is loaded
through MLflow, and then copied for every later process.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.metrics import MODEL_INFO, MODEL_LOADS
from shared.serving import aliases
from shared.serving.model_cache import VersionRef, read_version, write_version

if TYPE_CHECKING:
    from shared.ml.predictor import Predictor
    from shared.storage import ObjectStore

log = logging.getLogger("time2bet.champion")


class ModelUnavailable(RuntimeError):
    """No model can be served yet (no champion, or the registry cannot be reached)."""


@dataclass(frozen=True)
class LoadedModel:
    name: str
    alias: str
    version: str
    predictor: Predictor


class ChampionModel:
    def __init__(
        self,
        tracking_uri: str,
        name: str,
        alias: str = "champion",
        refresh_interval_s: float = 30.0,
        store: ObjectStore | None = None,
    ) -> None:
        self.tracking_uri = tracking_uri
        self.name = name
        self.alias = alias
        self.refresh_interval_s = refresh_interval_s
        self.store = store  # the version cache; None loads every version through MLflow
        self._current: LoadedModel | None = None
        self._current_ref: VersionRef | None = None
        self._checked_at = 0.0
        self._load_lock = threading.Lock()
        self._refreshing = threading.Lock()

    def current(self) -> LoadedModel:
        model = self._current
        if model is None:
            with self._load_lock:
                if self._current is None:
                    ref = self._resolve()
                    self._current, self._current_ref = self._load(ref), ref
                    self._checked_at = time.monotonic()
            return self._current
        if time.monotonic() - self._checked_at >= self.refresh_interval_s and self._refreshing.acquire(blocking=False):
            self._checked_at = time.monotonic()
            threading.Thread(target=self._refresh, name="champion-refresh", daemon=True).start()
        return model

    @property
    def loaded_version(self) -> str | None:
        return self._current.version if self._current else None

    def _resolve(self) -> VersionRef:
        try:
            return aliases.resolve(self.tracking_uri, self.name, self.alias)
        except aliases.AliasUnresolved as exc:
            raise ModelUnavailable(f"no {self.alias!r} model for {self.name!r} in MLflow ({exc})") from None
        except aliases.RegistryUnreachable as exc:
            raise ModelUnavailable(str(exc)) from None

    def _resolve_version(self) -> str:
        return self._resolve().version

    def _load(self, ref: VersionRef) -> LoadedModel:
        try:
            predictor, origin = self._cached(ref), "object store"
            if predictor is None:
                predictor, origin = self._from_mlflow(ref), "MLflow"
        except Exception as exc:
            MODEL_LOADS.labels("failed").inc()
            raise ModelUnavailable(f"cannot load {self.name} version {ref.version}: {exc}") from None
        MODEL_LOADS.labels("loaded").inc()
        MODEL_INFO.info({"name": self.name, "alias": self.alias, "version": ref.version})
        log.info("serving %s version %s (%s) from %s", self.name, ref.version, self.alias, origin)
        return LoadedModel(self.name, self.alias, ref.version, predictor)

    def _cached(self, ref: VersionRef) -> Predictor | None:
        if self.store is None:
            return None
        try:
            return read_version(self.store, ref)
        except Exception as exc:  # the cache is an optimisation: MLflow stays the source of truth
            log.warning("cannot read the cached %s version %s (%s): loading it from MLflow", ref.name, ref.version, exc)
            return None

    def _from_mlflow(self, ref: VersionRef) -> Predictor:
        """The version through MLflow, copied to the cache for the next process; served from the same
        model string the copy holds, so both paths give the same probabilities."""
        from shared.ml.predictor import Predictor
        from shared.ml.registry import load_predictor
        from shared.serving.booster import NativeBooster

        loaded = load_predictor(self.name, ref.version, self.tracking_uri)
        model_str, config = loaded.booster.model_to_string(), loaded.config()
        if self.store is not None:
            try:
                write_version(self.store, ref, model_str, config)
            except Exception as exc:
                log.warning("cannot cache %s version %s: %s", ref.name, ref.version, exc)
        return Predictor.from_config(NativeBooster(model_str), config, version=ref.version)

    def _refresh(self) -> None:
        try:
            ref = self._resolve()
            if self._current is None or ref != self._current_ref:
                model = self._load(ref)
                self._current, self._current_ref = model, ref
        except ModelUnavailable as exc:
            log.warning("keeping version %s: %s", self.loaded_version, exc)
        finally:
            self._refreshing.release()
