"""Page loads with a rate limit, block detection and retries on a fresh browser session."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, TypeVar

from selenium.common.exceptions import WebDriverException

from shared.config import Settings
from shared.scraping.blocks import block_reason, has_consent_banner
from shared.scraping.driver import BrowserSession, DriverFactory
from shared.scraping.errors import EmptyPageData, PageBlocked, PageShapeError

log = logging.getLogger(__name__)

T = TypeVar("T")
PageReader = Callable[[BrowserSession], T]

# TimeoutException is a WebDriverException; EmptyPageData is a page that loaded without its data.
_RETRYABLE = (PageBlocked, EmptyPageData, WebDriverException)


class PageFetcher:
    """Loads pages one after another through one browser session, replaced after any failure."""

    def __init__(
        self,
        settings: Settings,
        driver_factory: DriverFactory,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._settings = settings
        self._driver_factory = driver_factory
        self._sleep = sleep
        self._jitter = jitter
        self._session: BrowserSession | None = None
        self._consent_cookies: list[dict[str, Any]] = []  # given once per run, carried to fresh sessions
        self._last_load: float | None = None
        self.page_loads = 0

    def __enter__(self) -> PageFetcher:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._discard_session()

    def fetch(self, url: str, read: PageReader[T]) -> T:
        """`read(session)` on the loaded page; blocked/failed loads are retried with exponential backoff."""
        attempts = self._settings.scrape_max_retries + 1
        for attempt in range(1, attempts + 1):
            try:
                return self._load_and_read(url, read)
            except _RETRYABLE as exc:
                self._discard_session()
                if attempt == attempts:
                    raise
                delay = self._settings.scrape_backoff_base_seconds * 2 ** (attempt - 1)
                log.warning("attempt %d/%d for %s failed (%s); retrying in %.1f s", attempt, attempts, url, exc, delay)
                self._sleep(delay)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _load_and_read(self, url: str, read: PageReader[T]) -> T:
        self._respect_rate_limit()
        session = self._current_session()
        self.page_loads += 1
        session.open(url)
        reason = block_reason(session.source)
        if reason is not None:
            raise PageBlocked(url, reason)
        consent_shown = has_consent_banner(session.source) and session.consent_visible()
        if consent_shown:
            consent_shown = not self._give_consent(session)
        try:
            return read(session)
        except PageShapeError:
            # Without its data, a page still covered by the consent dialog is blocked by it (retryable);
            # with its data, a dialog in the DOM (shown or hidden) never ends a run.
            if consent_shown:
                raise PageBlocked(url, "consent banner") from None
            raise

    def _give_consent(self, session: BrowserSession) -> bool:
        """Consent once per run (a fresh session after a retry gets the first one's cookies); True when it is gone."""
        if self._consent_cookies:
            session.restore_cookies(self._consent_cookies)
            if not session.consent_visible():
                return True
        if session.dismiss_consent():
            self._consent_cookies = session.cookies()
        return not session.consent_visible()

    def _respect_rate_limit(self) -> None:
        now = time.monotonic()
        if self._last_load is not None:
            wanted = (
                self._settings.scrape_rate_limit_seconds + self._settings.scrape_rate_jitter_seconds * self._jitter()
            )
            remaining = wanted - (now - self._last_load)
            if remaining > 0:
                self._sleep(remaining)
        self._last_load = time.monotonic()

    def _current_session(self) -> BrowserSession:
        if self._session is None:
            self._session = self._driver_factory()
        return self._session

    def _discard_session(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            session.close()
