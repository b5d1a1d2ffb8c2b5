"""Fixtures of the scraping tests: the reference samples, a fake WhoScored site and a local chromedriver."""

from __future__ import annotations

import gzip
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scraping.fake_site import FakeWhoScored, serve
from tests.services import free_port, require, start_process, stop_process

SAMPLES = Path(__file__).parent / "samples"  # real WhoScored pages: see samples/README.md

# The scraper's settings against a local fake site: no politeness delay, one quick retry, and a page
# load timeout long enough for a cold Chromium on a loaded CI machine.
FAST_SCRAPER_ENV = {
    "SCRAPE_RATE_LIMIT": "0.01",
    "SCRAPE_RATE_JITTER": "0.01",
    "SCRAPE_MAX_RETRIES": "1",
    "SCRAPE_BACKOFF_BASE": "0.05",
    "SCRAPE_PAGE_LOAD_TIMEOUT": "20",
}


@pytest.fixture(scope="session")
def samples() -> Path:
    return SAMPLES


@pytest.fixture(scope="session")
def match_centre_sample(samples: Path) -> str:
    return gzip.decompress((samples / "match_1650630_live.html.gz").read_bytes()).decode("utf-8")


@pytest.fixture
def fake_whoscored(samples: Path) -> Iterator[tuple[FakeWhoScored, str]]:
    site = FakeWhoScored(january_feed=samples / "fixtures_stage18685_2021-01.json")
    server, base_url = serve(site)
    yield site, base_url
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def chromedriver_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Debian's chromedriver as the remote WebDriver endpoint (what Selenoid is in production)."""
    binary = shutil.which("chromedriver")
    require(binary is not None and shutil.which("chromium") is not None, "chromium/chromedriver not installed")
    port = free_port()
    log = tmp_path_factory.mktemp("chromedriver") / "chromedriver.log"
    process = start_process([binary, f"--port={port}"], port, log)
    yield f"http://127.0.0.1:{port}"
    stop_process(process)
