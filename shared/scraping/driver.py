"""Browser sessions on a remote WebDriver (Selenoid, or any chromedriver) built from settings."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.common.exceptions import JavascriptException, WebDriverException
from selenium.webdriver.chrome.options import Options as ChromeOptions
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from shared.config import Settings
from shared.scraping.blocks import CONSENT_BUTTON_XPATH

# What headless Chromium needs when it runs as root in a container, and what keeps it from phoning home.
_CONTAINER_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


class BrowserSession:
    """One browser: load a URL, read its source, evaluate the page's JS, dismiss the consent banner."""

    def __init__(self, driver: WebDriver, profile_dir: Path | None = None) -> None:
        self.driver = driver
        self._profile_dir = profile_dir

    def open(self, url: str) -> None:
        self.driver.get(url)

    @property
    def source(self) -> str:
        return self.driver.page_source

    def evaluate(self, expression: str) -> Any:
        """The value of a JS expression on the page, or None when it throws (variable not defined)."""
        try:
            return self.driver.execute_script(f"return {expression};")
        except JavascriptException:
            return None

    def consent_visible(self) -> bool:
        """Whether a consent dialog is shown over the page (one kept hidden in the DOM blocks nothing)."""
        return any(button.is_displayed() for button in self.driver.find_elements(By.XPATH, CONSENT_BUTTON_XPATH))

    def dismiss_consent(self) -> bool:
        for button in self.driver.find_elements(By.XPATH, CONSENT_BUTTON_XPATH):
            if button.is_displayed():
                button.click()
                return True
        return False

    def cookies(self) -> list[dict[str, Any]]:
        return self.driver.get_cookies()

    def restore_cookies(self, cookies: list[dict[str, Any]]) -> None:
        """Add cookies of an earlier session (the page's domain must be loaded) and reload with them."""
        for cookie in cookies:
            self.driver.add_cookie(cookie)
        self.driver.refresh()

    def close(self) -> None:
        try:
            self.driver.quit()
        except WebDriverException:
            pass  # the session is already gone: nothing left to close
        finally:
            if self._profile_dir is not None:
                # Only exists here when the browser runs on this machine (a local chromedriver).
                shutil.rmtree(self._profile_dir, ignore_errors=True)


DriverFactory = Callable[[], BrowserSession]


def chrome_options(settings: Settings, profile_dir: Path) -> ChromeOptions:
    options = ChromeOptions()
    if settings.scrape_headless:
        options.add_argument("--headless=new")
    for flag in _CONTAINER_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--window-size={settings.scrape_window_size}")
    options.add_argument(f"--user-data-dir={profile_dir}")  # a new, empty profile per session
    if settings.scrape_user_agent:
        options.add_argument(f"--user-agent={settings.scrape_user_agent}")
    return options


def remote_browser_factory(settings: Settings) -> DriverFactory:
    """A factory of fresh sessions on `settings.selenoid_url`."""
    if not settings.selenoid_url:
        raise ValueError("SELENOID_URL is not set: the scraper needs a remote WebDriver")

    def new_session() -> BrowserSession:
        profile_dir = Path("/tmp") / f"t2b-chrome-{uuid.uuid4().hex}"
        driver = webdriver.Remote(command_executor=settings.selenoid_url, options=chrome_options(settings, profile_dir))
        try:
            driver.set_page_load_timeout(settings.scrape_page_load_timeout_seconds)
        except BaseException:
            driver.quit()
            raise
        return BrowserSession(driver, profile_dir)

    return new_session
