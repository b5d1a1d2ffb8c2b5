"""Recognise block, challenge and consent pages (NOTES §3.6) so they are retried, never parsed as data."""

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
    """What blocked the page ("Incapsula", "Cloudflare", "consent banner"), or None for a real page."""
    for marker, reason in _MARKERS:
        if marker in source:
            return reason
    if "AGREE" in source and _has_consent_button(source):
        return "consent banner"
    return None


def _has_consent_button(source: str) -> bool:
    try:
        document = html.document_fromstring(source.encode("utf-8"), parser=html.HTMLParser(encoding="utf-8"))
    except Exception:  # lxml raises several types for unusable input: then there is no button
        return False
    return bool(document.xpath(CONSENT_BUTTON_XPATH))
