"""Durations as QA writes them: `500ms`, `90s`, `90m`, `2h`, `1d`, and combinations (`1d2h30m`)."""

from __future__ import annotations

import re

UNITS_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
PATTERN = r"^(\d+(\.\d+)?(ms|s|m|h|d))+$"


class DurationError(ValueError):
    """A duration that cannot be read."""


def parse_duration(text: str | int | float) -> int:
    """Milliseconds in `text`; a bare number is seconds. Raises DurationError."""
    if isinstance(text, bool):
        raise DurationError(f"{text!r} is not a duration")
    if isinstance(text, int | float):
        if text < 0:
            raise DurationError(f"{text!r} is negative")
        return int(round(text * 1000))
    value = str(text).strip().replace(" ", "")
    if not re.fullmatch(PATTERN, value):
        raise DurationError(
            f"'{text}' is not a duration: write a number and a unit (ms, s, m, h, d),"
            " e.g. 90m or 1d2h"
        )
    return int(sum(round(float(n) * UNITS_MS[u]) for n, u in _PART.findall(value)))


def format_duration(ms: int) -> str:
    """`90060000` -> `1d1h1m`; 0 -> `0s`."""
    if ms == 0:
        return "0s"
    parts = []
    for unit in ("d", "h", "m", "s", "ms"):
        size = UNITS_MS[unit]
        if ms >= size:
            parts.append(f"{ms // size}{unit}")
            ms %= size
    return "".join(parts)
