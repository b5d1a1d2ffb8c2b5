"""Team names as the alias table keys them: accents, punctuation, case and club-type tokens removed.

Apart from shared.teams (the alias table's writer) so that readers of names, POST /predict among them,
need no database layer to normalise one.
"""

from __future__ import annotations

import re
import unicodedata

# Tokens that say what kind of club it is rather than which club ("FC Barcelona" = "Barcelona").
_CLUB_TOKENS = frozenset(
    {
        "fc",
        "cf",
        "afc",
        "sc",
        "ac",
        "ssc",
        "as",
        "ss",
        "us",
        "vfb",
        "vfl",
        "tsg",
        "sv",
        "rc",
        "ogc",
        "osc",
        "cd",
        "ud",
        "sd",
        "rcd",
        "club",
        "calcio",
        "1899",
        "1846",
    }
)
_NON_WORD = re.compile(r"[^a-z0-9]+")


def normalise_name(name: str) -> str:
    """`'Málaga CF'` → `'malaga'`; `"M'gladbach"` → `'mgladbach'`."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    ascii_name = ascii_name.replace("'", "").replace(".", "")
    tokens = [t for t in _NON_WORD.split(ascii_name) if t]
    kept = [t for t in tokens if t not in _CLUB_TOKENS]
    return " ".join(kept or tokens)
