"""Query strings: `urllib.parse.urlencode`'s answer, without quoting what needs none.

A search's parameters are mostly ids and numbers, which `quote_plus` returns as
they are after several calls' work; `urlencode` here answers the same text and
quotes only the values with other characters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote_plus

# What `quote_plus` leaves as it is (`urllib.parse`'s always-safe characters).
_SAFE = re.compile(r"[A-Za-z0-9_.\-~]*")


def _quoted(value: object) -> str:
    text = value if isinstance(value, str) else str(value)
    return text if _SAFE.fullmatch(text) else quote_plus(text)


def urlencode(query: Mapping[str, object] | Iterable[tuple[str, object]]) -> str:
    """`urllib.parse.urlencode(query)` for str and int keys and values (no `doseq`)."""
    pairs = query.items() if isinstance(query, Mapping) else query
    return "&".join(f"{_quoted(key)}={_quoted(value)}" for key, value in pairs)
