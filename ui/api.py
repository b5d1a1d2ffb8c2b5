"""The web app's only way to the platform: the HTTP functions, through one typed client.

Every failure the pages can meet becomes an `ApiError` whose message a person can read: the
function's own `detail` (a 422 names the teams it would accept), a 503's Retry-After, or that the
API does not answer at all. Pages never see an httpx exception.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import httpx

DEFAULT_API_URL = "http://127.0.0.1:8080"  # `t2b up`
TIMEOUT_S = 30.0  # a cold predict loads the champion: seconds, not minutes

Json = dict[str, Any]


def api_url() -> str:
    return os.environ.get("T2B_API_URL", DEFAULT_API_URL).rstrip("/")


class ApiError(Exception):
    """A call that did not succeed, with what to tell the user."""

    def __init__(self, message: str, status: int | None = None, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after = retry_after

    @property
    def temporary(self) -> bool:
        """Worth trying again later: an outage (503) or no answer at all."""
        return self.status is None or self.status == 503


@dataclass(frozen=True)
class Team:
    team_id: int
    name: str
    league: str
    league_name: str
    season: str


@dataclass(frozen=True)
class Odds:
    home: float
    draw: float
    away: float


@dataclass(frozen=True)
class MatchRequest:
    home_team: str
    away_team: str
    kickoff: datetime
    league: str | None = None
    odds: Odds | None = None

    def body(self) -> Json:
        body: Json = {"home_team": self.home_team, "away_team": self.away_team, "kickoff": self.kickoff.isoformat()}
        if self.league:
            body["league"] = self.league
        if self.odds is not None:
            body["odds"] = {"home": self.odds.home, "draw": self.odds.draw, "away": self.odds.away}
        return body


@dataclass(frozen=True)
class Prediction:
    home_team: str
    away_team: str
    kickoff: datetime
    home: float
    draw: float
    away: float
    model_name: str
    model_version: str
    cached: bool
    features_as_of: datetime | None

    @classmethod
    def from_json(cls, body: Json) -> Prediction:
        probabilities, model = body["probabilities"], body["model"]
        as_of = body.get("features_as_of")
        return cls(
            home_team=body["home_team"],
            away_team=body["away_team"],
            kickoff=datetime.fromisoformat(body["kickoff"]),
            home=probabilities["home"],
            draw=probabilities["draw"],
            away=probabilities["away"],
            model_name=model["name"],
            model_version=str(model["version"]),
            cached=bool(body.get("cached", False)),
            features_as_of=datetime.fromisoformat(as_of) if as_of else None,
        )


@dataclass(frozen=True)
class TaskState:
    task_id: str
    status: str  # queued, started, finished, failed
    result: Prediction | None
    error: str | None

    @property
    def done(self) -> bool:
        return self.status in ("finished", "failed")


class Api:
    def __init__(self, base_url: str | None = None, timeout: float = TIMEOUT_S) -> None:
        self.base_url = (base_url or api_url()).rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout)

    # --- the calls -------------------------------------------------------------------------

    def teams(self, league: str | None = None) -> list[Team]:
        body = self._json("GET", "/teams", params=_params(league=league))
        return [Team(**{k: row[k] for k in Team.__dataclass_fields__}) for row in body["teams"]]

    def predict(self, match: MatchRequest) -> Prediction:
        return Prediction.from_json(self._json("POST", "/predict", json=match.body()))

    def submit(self, match: MatchRequest) -> str:
        """Queue an async prediction; the task id to poll."""
        return self._json("POST", "/predict/async", json=match.body())["task_id"]

    def task(self, task_id: str) -> TaskState:
        body = self._json("GET", f"/monitoring/task_status/{task_id}")
        result = body.get("result")
        return TaskState(
            task_id=body["task_id"],
            status=body["status"],
            result=Prediction.from_json(result) if result else None,
            error=body.get("error"),
        )

    def fixtures(self, league: str | None, date_from: date | None, date_to: date | None, limit: int = 2000) -> Json:
        params = _params(league=league, date_from=date_from, date_to=date_to, limit=limit)
        return self._json("GET", "/fixtures", params=params)

    def stats(self, league: str | None, form: int = 5) -> Json:
        return self._json("GET", "/stats", params=_params(league=league, form=form))

    def model_card(self) -> Json:
        return self._json("GET", "/model/card")

    def quality(self) -> Json:
        """Live quality per model version: settled matches, model vs the pre-kickoff market."""
        return self._json("GET", "/monitoring/quality")

    def plot(self, path: str) -> bytes:
        return self._call("GET", path).content

    def readiness(self) -> Json:
        """The readiness report; a 503 carries the same report (the store is down), so it is no error here."""
        return self._call("GET", "/health/ready", accept=(200, 503)).json()

    def sources(self) -> Json:
        return self._json("GET", "/sources")

    def livescores(self, hours: int = 24) -> Json:
        return self._json("GET", "/livescores", params={"hours": hours})

    # --- plumbing --------------------------------------------------------------------------

    def _json(self, method: str, path: str, **kwargs: Any) -> Json:
        return self._call(method, path, **kwargs).json()

    def _call(self, method: str, path: str, accept: tuple[int, ...] = (), **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise ApiError(f"the API at {self.base_url} did not answer {method} {path} in time; try again") from None
        except httpx.HTTPError as exc:
            raise ApiError(
                f"the API at {self.base_url} cannot be reached ({type(exc).__name__}); is `t2b up` running, "
                "or T2B_API_URL pointing at it?"
            ) from None
        if response.is_success or response.status_code in accept:
            return response
        raise _error(response)


def _params(**values: object) -> dict[str, str]:
    return {name: str(value) for name, value in values.items() if value is not None}


def _error(response: httpx.Response) -> ApiError:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = None
    message = detail if isinstance(detail, str) and detail else f"{response.status_code} {response.reason_phrase}"
    retry = response.headers.get("Retry-After")
    return ApiError(message, response.status_code, int(retry) if retry and retry.isdigit() else None)
