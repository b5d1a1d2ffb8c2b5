"""Drift reports with Evidently: an injected shift is found and an unshifted sample is not; the report
shows what Evidently's DataDriftPreset shows (same page, same per-column tests and scores); it lands
in S3 (moto's server) under reports/drift/date=…/, is served by GET /monitoring/drift/latest and
exported as metrics; its HTML renders in headless Chromium (screenshot kept in
var/test-artifacts/monitoring/)."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

from shared.cli.app import run
from shared.cli.errors import ExitCode
from shared.monitoring import drift, logged, state
from shared.monitoring.bench import preset_report, synthetic
from shared.storage import get_store
from tests.services import REPO, require

ARTIFACTS = REPO / "var" / "test-artifacts" / "monitoring"
FEATURES, SHIFTED = [f"f{i:02d}" for i in range(9)], 3


@pytest.fixture(scope="module")
def reports() -> dict[str, tuple[object, drift.DriftSummary]]:
    reference = synthetic(2_000, FEATURES, shifted=0, seed=1)
    return {
        "shifted": drift.compare(reference, synthetic(1_500, FEATURES, shifted=SHIFTED, seed=2)),
        "unshifted": drift.compare(reference, synthetic(1_500, FEATURES, shifted=0, seed=3)),
    }


def test_an_injected_shift_is_detected_and_an_unshifted_sample_is_not(reports) -> None:
    _, shifted = reports["shifted"]
    _, unshifted = reports["unshifted"]
    drifted = {name for name, column in shifted.columns.items() if column.drifted}
    assert drifted == {f"f{i:02d}" for i in range(SHIFTED)}
    assert shifted.drift_share == pytest.approx(SHIFTED / (len(FEATURES) + 3))
    assert [name for name, column in unshifted.columns.items() if column.drifted] == []
    assert unshifted.drift_share == 0.0 and not unshifted.dataset_drifted
    assert set(shifted.columns) == set(FEATURES) | set(logged.PROBABILITIES)


def test_the_report_shows_what_evidentlys_preset_shows() -> None:
    """The preset's own page and per-column tests, without the metrics its page leaves unshown."""
    reference = synthetic(400, FEATURES[:4], shifted=0, seed=1)
    current = synthetic(500, FEATURES[:4], shifted=2, seed=2)
    snapshot, summary = drift.compare(reference, current)
    preset_snapshot, preset_scores = preset_report(reference, current)
    assert {name: (column.method, column.score) for name, column in summary.columns.items()} == preset_scores

    def page(html: str) -> str:  # widget ids are random per run
        return re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32}", "id", html)

    assert page(snapshot.get_html_str(as_iframe=False)) == page(preset_snapshot.get_html_str(as_iframe=False))


def test_stored_served_exported_and_rendered(reports, configure, s3_settings, tmp_path: Path, client_for) -> None:
    configure(**s3_settings)
    snapshot, summary = reports["shifted"]
    stored = drift.store_report(get_store(), snapshot, summary)
    day = stored.generated_at[:10]
    assert stored.html_key.startswith(f"reports/drift/date={day}/") and stored.html_key.endswith(".html")
    assert stored.json_key.startswith(f"reports/drift/date={day}/") and stored.json_key.endswith(".json")
    assert drift.latest(get_store()) == stored

    from functions.drift_latest.main import app

    body = client_for(app).get("/monitoring/drift/latest").json()
    assert body["html_key"] == stored.html_key and body["drift_share"] == pytest.approx(summary.drift_share)
    assert body["columns"]["f00"]["drifted"] is True

    registry = CollectorRegistry()
    registry.register(state.CachedCollector({"drift": state.drift_families}))
    text = generate_latest(registry).decode()
    assert f"t2b_drift_share {summary.drift_share}" in text
    assert 't2b_drift_feature_drifted{feature="f00"} 1.0' in text

    html = tmp_path / "report.html"
    html.write_bytes(get_store().get_bytes(stored.html_key))
    screenshot = open_in_chromium(html)
    assert screenshot.stat().st_size > 10_000


def test_no_report_yet_is_a_404(configure, s3_settings, client_for) -> None:
    configure(**s3_settings)
    from functions.drift_latest.main import app

    answer = client_for(app).get("/monitoring/drift/latest")
    assert answer.status_code == 404 and "t2b drift report" in answer.json()["detail"]


def open_in_chromium(html: Path) -> Path:
    binary = shutil.which("chromedriver")
    require(binary is not None and shutil.which("chromium") is not None, "chromium/chromedriver not installed")
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(binary), options=options)
    try:
        driver.get(html.as_uri())
        deadline = time.monotonic() + 30
        # Evidently renders the report client-side: wait for a drifted column's name to appear
        while not driver.find_elements(By.XPATH, "//*[contains(text(), 'f00')]"):
            assert time.monotonic() < deadline, "the report did not render a column name within 30 s"
            time.sleep(0.5)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        screenshot = ARTIFACTS / "drift-report.png"
        driver.save_screenshot(str(screenshot))
        return screenshot
    finally:
        driver.quit()


def test_the_command_says_what_is_wrong_with_its_window(
    configure, sqlite_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(DATABASE_URL=sqlite_url)
    for arguments, message in (
        (["--since", "2026-12-02", "--until", "2026-12-01"], "--since must be before --until"),
        (["--since", "2999-01-01"], "--since must be before --until (default: now)"),
        (["--until", "yesterday"], "--until 'yesterday' is not an ISO 8601 date or time"),
    ):
        assert run(["drift", "report", *arguments]) == ExitCode.BAD_INPUT
        assert message in capsys.readouterr().err
    # the default window: the week before now, empty here
    assert run(["drift", "report"]) == ExitCode.FAILED
    err = capsys.readouterr().err
    assert "no logged predictions served from" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
