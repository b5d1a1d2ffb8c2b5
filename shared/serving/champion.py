"""The champion model of a process: resolved lazily, reloaded in the background when the alias moves.

Requests never wait for a reload: the first request loads the model (there is nothing to serve
before), later ones get the current model while a background thread checks the alias every
`model_refresh_interval_s` and swaps in a new version only once it is fully loaded.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.metrics import MODEL_INFO, MODEL_LOADS

if TYPE_CHECKING:
    from shared.ml.registry import Predictor

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
    def __init__(self, tracking_uri: str, name: str, alias: str = "champion", refresh_interval_s: float = 30.0) -> None:
        self.tracking_uri = tracking_uri
        self.name = name
        self.alias = alias
        self.refresh_interval_s = refresh_interval_s
        self._current: LoadedModel | None = None
        self._checked_at = 0.0
        self._load_lock = threading.Lock()
        self._refreshing = threading.Lock()

    def current(self) -> LoadedModel:
        model = self._current
        if model is None:
            with self._load_lock:
                if self._current is None:
                    self._current = self._load()
                    self._checked_at = time.monotonic()
            return self._current
        if time.monotonic() - self._checked_at >= self.refresh_interval_s and self._refreshing.acquire(blocking=False):
            self._checked_at = time.monotonic()
            threading.Thread(target=self._refresh, name="champion-refresh", daemon=True).start()
        return model

    @property
    def loaded_version(self) -> str | None:
        return self._current.version if self._current else None

    def _resolve_version(self) -> str:
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException

        try:
            version = MlflowClient(self.tracking_uri).get_model_version_by_alias(self.name, self.alias)
        except MlflowException as exc:
            raise ModelUnavailable(f"no {self.alias!r} model for {self.name!r} in MLflow ({exc.error_code})") from None
        except Exception as exc:
            raise ModelUnavailable(f"MLflow at {self.tracking_uri} unreachable: {type(exc).__name__}") from None
        return str(version.version)

    def _load(self, version: str | None = None) -> LoadedModel:
        from shared.ml.registry import load_predictor

        version = version or self._resolve_version()
        try:
            predictor = load_predictor(self.name, version, self.tracking_uri)
        except Exception as exc:
            MODEL_LOADS.labels("failed").inc()
            raise ModelUnavailable(f"cannot load {self.name} version {version}: {exc}") from None
        MODEL_LOADS.labels("loaded").inc()
        MODEL_INFO.info({"name": self.name, "alias": self.alias, "version": version})
        log.info("serving %s version %s (%s)", self.name, version, self.alias)
        return LoadedModel(self.name, self.alias, version, predictor)

    def _refresh(self) -> None:
        try:
            version = self._resolve_version()
            if self._current is None or version != self._current.version:
                self._current = self._load(version)
        except ModelUnavailable as exc:
            log.warning("keeping version %s: %s", self.loaded_version, exc)
        finally:
            self._refreshing.release()
