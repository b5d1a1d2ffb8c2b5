"""The web app in a real browser: `streamlit run` plus headless Chromium through Selenium (Debian's
chromium and chromedriver), against the real `t2b up`. The screenshot is kept as a test artifact."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

from shared.cli.ui import APP, streamlit_command
from tests.services import REPO, free_port, require, wait_for_port

pytestmark = pytest.mark.browser
WAIT_S = 90  # per step; a loaded 2-core machine needs it


@pytest.fixture(scope="module")
def web_app(api_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = (tmp_path_factory.mktemp("streamlit") / "streamlit.log").open("wb")
    command = streamlit_command(APP, "127.0.0.1", port)
    assert command[:3] == [sys.executable, "-m", "streamlit"]
    process = subprocess.Popen(
        command, cwd=REPO, env={**os.environ, "T2B_API_URL": api_url}, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        wait_for_port(port, process, timeout=60)
        assert httpx.get(f"http://127.0.0.1:{port}/_stcore/health", timeout=10).text == "ok"
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(15)
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    chromedriver, chromium = shutil.which("chromedriver"), shutil.which("chromium")
    require(chromedriver is not None and chromium is not None, "chromium/chromedriver not installed")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1600"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    yield driver
    driver.quit()


def choose(select: WebElement, name: str) -> None:
    """Type into a Streamlit select box's search field and take the first match."""
    select.click()
    search = select.find_element(By.TAG_NAME, "input")
    search.send_keys(name)
    search.send_keys(Keys.ENTER)


def test_predict_in_a_browser(web_app: str, browser: webdriver.Chrome, artifacts: Path) -> None:
    wait = WebDriverWait(browser, WAIT_S)
    browser.get(web_app)
    wait.until(ready.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Predict a match"))
    selects = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '[data-testid="stSelectbox"]')[:3])
    assert len(selects) == 3  # league, home, away
    choose(selects[1], "Man Uni")
    choose(selects[2], "Liverpo")
    browser.find_element(By.XPATH, "//button[.//p[text()='Predict']]").click()
    wait.until(ready.text_to_be_present_in_element((By.TAG_NAME, "body"), "Model version"))
    metrics = {
        metric.find_element(By.CSS_SELECTOR, '[data-testid="stMetricLabel"]').text: metric.find_element(
            By.CSS_SELECTOR, '[data-testid="stMetricValue"]'
        ).text
        for metric in browser.find_elements(By.CSS_SELECTOR, '[data-testid="stMetric"]')
    }
    browser.save_screenshot(str(artifacts / "predict.png"))
    assert "Man United v Liverpool" in browser.find_element(By.TAG_NAME, "body").text
    chances = [float(metrics[label].rstrip("%")) for label in ("Home win", "Draw", "Away win")]
    assert sum(chances) == pytest.approx(100, abs=0.2)
    assert metrics["Model version"] == "v1"
    assert (artifacts / "predict.png").stat().st_size > 10_000
