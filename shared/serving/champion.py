"""The model of a process: the `champion` alias followed live, or one pinned version (MODEL_VERSION).

Following the alias (MODEL_VERSION unset, the local runtime): resolved lazily, reloaded in the
background when the alias moves. Pinned (a Knative revision the operator rolled out): exactly that
registry version, never re-checked and never swapped; readiness fails while it cannot load.

Requests never wait for a reload: the first request loads the model (there is nothing to serve
before), later ones get the current model while a background thread checks the alias every
`model_refresh_interval_seconds` and swaps in a new version only once it is fully loaded.

The cold path stays clear of mlflow and the lightgbm package: the alias is resolved over the
tracking server's REST API (`shared.serving.aliases`) and the version is read from its immutable
copy in object storage (`shared.serving.model_cache`). Only a version without a copy yet is loaded
through MLflow, and then copied for every later process. The embedded store has no REST API and
MlflowClient means importing mlflow, seconds of a cold start: there the first request is served by
the version the alias named when a process last asked (its hint beside the cached copies) and the
registry is asked at once in the background, so a promotion since then is served moments later, as
after any refresh.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.errors import Unavailable
from shared.metrics import MODEL_INFO, MODEL_LOADS
from shared.serving import aliases
from shared.serving.model_cache import VersionRef, read_alias_hint, read_version, write_alias_hint, write_version

if TYPE_CHECKING:
    from shared.ml.predictor import Predictor
    from shared.storage import ObjectStore

log = logging.getLogger("time2bet.champion")


class ModelUnavailable(Unavailable):
    """No model can be served yet (no champion, or the registry cannot be reached)."""


@dataclass(frozen=True)
class LoadedModel:
    name: str
    alias: str
    version: str
    predictor: Predictor

    def probabilities(self, features: dict[str, float]) -> list[float]:
        """Home, draw and away probabilities of one feature vector."""
        return self.predictor.predict_one(features)


class ChampionModel:
    def __init__(
        self,
        tracking_uri: str,
        name: str,
        alias: str = "champion",
        refresh_interval_s: float = 30.0,
        store: ObjectStore | None = None,
        pinned_version: str | None = None,
    ) -> None:
        self.tracking_uri = tracking_uri
        self.name = name
        self.alias = alias
        self.refresh_interval_s = refresh_interval_s
        self.store = store  # the version cache; None loads every version through MLflow
        self.pinned_version = pinned_version
        self._current: LoadedModel | None = None
        self._current_ref: VersionRef | None = None
        self._hinted: VersionRef | None = None  # what the alias hint says, as last read or written
        self._checked_at = 0.0
        self._load_lock = threading.Lock()
        self._refreshing = threading.Lock()

    def current(self) -> LoadedModel:
        model = self._current
        if model is None:
            with self._load_lock:
                if self._current is None:
                    hinted = self._from_hint()
                    if hinted is not None:
                        self._current, self._current_ref = hinted
                        self._check_in_background()  # the hint is not the registry's word
                    else:
                        ref = self._resolve()
                        self._current, self._current_ref = self._load(ref), ref
                        self._checked_at = time.monotonic()
            return self._current
        if self.pinned_version is not None:
            return model
        if time.monotonic() - self._checked_at >= self.refresh_interval_s:
            self._check_in_background()
        return model

    def _check_in_background(self) -> None:
        if self._refreshing.acquire(blocking=False):
            self._checked_at = time.monotonic()
            threading.Thread(target=self._refresh, name="champion-refresh", daemon=True).start()

    def _hints(self) -> bool:
        """Only where resolving means importing mlflow: following the alias in an embedded store."""
        return self.pinned_version is None and self.store is not None and not aliases.is_server(self.tracking_uri)

    def _from_hint(self) -> tuple[LoadedModel, VersionRef] | None:
        if not self._hints():
            return None
        assert self.store is not None
        self._hinted = read_alias_hint(self.store, self.name, self.alias)
        predictor = self._cached(self._hinted) if self._hinted is not None else None
        if self._hinted is None or predictor is None:
            return None
        return self._loaded(self._hinted, predictor, "object store, by the alias hint"), self._hinted

    @property
    def loaded_version(self) -> str | None:
        return self._current.version if self._current else None

    def _resolve(self) -> VersionRef:
        try:
            if self.pinned_version is not None:
                return aliases.pinned(self.tracking_uri, self.name, self.pinned_version)
            ref = aliases.resolve(self.tracking_uri, self.name, self.alias)
        except aliases.AliasUnresolved as exc:
            wanted = f"version {self.pinned_version}" if self.pinned_version is not None else f"{self.alias!r} model"
            raise ModelUnavailable(f"no {wanted} of {self.name!r} in MLflow ({exc})") from None
        except aliases.RegistryUnreachable as exc:
            raise ModelUnavailable(str(exc)) from None
        if self._hints() and ref != self._hinted:
            self._write_hint(ref)
        return ref

    def _write_hint(self, ref: VersionRef) -> None:
        assert self.store is not None
        try:
            write_alias_hint(self.store, self.alias, ref)
            self._hinted = ref
        except Exception as exc:  # a hint only saves the next cold start some time
            log.warning("cannot write the %s alias hint: %s", self.alias, exc)

    def _load(self, ref: VersionRef) -> LoadedModel:
        try:
            predictor, origin = self._cached(ref), "object store"
            if predictor is None:
                predictor, origin = self._from_mlflow(ref), "MLflow"
        except Exception as exc:
            MODEL_LOADS.labels("failed").inc()
            message = f"cannot load {self.name} version {ref.version}: {exc}"  # MLflow's errors quote the URI
            raise ModelUnavailable(aliases.redacted(message, self.tracking_uri)) from None
        return self._loaded(ref, predictor, origin)

    def _loaded(self, ref: VersionRef, predictor: Predictor, origin: str) -> LoadedModel:
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
