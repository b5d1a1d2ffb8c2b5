"""The champion's model card: versions, its evaluation beside the market and Elo, the plots of its run.

Everything comes from MLflow's public API. Aliases are resolved on every request by
shared.serving.aliases (over REST, or once per change of the local store's files); what a version's run logged never
changes, so a version's record, the card of a (champion, challenger) pair and each plot are fetched
once per process. Like the aliases, records and plots come over MLflow's REST API from a tracking
server, and from `MlflowClient` for any other store: in this process when it has imported mlflow
already, else in a child interpreter (`python -m shared.queries.model_card`). mlflow would keep
~150 MB resident in a function whose other needs take ~80 MB.
"""

from __future__ import annotations

import json
import sys
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, NamedTuple
from urllib.parse import quote, urlsplit

from pydantic import BaseModel, Field

from shared.ml.forecasters import METRIC_NAMES, SHORT_NAMES
from shared.serving.aliases import (
    VERSION_PATH,
    AliasUnresolved,
    RegistryUnreachable,
    ask_child,
    client_in_process,
    is_server,
    redacted,
    resolve,
    rest_get,
    unreachable,
)

CHAMPION = "champion"
CHALLENGER = "challenger"
# evaluation/<plot>.png in the version's run (shared.ml.plots.write_plots)
Plot = Literal["calibration", "rps_by_league_season", "feature_importance"]
PLOTS: tuple[str, ...] = Plot.__args__  # type: ignore[attr-defined]


class NoChampion(LookupError):
    """The registry answered: nothing carries the champion alias yet."""


class VersionCard(BaseModel):
    version: str
    run_id: str
    created_at: datetime | None
    tags: dict[str, str] = Field(description="train_until, eval_seasons, eval_rps, gap_to_market_rps ...")


class ForecasterScore(BaseModel):
    forecaster: str = Field(examples=["model", "market (closing)", "market (pre-kickoff)", "elo baseline"])
    league: str = Field(description='"all" for the pooled row, else a league code', examples=["all", "E0"])
    rps: float | None = None
    log_loss: float | None = None
    brier: float | None = None
    accuracy: float | None = None


class ModelCard(BaseModel):
    model_name: str
    champion: VersionCard
    challenger: VersionCard | None
    test_seasons: str | None = Field(description="the held-out seasons of the champion's evaluation")
    test_matches: int | None
    unpriced_matches: int | None = Field(description="test matches without a closing or pre-kickoff price, left out")
    gap_to_market_rps: float | None = Field(description="model minus Pinnacle's closing line; < 0: model better")
    gap_to_prekickoff_market_rps: float | None = Field(description="model minus the line its features saw")
    scores: list[ForecasterScore] = Field(description="pooled rows first, then by league: the RPS-by-league data")
    plots: list[str] = Field(description="paths of the evaluation plots (PNG) of the champion's run")


class Logged(NamedTuple):
    """What MLflow holds about a registered version and its run."""

    card: VersionCard
    metrics: dict[str, float]
    params: dict[str, str]
    artifact_uri: str


class ModelCards:
    """Cards and plots per process, keyed by the versions they describe."""

    def __init__(self, tracking_uri: str, model_name: str) -> None:
        self.tracking_uri = tracking_uri
        self.model_name = model_name
        self._cards: dict[tuple[str, str | None], ModelCard] = {}
        self._plots: dict[tuple[str, str], bytes] = {}
        self._logged: dict[str, Logged] = {}
        self._lock = threading.Lock()

    def card(self) -> ModelCard:
        """Raises NoChampion, or RegistryUnreachable when MLflow does not answer."""
        champion = self._alias(CHAMPION)
        if champion is None:
            raise NoChampion(
                f"model {self.model_name!r} has no champion yet: train and promote one (`t2b demo`, or `t2b train` "
                "then `t2b model promote`)"
            )
        challenger = self._alias(CHALLENGER)
        key = (champion, challenger)
        with self._lock:
            if key not in self._cards:
                self._cards[key] = self._build(champion, challenger)
            return self._cards[key]

    def plot(self, name: str) -> bytes:
        """The champion run's evaluation/<name>.png; raises NoChampion, RegistryUnreachable, FileNotFoundError."""
        champion = self._alias(CHAMPION)
        if champion is None:
            raise NoChampion(f"model {self.model_name!r} has no champion yet")
        key = (champion, name)
        with self._lock:
            if key not in self._plots:
                self._plots[key] = self._download(champion, f"evaluation/{name}.png")
            return self._plots[key]

    def _alias(self, alias: str) -> str | None:
        try:
            return resolve(self.tracking_uri, self.model_name, alias).version
        except AliasUnresolved:
            return None

    def _version(self, number: str) -> Logged:
        if number not in self._logged:
            if is_server(self.tracking_uri):
                record = _record_over_rest(self.tracking_uri, self.model_name, number)
            elif client_in_process():
                record = _record_with_client(self.tracking_uri, self.model_name, number)
            else:
                record = _ask_child(self.tracking_uri, RECORD, self.model_name, number)
            self._logged[number] = _logged(record)
        return self._logged[number]

    def _build(self, champion: str, challenger: str | None) -> ModelCard:
        card, metrics, params, _ = self._version(champion)
        challenger_card = self._version(challenger).card if challenger is not None else None
        plots = [f"/model/card/plots/{name}" for name in PLOTS]

        def metric(name: str) -> float | None:
            return metrics.get(name)

        matches, unpriced = metric("test_matches"), metric("unpriced_matches")
        return ModelCard(
            model_name=self.model_name,
            champion=card,
            challenger=challenger_card,
            test_seasons=params.get("test_seasons") or card.tags.get("eval_seasons"),
            test_matches=int(matches) if matches is not None else None,
            unpriced_matches=int(unpriced) if unpriced is not None else None,
            gap_to_market_rps=metric("gap_to_market_rps"),
            gap_to_prekickoff_market_rps=metric("gap_to_prekickoff_market_rps"),
            scores=scores_from_metrics(metrics),
            plots=plots,
        )

    def _download(self, version: str, artifact: str) -> bytes:
        logged = self._version(version)
        proxied = urlsplit(logged.artifact_uri)
        if is_server(self.tracking_uri) and proxied.scheme == "mlflow-artifacts" and not proxied.netloc:
            # the server's artifact proxy (`mlflow server --serve-artifacts`, every deployment here)
            path = quote(f"{ARTIFACTS_PATH}/{proxied.path.strip('/')}/{artifact}")
            response = rest_get(self.tracking_uri, path)
            if response.status_code == 200:
                return response.content
            missing = f"answered {response.status_code}"
        else:
            with tempfile.TemporaryDirectory() as scratch:
                try:
                    if client_in_process():
                        path = _artifact_with_client(self.tracking_uri, logged.card.run_id, artifact, scratch)
                    else:
                        answer = _ask_child(self.tracking_uri, ARTIFACT, logged.card.run_id, artifact, scratch)
                        path = answer["path"]
                    return Path(path).read_bytes()
                except FileNotFoundError as exc:
                    missing = str(exc)
        raise FileNotFoundError(f"version {version} has no {artifact} in its run: {missing}")


RUN_PATH = "/api/2.0/mlflow/runs/get"
# where a server with --serve-artifacts proxies `mlflow-artifacts:/<path>`
ARTIFACTS_PATH = "/api/2.0/mlflow-artifacts/artifacts"
RECORD, ARTIFACT = "record", "artifact"  # what a child interpreter is asked


def _logged(record: dict[str, Any]) -> Logged:
    """A version's record (as _record_over_rest and _record_with_client give it) as the card wants it."""
    created = record["created"]
    card = VersionCard(
        version=record["version"],
        run_id=record["run_id"],
        created_at=datetime.fromtimestamp(int(created) / 1000, UTC) if created else None,
        tags=record["tags"],
    )
    metrics = {key: float(value) for key, value in record["metrics"].items()}
    return Logged(card, metrics, record["params"], record["artifact_uri"])


def _answer(tracking_uri: str, path: str, params: dict[str, str]) -> dict[str, Any]:
    response = rest_get(tracking_uri, path, params)
    if response.status_code != 200:  # the registry answered for the alias a moment ago: it went away
        raise unreachable(tracking_uri, f"answered {response.status_code} to {path}")
    return response.json()


def _record_over_rest(tracking_uri: str, name: str, number: str) -> dict[str, Any]:
    version = _answer(tracking_uri, VERSION_PATH, {"name": name, "version": number})["model_version"]
    run = _answer(tracking_uri, RUN_PATH, {"run_id": version.get("run_id") or ""})["run"]
    data = run.get("data", {})
    return {
        "version": str(version["version"]),
        "run_id": version.get("run_id") or "",
        "created": version.get("creation_timestamp"),
        "tags": {tag["key"]: tag["value"] for tag in version.get("tags", [])},
        "metrics": {metric["key"]: metric["value"] for metric in data.get("metrics", [])},
        "params": {param["key"]: param["value"] for param in data.get("params", [])},
        "artifact_uri": run["info"].get("artifact_uri") or "",
    }


def _record_with_client(tracking_uri: str, name: str, number: str) -> dict[str, Any]:
    from mlflow import MlflowClient

    try:
        client = MlflowClient(tracking_uri, tracking_uri)
        version = client.get_model_version(name, number)
        run = client.get_run(version.run_id)
    except Exception as exc:  # the registry answered for the alias a moment ago: it went away
        message = f"MLflow at {tracking_uri}: {type(exc).__name__}: {exc}"
        raise RegistryUnreachable(redacted(message, tracking_uri)) from None
    return {
        "version": str(version.version),
        "run_id": version.run_id or "",
        "created": version.creation_timestamp,
        "tags": dict(version.tags),
        "metrics": dict(run.data.metrics),
        "params": dict(run.data.params),
        "artifact_uri": run.info.artifact_uri or "",
    }


def _artifact_with_client(tracking_uri: str, run_id: str, artifact: str, scratch: str) -> str:
    """The downloaded file's path; FileNotFoundError with MLflow's reason when it cannot be had."""
    import mlflow.artifacts

    try:
        return mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path=artifact, dst_path=scratch, tracking_uri=tracking_uri
        )
    except Exception as exc:
        raise FileNotFoundError(str(exc)) from None


def _ask_child(tracking_uri: str, kind: str, *args: str) -> dict[str, Any]:
    answer = ask_child(__name__, tracking_uri, kind, tracking_uri, *args)
    if "unreachable" in answer:
        raise RegistryUnreachable(answer["unreachable"])
    if "missing" in answer:
        raise FileNotFoundError(answer["missing"])
    return answer


def _answer_as_child(kind: str, tracking_uri: str, *args: str) -> None:
    """`python -m shared.queries.model_card record URI NAME VERSION` (the version's record) or
    `... artifact URI RUN_ID ARTIFACT DIR` (the path it was downloaded to): one JSON line on stdout."""
    try:
        if kind == RECORD:
            answer = _record_with_client(tracking_uri, *args)
        else:
            answer = {"path": _artifact_with_client(tracking_uri, *args)}
    except RegistryUnreachable as unreachable:
        answer = {"unreachable": str(unreachable)}
    except FileNotFoundError as missing:
        answer = {"missing": str(missing)}
    print(json.dumps(answer))


def scores_from_metrics(metrics: dict[str, float]) -> list[ForecasterScore]:
    """Rows of the backtest's score table back from its flat `test_<forecaster>_<metric>[_<league>]` metrics."""
    forecaster_of = {short: label for label, short in SHORT_NAMES.items()}
    rows: dict[tuple[str, str], dict[str, float]] = {}
    for name, value in metrics.items():
        parsed = _parse(name, forecaster_of, METRIC_NAMES)
        if parsed is not None:
            forecaster, metric, league = parsed
            rows.setdefault((forecaster, league), {})[metric] = value
    order = list(SHORT_NAMES)
    ranked = sorted(rows.items(), key=lambda item: (item[0][1] != "all", item[0][1], order.index(item[0][0])))
    return [ForecasterScore(forecaster=f, league=league, **values) for (f, league), values in ranked]


def _parse(name: str, forecaster_of: dict[str, str], metric_names: tuple[str, ...]) -> tuple[str, str, str] | None:
    if not name.startswith("test_"):
        return None
    rest = name.removeprefix("test_")
    for short, label in forecaster_of.items():
        if not rest.startswith(f"{short}_"):
            continue
        tail = rest.removeprefix(f"{short}_")
        for metric in sorted(metric_names, key=len, reverse=True):
            if tail == metric:
                return label, metric, "all"
            if tail.startswith(f"{metric}_"):
                return label, metric, tail.removeprefix(f"{metric}_")
    return None


if __name__ == "__main__":
    _answer_as_child(*sys.argv[1:])
