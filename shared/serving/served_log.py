"""What was served: a row of the prediction log per answer (written off the request path by
PredictionLogWriter) and the count of predictions by most likely outcome."""

from __future__ import annotations

from shared.clock import utcnow
from shared.metrics import PREDICTIONS, child
from shared.prediction_log import PredictionLogWriter
from shared.serving.champion import LoadedModel
from shared.serving.match_context import MatchContext

OUTCOMES = ("home", "draw", "away")


class ServedLog:
    def __init__(self, writer: PredictionLogWriter, function: str) -> None:
        self._writer = writer
        self._function = function

    def record(
        self,
        match: MatchContext,
        model: LoadedModel,
        features: dict[str, float],
        probabilities: list[float],
        cached: bool,
        latency_ms: float,
    ) -> None:
        child(PREDICTIONS, self._function, OUTCOMES[max(range(3), key=probabilities.__getitem__)]).inc()
        self._writer.append(
            {
                "served_at": utcnow(),
                "function": self._function,
                "match_id": match.match_id,
                "home_team_id": match.home_team_id,
                "away_team_id": match.away_team_id,
                "kickoff_utc": match.kickoff,
                "model_name": model.name,
                "model_version": model.version,
                "p_home": probabilities[0],
                "p_draw": probabilities[1],
                "p_away": probabilities[2],
                "features": features,  # NaN, which JSON has not, becomes null in the writer process
                "cached": cached,
                "latency_ms": latency_ms,
            }
        )
