"""Every dashboard query and every alert expression, asked of a real Prometheus scraping `t2b up`.

Debian's `prometheus` runs the committed monitoring/prometheus/prometheus.yml and rules.yml (scrape
and evaluation every second here), its file-discovered targets pointed at `t2b up` on loopback with
RabbitMQ and Redis. The test drives sync and async predictions, a bad request, a poison event, an
import of a result for a match predicted before kick-off and `t2b drift report`, then asks the HTTP API:
- each dashboard query must parse and, over the functions' own metrics, return at least one series;
- each alert expression must parse, and every metric it reads must have series;
- queries over Kubernetes, Knative (the instances and scale-from-zero panels of the functions),
  RabbitMQ-plugin, node and Argo metrics only exist in a cluster: they are checked for syntax only
  and listed in pytest's summary after the run (tests/monitoring/conftest.py).
Nothing is faked here.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from cloudevents.http import CloudEvent

from shared.events.rabbitmq import RabbitPublisher
from shared.events.routing import load_routing
from shared.monitoring import alerts, dashboards, render, scrape
from tests.prepared import PreparedData
from tests.services import REPO, free_port, python_bin, require, start_process, stop_process, wait_for_port

VARIABLES = {"$namespace": ".*", "$function": ".*", "$model_version": ".*", "$__rate_interval": "1m"}
PROMQL_WORDS = {
    "sum", "max", "min", "count", "avg", "by", "without", "on", "ignoring", "and", "or", "unless", "rate",
    "increase", "histogram_quantile", "time", "min_over_time", "le", "bool", "group_left", "group_right",
}  # fmt: skip
# The market's opening prices of the imported result: Pinnacle 2.0 / 3.6 / 4.0
RESULT_CSV = (
    "Div,Date,Time,HomeTeam,AwayTeam,FTHG,FTAG,FTR,HTHG,HTAG,HTR,PSH,PSD,PSA\n"
    "E0,{day},20:00,Arsenal,Chelsea,2,1,H,1,0,H,2.0,3.6,4.0\n"
)


def cluster_only(expr: str) -> bool:
    return any(name.startswith(dashboards.CLUSTER_ONLY_PREFIXES) for name in metric_names(expr))


def metric_names(expr: str) -> set[str]:
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    without_labels = re.sub(r"\{[^}]*\}", "{}", without_strings)
    without_labels = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", without_labels)
    names = set(re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?=\s*(?:\{|\[|\)|\s*[-+*/<>=]|$))", without_labels))
    return {name for name in names if name not in PROMQL_WORDS and not name[0].isdigit() and "_" in name}


def substituted(expr: str) -> str:
    for variable, value in VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


@pytest.fixture
def prometheus(tmp_path: Path) -> Callable[[str], str]:
    """Debian's prometheus on the committed configs; returns a function that starts it for a target."""
    binary = shutil.which("prometheus")
    require(binary is not None, "prometheus not installed (apt-get install prometheus)")
    started: list[subprocess.Popen] = []

    def start(target: str) -> str:
        config = yaml.safe_load((REPO / render.PROMETHEUS_DIR / "prometheus.yml").read_text())
        config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
        shutil.copy(REPO / render.PROMETHEUS_DIR / scrape.RULES_FILE, tmp_path / scrape.RULES_FILE)
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        (tmp_path / scrape.TARGETS_DIR).mkdir()
        labels = {"namespace": scrape.APP_NAMESPACE, "service": "t2b-up"}
        (tmp_path / scrape.TARGETS_DIR / "time2bet-functions.yml").write_text(
            yaml.safe_dump([{"targets": [target], "labels": labels}])
        )
        port = free_port()
        args = [
            binary,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ]
        started.append(start_process(args, port, tmp_path / "prometheus.log", cwd=tmp_path))
        return f"http://127.0.0.1:{port}"

    yield start
    for process in started:
        stop_process(process)


@pytest.fixture
def runtime(
    writable_data: PreparedData, tmp_path: Path, amqp_url: str, redis_url: str, redis_prefix: str
) -> Iterator[str]:
    port = free_port()
    env = writable_data.env(
        AMQP_URL=amqp_url, REDIS_URL=redis_url, REDIS_KEY_PREFIX=redis_prefix,
        EVENTS_BACKOFF_SCALE="0.01",
    )  # fmt: skip
    log = (tmp_path / "up.log").open("wb")
    process = subprocess.Popen([python_bin("t2b"), "up", "--port", str(port)], cwd=REPO, env=env, stdout=log,
                               stderr=subprocess.STDOUT)  # fmt: skip
    wait_for_port(port, process, timeout=180)  # every event function is a process of its own
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()


def eventually(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"{what} within {timeout:.0f} s"
        time.sleep(0.5)


def drive_traffic(url: str, writable_data: PreparedData, amqp_url: str, tmp_path: Path) -> None:
    kickoff = (datetime.now(UTC) + timedelta(days=2)).replace(hour=20, minute=0, second=0, microsecond=0)
    with httpx.Client(base_url=url, timeout=60) as client:
        ahead = {"home_team": "Arsenal", "away_team": "Chelsea", "kickoff": kickoff.isoformat()}
        for body in (ahead, ahead, {"match_id": 1}, {"match_id": 2}):  # the repeat is a memory-cache hit
            assert client.post("/predict", json=body).status_code == 200
        assert client.post("/predict", json={"match_id": 1, "home_team": "Arsenal"}).status_code == 422
        accepted = client.post("/predict/async", json={"match_id": 3})
        assert accepted.status_code == 202, accepted.text
        status_url = accepted.json()["status_url"]
        eventually(lambda: client.get(status_url).json()["status"] == "finished", 60, "the async prediction")
    poison = CloudEvent(
        {"type": "io.time2bet.cache.invalidate", "source": "/tests/monitoring", "id": uuid.uuid4().hex},
        {"scope": "no such scope"},
    )
    publisher = RabbitPublisher(amqp_url, load_routing())
    try:
        publisher.publish(poison)
    finally:
        publisher.close()
    results = tmp_path / "E0"
    results.mkdir()
    (results / "result.csv").write_text(RESULT_CSV.format(day=kickoff.strftime("%d/%m/%Y")))
    imported = subprocess.run([python_bin("t2b"), "ingest", "football-data", str(results)], cwd=REPO,
                              env=writable_data.env(), capture_output=True, text=True, timeout=120)  # fmt: skip
    assert imported.returncode == 0, imported.stdout + imported.stderr
    reported = subprocess.run([python_bin("t2b"), "drift", "report"], cwd=REPO, env=writable_data.env(),
                              capture_output=True, text=True, timeout=300)  # fmt: skip
    assert reported.returncode == 0, reported.stdout + reported.stderr
    assert "drift share" in reported.stdout


def query(prometheus_url: str, expr: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{prometheus_url}/api/v1/query", params={"query": expr}, timeout=30)
    body = answer.json()
    assert answer.status_code == 200 and body["status"] == "success", f"{expr}: {body.get('error')}"
    return body["data"]["result"]


@pytest.mark.rabbitmq
def test_every_dashboard_query_and_alert_expression_against_prometheus(
    writable_data: PreparedData, runtime: str, prometheus, amqp_url: str, tmp_path: Path, summary_lines: list[str]
) -> None:
    prometheus_url = prometheus(runtime.removeprefix("http://"))
    drive_traffic(runtime, writable_data, amqp_url, tmp_path)

    panels = [(f"{board['uid']} / {title}", expr) for board in dashboards.dashboards()
              for title, expr in dashboards.panel_queries(board)]  # fmt: skip
    local = [(where, substituted(expr)) for where, expr in panels if not cluster_only(expr)]
    syntax_only = [(where, substituted(expr)) for where, expr in panels if cluster_only(expr)]
    rules = [(f"alert {alert.name}", alert.expr) for alert in alerts.alerts()]

    # live quality needs the import settled and scraped; the collector refreshes every 15 s
    deadline = time.monotonic() + 60
    while missing := [f"{where}: {expr}" for where, expr in local if not query(prometheus_url, expr)]:
        assert time.monotonic() < deadline, "no series for:\n" + "\n".join(missing)
        time.sleep(2)
    for board in dashboards.dashboards():
        for variable in board["templating"]["list"]:
            if variable["type"] == "query":
                selector, label = re.fullmatch(r"label_values\((.*), (\w+)\)", variable["query"]["query"]).groups()
                values = httpx.get(f"{prometheus_url}/api/v1/label/{label}/values",
                                   params={"match[]": substituted(selector)}, timeout=30).json()["data"]  # fmt: skip
                assert values, f"{board['uid']}: variable {variable['name']} has no values"

    for _, expr in syntax_only + rules:
        query(prometheus_url, expr)  # parses and evaluates (an error fails the assertion inside)
    local_metrics = {name for _, expr in rules for name in metric_names(expr)}
    local_metrics -= {name for name in local_metrics if name.startswith(dashboards.CLUSTER_ONLY_PREFIXES)}
    unexposed = sorted(name for name in local_metrics if not query(prometheus_url, f"count({name})"))
    assert unexposed == []
    cluster_metrics = sorted(
        {name for _, expr in rules for name in metric_names(expr) if name.startswith(dashboards.CLUSTER_ONLY_PREFIXES)}
    )

    summary_lines += [
        f"{len(local)} dashboard queries returned series from `t2b up`; {len(rules)} alert expressions parsed,",
        f"  their {len(local_metrics)} local metrics all exposed: {', '.join(sorted(local_metrics))}",
        f"syntax only (cluster metrics), {len(syntax_only)} dashboard queries:",
        *(f"  {where}: {', '.join(sorted(metric_names(expr)))}" for where, expr in syntax_only),
        f"syntax only, cluster metrics read by alerts: {', '.join(cluster_metrics)}",
    ]


def test_metric_names_are_found_in_queries() -> None:
    names = metric_names('sum by (function) (rate(t2b_http_requests_total{status=~"5.."}[5m])) / on (x_y) up > 0.05')
    assert names == {"t2b_http_requests_total"}
    assert metric_names(alerts.GROUPS["time2bet-model"][2].expr) == {"t2b_live_rps", "t2b_live_settled_matches"}
    assert metric_names("time() - max(t2b_ingest_last_success_timestamp_seconds) > 3 * 86400") == {
        "t2b_ingest_last_success_timestamp_seconds"
    }
    assert cluster_only("1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes")
