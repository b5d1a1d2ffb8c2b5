"""The champion's model card: versions, its evaluation beside the market and Elo, the plots of its run.

Everything comes from MLflow. Aliases are resolved on every request by the fast paths of
shared.serving.aliases (REST or the local SQLite store, a few ms); what a version's run logged never
changes, so the card of a (champion, challenger) pair and each plot are built once per process.
`mlflow` and the evaluation module are imported on the first card only: the local runtime imports
every function at start and should not pay for them there.
"""

from __future__ import annotations

import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from shared.serving.aliases import AliasUnresolved, RegistryUnreachable, redacted, resolve

if TYPE_CHECKING:
    from mlflow import MlflowClient

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


class ModelCards:
    """Cards and plots per process, keyed by the versions they describe."""

    def __init__(self, tracking_uri: str, model_name: str) -> None:
        self.tracking_uri = tracking_uri
        self.model_name = model_name
        self._cards: dict[tuple[str, str | None], ModelCard] = {}
        self._plots: dict[tuple[str, str], bytes] = {}
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

    def _client(self) -> MlflowClient:
        from mlflow import MlflowClient

        return MlflowClient(self.tracking_uri, self.tracking_uri)

    def _version(self, number: str) -> tuple[VersionCard, dict[str, float], dict[str, str]]:
        try:
            client = self._client()
            version = client.get_model_version(self.model_name, number)
            run = client.get_run(version.run_id)
        except Exception as exc:  # the registry answered for the alias a moment ago: it went away
            message = f"MLflow at {self.tracking_uri}: {type(exc).__name__}: {exc}"
            raise RegistryUnreachable(redacted(message, self.tracking_uri)) from None
        created = version.creation_timestamp
        card = VersionCard(
            version=str(version.version),
            run_id=version.run_id or "",
            created_at=datetime.fromtimestamp(created / 1000, UTC) if created else None,
            tags=dict(version.tags),
        )
        return card, dict(run.data.metrics), dict(run.data.params)

    def _build(self, champion: str, challenger: str | None) -> ModelCard:
        card, metrics, params = self._version(champion)
        challenger_card = self._version(challenger)[0] if challenger is not None else None
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
        import mlflow.artifacts

        run_id = self._version(version)[0].run_id
        with tempfile.TemporaryDirectory() as scratch:
            try:
                path = mlflow.artifacts.download_artifacts(
                    run_id=run_id, artifact_path=artifact, dst_path=scratch, tracking_uri=self.tracking_uri
                )
            except Exception as exc:
                raise FileNotFoundError(f"version {version} has no {artifact} in its run: {exc}") from None
            return Path(path).read_bytes()


def scores_from_metrics(metrics: dict[str, float]) -> list[ForecasterScore]:
    """Rows of the backtest's score table back from its flat `test_<forecaster>_<metric>[_<league>]` metrics."""
    from shared.ml.evaluate import METRIC_NAMES, SHORT_NAMES

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
