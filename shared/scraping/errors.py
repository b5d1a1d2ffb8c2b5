"""What can go wrong with a WhoScored page, as exceptions the navigation layer tells apart."""

from __future__ import annotations

from shared.ingest.runs import RunBlocked


class PageShapeError(ValueError):
    """A page parsed without a field its type always has: WhoScored changed the markup."""

    def __init__(self, page_type: str, missing: str, detail: str = "") -> None:
        suffix = f": {detail}" if detail else ""
        super().__init__(f"{page_type} page: missing or malformed {missing}{suffix}")
        self.page_type = page_type
        self.missing = missing


class EmptyPageData(PageShapeError):
    """The page came without its data (e.g. `matchCentreData` null): worth one more load."""


class PageBlocked(RunBlocked):
    """A block, challenge or consent wall instead of the page: retryable, never parsed as data."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"blocked by {reason} at {url}")
        self.url = url
        self.reason = reason
