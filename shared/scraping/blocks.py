"""Recognise block and challenge pages (NOTES §3.6) so they are retried, never parsed as data.

A consent banner is not a block by itself: WhoScored keeps its dialog in the DOM on pages whose data
loaded fine. The fetcher decides from the banner's visibility and the data's presence (`fetch.py`).
"""

from __future__ import annotations

from lxml import html

# Marker text → what blocked us. Incapsula's are soccerdata's; Cloudflare's are its challenge texts.
_MARKERS: tuple[tuple[str, str], ...] = (
    ("Incapsula incident ID", "Incapsula"),
    ("/_Incapsula_Resource", "Incapsula"),
    ("Just a moment...", "Cloudflare"),
    ("Checking your browser", "Cloudflare"),
    ("Verify you are human", "Cloudflare"),
    ("cf-challenge", "Cloudflare"),
    ("Please stand by", "Cloudflare"),
    ("Sorry, you have been blocked", "Cloudflare"),
    ("Ray ID:", "Cloudflare"),
)
CONSENT_BUTTON_XPATH = "//button[./span[normalize-space(text())='AGREE']]"


def block_reason(source: str) -> str | None:
    """What blocked the page ("Incapsula", "Cloudflare"), or None for a real page."""
    for marker, reason in _MARKERS:
        if marker in source:
            return reason
    return None


def has_consent_banner(source: str) -> bool:
    """Whether the page carries the consent dialog's AGREE button (shown or not)."""
    return "AGREE" in source and _has_consent_button(source)


def _has_consent_button(source: str) -> bool:
    try:
        document = html.document_fromstring(source.encode("utf-8"), parser=html.HTMLParser(encoding="utf-8"))
    except Exception:  # lxml raises several types for unusable input: then there is no button
        return False
    return bool(document.xpath(CONSENT_BUTTON_XPATH))
