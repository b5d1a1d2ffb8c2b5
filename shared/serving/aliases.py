"""Which version an alias names, without importing mlflow where that can be avoided.

`import mlflow` and building an `MlflowClient` cost about two seconds of a cold start, for one
lookup. A tracking server answers it over its REST API (`GET /api/2.0/mlflow/registered-models/alias`);
the local SQLite store of the embedded defaults answers a read-only query. Any other tracking URI,
and any answer the fast paths cannot vouch for, goes through `MlflowClient` as before.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from urllib.parse import unquote, urlparse

from shared.config import get_settings
from shared.serving.model_cache import VersionRef

log = logging.getLogger("time2bet.aliases")

REST_PATH = "/api/2.0/mlflow/registered-models/alias"
TIMEOUT_S = 5.0
MISSING_CODES = {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}


class AliasUnresolved(LookupError):
    """The registry answered: the model or the alias does not exist."""


class RegistryUnreachable(RuntimeError):
    """The registry did not answer."""


def resolve(tracking_uri: str, name: str, alias: str) -> VersionRef:
    scheme = urlparse(tracking_uri).scheme.lower()
    if scheme in ("http", "https"):
        return resolve_over_rest(tracking_uri, name, alias)
    if scheme == "sqlite":
        found = resolve_in_sqlite(tracking_uri, name, alias)
        if found is not None:
            return found
    return resolve_with_client(tracking_uri, name, alias)


def _rest_options() -> dict[str, object]:
    """The credentials and TLS settings MlflowClient would use, from the settings object."""
    settings = get_settings()
    options: dict[str, object] = {}
    if settings.mlflow_tracking_token:
        options["headers"] = {"Authorization": f"Bearer {settings.mlflow_tracking_token.get_secret_value()}"}
    elif settings.mlflow_tracking_username and settings.mlflow_tracking_password:
        options["auth"] = (settings.mlflow_tracking_username, settings.mlflow_tracking_password.get_secret_value())
    if settings.mlflow_tracking_insecure_tls:
        options["verify"] = False
    elif settings.mlflow_tracking_server_cert_path:
        options["verify"] = settings.mlflow_tracking_server_cert_path
    return options


def resolve_over_rest(tracking_uri: str, name: str, alias: str) -> VersionRef:
    import httpx

    try:
        response = httpx.get(
            tracking_uri.rstrip("/") + REST_PATH,
            params={"name": name, "alias": alias},
            timeout=TIMEOUT_S,
            **_rest_options(),  # type: ignore[arg-type]
        )
    except httpx.HTTPError as exc:
        raise RegistryUnreachable(f"MLflow at {tracking_uri} unreachable: {type(exc).__name__}") from None
    if response.status_code == 200:
        version = response.json()["model_version"]
        return VersionRef(name, str(version["version"]), version.get("run_id") or "", version.get("source") or "")
    try:
        code = response.json().get("error_code", "")
    except ValueError:
        code = ""
    if code in MISSING_CODES:
        raise AliasUnresolved(code)
    raise RegistryUnreachable(f"MLflow at {tracking_uri} answered {response.status_code} {code}".rstrip())


def _sqlite_path(tracking_uri: str) -> Path | None:
    parsed = urlparse(tracking_uri)
    if parsed.netloc or parsed.query or not parsed.path.startswith("/"):
        return None  # only sqlite:///absolute/path: other forms go through MlflowClient
    return Path(unquote(parsed.path))


def _workspaces_configured() -> bool:
    settings = get_settings()
    return settings.mlflow_enable_workspaces or bool((settings.mlflow_workspace or "").strip())


def resolve_in_sqlite(tracking_uri: str, name: str, alias: str) -> VersionRef | None:
    """One indexed read of the local store; None whenever the answer is not clear-cut (no store
    yet, an unexpected schema, no row, several workspaces): MlflowClient then decides."""
    path = _sqlite_path(tracking_uri)
    if path is None or not path.is_file() or _workspaces_configured():
        return None
    try:
        connection = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=1.0)
        try:
            columns = {row[1] for row in connection.execute("PRAGMA table_info(registered_model_aliases)")}
            # MLflow 3 keys every registry row by workspace; without workspaces everything is in "default"
            workspace = " AND a.workspace = 'default' AND v.workspace = a.workspace" if "workspace" in columns else ""
            rows = connection.execute(
                "SELECT a.version, v.run_id, v.source FROM registered_model_aliases a "
                "JOIN model_versions v ON v.name = a.name AND v.version = a.version "
                f"WHERE a.name = ? AND a.alias = ?{workspace}",
                (name, alias),
            ).fetchall()
        finally:
            connection.close()
    except sqlite3.Error as exc:
        log.debug("local MLflow store not readable directly (%s): using MlflowClient", exc)
        return None
    if len(rows) != 1:
        return None
    version, run_id, source = rows[0]
    return VersionRef(name, str(version), run_id or "", source or "")


def resolve_with_client(tracking_uri: str, name: str, alias: str) -> VersionRef:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        version = MlflowClient(tracking_uri).get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        raise AliasUnresolved(str(exc.error_code)) from None
    except Exception as exc:
        raise RegistryUnreachable(f"MLflow at {tracking_uri} unreachable: {type(exc).__name__}") from None
    return VersionRef(name, str(version.version), version.run_id or "", version.source or "")
