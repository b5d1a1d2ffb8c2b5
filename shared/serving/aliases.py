"""Which registry version to serve, through MLflow's public API only (REST or MlflowClient).

`resolve(tracking_uri, name, alias)` is the one alias resolver of the platform: serving
(ChampionModel), the registry commands (shared.ml.registry.resolve_alias), the readiness probe and
the ModelBinding operator ask it. `pinned(tracking_uri, name, version)` is the same answer for an
exact version (MODEL_VERSION).

A tracking server (http/https) is asked over MLflow's documented REST API without importing mlflow:
that import costs seconds of a cold start, for one lookup. Any other tracking URI (the embedded
local store) goes through `MlflowClient`: in this process when it has imported mlflow already (the
registry commands, training), else in a child interpreter (`python -m shared.serving.aliases`). A
serving process that imported mlflow would carry ~150 MB more for good, and its background alias
check would hold the GIL for the seconds the import takes, while requests wait. A SQLite store is
asked again only once its files changed: nothing else can have moved an alias.
"""

from __future__ import annotations

import base64
import dataclasses
import http.client
import json
import logging
import os
import ssl
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlencode, urlparse, urlsplit, urlunsplit

from shared.config import get_settings
from shared.errors import Unavailable
from shared.serving.model_cache import VersionRef

log = logging.getLogger("time2bet.serving.aliases")

ALIAS_PATH = "/api/2.0/mlflow/registered-models/alias"
VERSION_PATH = "/api/2.0/mlflow/model-versions/get"
TIMEOUT_S = 5.0
# what MLflow answers for a model, alias or version that does not exist
MISSING_CODES = {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}


def redacted(text: str, tracking_uri: str) -> str:
    """`text` without the password `tracking_uri` may carry in its user info (`http://user:password@host`):
    messages name the server, and MLflow's own errors quote the URL whole. They end up in 503 bodies,
    readiness reports and logs."""
    password = urlsplit(tracking_uri).password
    return text.replace(password, "***") if password else text


class AliasUnresolved(LookupError):
    """The registry answered: the model, the alias or the version does not exist."""


class RegistryUnreachable(Unavailable):
    """The registry did not answer (503 + Retry-After for HTTP, exit code 75 for the CLI)."""


def resolve(tracking_uri: str, name: str, alias: str) -> VersionRef:
    """The version `alias` of registered model `name` names now.

    One registry read, no state: call it again to notice an alias that moved. Raises
    AliasUnresolved when the registry answers that the model or alias does not exist and
    RegistryUnreachable when it does not answer (retry later).
    """
    if is_server(tracking_uri):
        return _over_rest(tracking_uri, ALIAS_PATH, {"name": name, "alias": alias})
    return _from_local_store(tracking_uri, name, ALIAS, alias)


def pinned(tracking_uri: str, name: str, version: str) -> VersionRef:
    """Version `version` of registered model `name` (run and source, for the model cache); errors as resolve()."""
    if is_server(tracking_uri):
        return _over_rest(tracking_uri, VERSION_PATH, {"name": name, "version": version})
    return _from_local_store(tracking_uri, name, VERSION, version)


def is_server(tracking_uri: str) -> bool:
    """A tracking server (asked over REST, cheaply); anything else is read through MlflowClient."""
    return urlparse(tracking_uri).scheme.lower() in ("http", "https")


@dataclasses.dataclass(frozen=True)
class RestAnswer:
    """What the tracking server answered to a GET: its status and body."""

    status_code: int
    content: bytes

    def json(self) -> Any:
        return json.loads(self.content)


class _AnswerRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer, not followed: the credentials go to the tracking server only."""

    def redirect_request(self, *_: Any, **__: Any) -> None:
        return None


def _rest_headers(tracking_uri: str) -> dict[str, str]:
    """The credentials MlflowClient would send: from the settings object, else from the URI's user info
    (sent as a header, never in the URL: URLs end up in logs)."""
    settings = get_settings()
    user_info = urlsplit(tracking_uri)
    if settings.mlflow_tracking_token:
        return {"Authorization": f"Bearer {settings.mlflow_tracking_token.get_secret_value()}"}
    if settings.mlflow_tracking_username and settings.mlflow_tracking_password:
        username, password = settings.mlflow_tracking_username, settings.mlflow_tracking_password.get_secret_value()
    elif user_info.username is not None:
        username, password = unquote(user_info.username), unquote(user_info.password or "")
    else:
        return {}
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")}


def _tls_context(tracking_uri: str) -> ssl.SSLContext | None:
    """MlflowClient's TLS settings, for an https server: certifi's roots (as requests uses), the server
    certificate of MLFLOW_TRACKING_SERVER_CERT_PATH, or no verification (MLFLOW_TRACKING_INSECURE_TLS)."""
    if urlsplit(tracking_uri).scheme.lower() != "https":
        return None
    settings = get_settings()
    if settings.mlflow_tracking_insecure_tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    import certifi

    return ssl.create_default_context(cafile=settings.mlflow_tracking_server_cert_path or certifi.where())


def rest_get(tracking_uri: str, path: str, params: dict[str, str] | None = None) -> RestAnswer:
    """A GET of MLflow's REST API on the tracking server, with the credentials and TLS settings
    MlflowClient would use; RegistryUnreachable when the server does not answer.

    On the standard library's client: a cold start against a tracking server makes this call before its
    first answer, and httpx cost that start 0.2-0.28 s here (its import, then its first client's TLS
    context, built even for http); urllib's is already imported by then (`t2b bench serve`, #19).
    """
    url = _without_user_info(tracking_uri).rstrip("/") + path + (f"?{urlencode(params)}" if params else "")
    request = urllib.request.Request(url, headers={"Accept": "application/json", **_rest_headers(tracking_uri)})
    opener = urllib.request.build_opener(
        _AnswerRedirects, urllib.request.HTTPSHandler(context=_tls_context(tracking_uri))
    )
    try:
        with opener.open(request, timeout=TIMEOUT_S) as response:
            return RestAnswer(response.status, response.read())
    except urllib.error.HTTPError as answered:  # a 3xx, 4xx or 5xx is the server's answer
        with answered:
            return RestAnswer(answered.code, answered.read())
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        raise unreachable(tracking_uri, f"unreachable: {type(exc).__name__}") from None


def _over_rest(tracking_uri: str, path: str, params: dict[str, str]) -> VersionRef:
    response = rest_get(tracking_uri, path, params)
    if response.status_code == 200:
        version = response.json()["model_version"]
        return VersionRef(
            version["name"], str(version["version"]), version.get("run_id") or "", version.get("source") or ""
        )
    try:
        code = response.json().get("error_code", "")
    except ValueError:
        code = ""
    if code in MISSING_CODES:
        raise AliasUnresolved(code)
    raise unreachable(tracking_uri, f"answered {response.status_code} {code}".rstrip())


def _without_user_info(uri: str) -> str:
    parts = urlsplit(uri)
    if parts.username is None:
        return uri
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


ALIAS, VERSION = "alias", "version"  # what a local-store question names
CHILD_TIMEOUT_S = 120.0  # importing mlflow on a loaded machine


class _LocalAnswers:
    """Answers of a SQLite store by question, with the stamp of its files when they were given: in this
    process, and beside the store (`<store>.t2b-answers.json`) for the next one. Without the file every
    process start asked a child interpreter (2-3 s of CPU importing mlflow) what the last process knew:
    on two cores that child slowed each cold start, and a pinned version (MODEL_VERSION) waited for it."""

    def __init__(self) -> None:
        self._answers: dict[tuple[str, str, str, str], tuple[tuple[int, ...], VersionRef | Exception]] = {}
        self._lock = threading.Lock()

    def get(self, question: tuple[str, str, str, str], stamp: tuple[int, ...]) -> VersionRef | Exception | None:
        with self._lock:
            known = self._answers.get(question)
        if known is not None and known[0] == stamp:
            return known[1]
        written = _read_answers(question[0]).get(_answer_key(question))
        if written is not None and tuple(written["stamp"]) == stamp:
            return VersionRef(**written["answer"])
        return None

    def put(self, question: tuple[str, str, str, str], stamp: tuple[int, ...], answer: VersionRef | Exception) -> None:
        with self._lock:
            self._answers[question] = (stamp, answer)
            if isinstance(answer, VersionRef):  # a missing alias is asked again by the next process
                answers = _read_answers(question[0])
                answers[_answer_key(question)] = {"stamp": list(stamp), "answer": dataclasses.asdict(answer)}
                _write_answers(question[0], answers)


def _answers_file(tracking_uri: str) -> Path:
    return Path(f"{_sqlite_database(tracking_uri)}.t2b-answers.json")


def _answer_key(question: tuple[str, str, str, str]) -> str:
    return json.dumps(question[1:])


def _read_answers(tracking_uri: str) -> dict[str, Any]:
    try:
        return json.loads(_answers_file(tracking_uri).read_text())
    except (OSError, ValueError):  # none yet, or unreadable: ask the registry
        return {}


def _write_answers(tracking_uri: str, answers: dict[str, Any]) -> None:
    """Whole or not at all (a rename): processes starting together each read a complete file."""
    target = _answers_file(tracking_uri)
    try:
        with tempfile.NamedTemporaryFile("w", dir=target.parent, prefix=target.name, delete=False) as scratch:
            json.dump(answers, scratch)
        os.replace(scratch.name, target)
    except OSError as exc:  # a read-only store: each process asks once, as before
        log.warning("cannot keep alias answers beside %s: %s", target, exc)


_LOCAL_ANSWERS = _LocalAnswers()


def client_in_process() -> bool:
    """True when this process has imported mlflow already: its MlflowClient answers at once, where a
    child interpreter would import mlflow again."""
    return "mlflow" in sys.modules


def _from_local_store(tracking_uri: str, name: str, kind: str, value: str) -> VersionRef:
    """MlflowClient's answer, asked in this process when it has mlflow (then kept for the serving
    processes that start next), else in a child; kept until the store's files change."""
    question, stamp = (tracking_uri, name, kind, value), _store_stamp(tracking_uri)
    known = _LOCAL_ANSWERS.get(question, stamp) if stamp else None
    if known is None:
        try:
            if client_in_process():
                known = _with_client(tracking_uri, _reader(name, kind, value))
            else:
                known = _ask_child(tracking_uri, name, kind, value)
        except AliasUnresolved as missing:  # an answer too: kept until the store changes
            known = missing
        if stamp:
            _LOCAL_ANSWERS.put(question, stamp, known)
    if isinstance(known, Exception):
        raise known
    return known


def _sqlite_database(tracking_uri: str) -> Path | None:
    parts = urlsplit(tracking_uri)
    if parts.scheme != "sqlite" or not parts.path:
        return None
    return Path(unquote(parts.path[1:]))  # sqlite:///relative.db, sqlite:////absolute.db


def _store_stamp(tracking_uri: str) -> tuple[int, ...]:
    """Size and modification time of a SQLite store's files (its journal and WAL included); empty for
    any other store, whose answers are not kept."""
    database = _sqlite_database(tracking_uri)
    if database is None:
        return ()
    stamp: list[int] = []
    for path in (database, Path(f"{database}-wal"), Path(f"{database}-journal")):
        try:
            status = path.stat()
        except OSError:
            stamp += [-1, -1]
        else:
            stamp += [status.st_size, status.st_mtime_ns]
    return tuple(stamp) if stamp[0] != -1 else ()


def ask_child(module: str, tracking_uri: str, *args: str) -> dict[str, Any]:
    """The JSON line `python -m module *args` prints last: MlflowClient's answer from a child interpreter
    (see the module docstring); RegistryUnreachable when the child could not answer at all."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=CHILD_TIMEOUT_S
        )
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError):
        raise unreachable(tracking_uri, "could not be asked (the registry lookup process failed)") from None


def _ask_child(tracking_uri: str, name: str, kind: str, value: str) -> VersionRef:
    answer = ask_child(__name__, tracking_uri, tracking_uri, name, kind, value)
    if "missing" in answer:
        raise AliasUnresolved(answer["missing"])
    if "unreachable" in answer:
        raise RegistryUnreachable(answer["unreachable"])
    return VersionRef(**answer)


def _reader(name: str, kind: str, value: str) -> Any:
    if kind == ALIAS:
        return lambda client: client.get_model_version_by_alias(name, value)
    return lambda client: client.get_model_version(name, value)


def _with_client(tracking_uri: str, read: Any) -> VersionRef:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        version = read(MlflowClient(tracking_uri, tracking_uri))
    except MlflowException as exc:
        if exc.error_code in MISSING_CODES:
            raise AliasUnresolved(str(exc.error_code)) from None
        raise unreachable(tracking_uri, f"answered {exc.error_code}") from None
    except Exception as exc:
        raise unreachable(tracking_uri, f"unreachable: {type(exc).__name__}") from None
    return VersionRef(version.name, str(version.version), version.run_id or "", version.source or "")


def unreachable(tracking_uri: str, what: str) -> RegistryUnreachable:
    return RegistryUnreachable(redacted(f"MLflow at {tracking_uri} {what}", tracking_uri))


def _answer_as_child(tracking_uri: str, name: str, kind: str, value: str) -> None:
    """`python -m shared.serving.aliases URI NAME alias|version VALUE`: one JSON line on stdout."""
    try:
        ref = _with_client(tracking_uri, _reader(name, kind, value))
    except AliasUnresolved as missing:
        print(json.dumps({"missing": str(missing)}))
    except RegistryUnreachable as unreachable:
        print(json.dumps({"unreachable": str(unreachable)}))
    else:
        print(json.dumps({"name": ref.name, "version": ref.version, "run_id": ref.run_id, "source": ref.source}))


if __name__ == "__main__":
    _answer_as_child(*sys.argv[1:5])
