"""The MLflow registry as the operator uses it: resolve aliases, check versions, move and tag.

Reads go through the platform's one alias resolver (shared.serving.aliases); writes (alias, tags)
through MlflowClient's public API. MlflowClient retries a dead server for minutes by default; the
operator sets MLflow's own retry variables (when the deployment has not) so an outage surfaces within
seconds as `RegistryUnreachable`, which the handlers turn into a kopf.TemporaryError with backoff.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mlflow import MlflowClient
from mlflow.environment_variables import MLFLOW_HTTP_REQUEST_MAX_RETRIES, MLFLOW_HTTP_REQUEST_TIMEOUT
from mlflow.exceptions import MlflowException

from shared.operator.plan import timestamp
from shared.serving import aliases

MISSING_CODES = {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}
PROMOTED_BY_TAG = "promoted_by"
PROMOTED_AT_TAG = "promoted_at"
ROLLBACK_REASON_TAG = "rollback_reason"
ROLLBACK_AT_TAG = "rolled_back_at"


class RegistryUnreachable(RuntimeError):
    """MLflow did not answer (or answered with a server error)."""


class VersionNotFound(LookupError):
    """MLflow answered: the model has no such version."""


def fail_fast() -> None:
    """No retries inside MlflowClient (kopf retries with backoff instead), unless the deployment chose."""
    if not MLFLOW_HTTP_REQUEST_MAX_RETRIES.defined:
        MLFLOW_HTTP_REQUEST_MAX_RETRIES.set(0)
    if not MLFLOW_HTTP_REQUEST_TIMEOUT.defined:
        MLFLOW_HTTP_REQUEST_TIMEOUT.set(10)


def _missing(exc: MlflowException) -> bool:
    return exc.error_code in MISSING_CODES


@dataclass(frozen=True)
class Promotion:
    model: str
    alias: str
    version: str
    previous_version: str | None


class Registry:
    def __init__(self, tracking_uri: str) -> None:
        fail_fast()
        self.tracking_uri = tracking_uri
        self._client = MlflowClient(tracking_uri, tracking_uri)

    def _unreachable(self, exc: Exception) -> RegistryUnreachable:
        message = f"MLflow at {self.tracking_uri} unreachable: {type(exc).__name__}"
        return RegistryUnreachable(aliases.redacted(message, self.tracking_uri))

    def resolve(self, model: str, alias: str) -> str | None:
        """The version `alias` names, None when the model or the alias does not exist."""
        try:
            return aliases.resolve(self.tracking_uri, model, alias).version
        except aliases.AliasUnresolved:
            return None
        except aliases.RegistryUnreachable as exc:
            raise RegistryUnreachable(str(exc)) from None

    def require_version(self, model: str, version: str) -> None:
        try:
            aliases.pinned(self.tracking_uri, model, version)
        except aliases.AliasUnresolved:
            raise VersionNotFound(f"model {model!r} has no version {version}") from None
        except aliases.RegistryUnreachable as exc:
            raise RegistryUnreachable(str(exc)) from None

    def promote(self, model: str, alias: str, version: str, who: str, when: datetime) -> Promotion | None:
        """Move `alias` to `version` and record who/when on the version; None when it is there already.

        VersionNotFound when the model has no such version: a caller needs no separate check."""
        previous = self.resolve(model, alias)
        if previous == version:
            return None
        self.require_version(model, version)
        try:
            self._client.set_model_version_tag(model, version, PROMOTED_BY_TAG, who)
            self._client.set_model_version_tag(model, version, PROMOTED_AT_TAG, timestamp(when))
            self._client.set_registered_model_alias(model, alias, version)
        except Exception as exc:
            raise self._unreachable(exc) from None
        return Promotion(model, alias, version, previous)

    def record_rollback(self, model: str, version: str, reason: str, when: datetime) -> None:
        try:
            self._client.set_model_version_tag(model, version, ROLLBACK_REASON_TAG, reason)
            self._client.set_model_version_tag(model, version, ROLLBACK_AT_TAG, timestamp(when))
        except MlflowException as exc:
            if not _missing(exc):
                raise self._unreachable(exc) from None
        except Exception as exc:
            raise self._unreachable(exc) from None
