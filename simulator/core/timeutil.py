"""Time formatting and parsing. The only place that reads the wall clock."""

from __future__ import annotations

import time
from datetime import UTC, datetime

MS = 1
SECOND = 1000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR


def wall_ms() -> int:
    """Milliseconds since the epoch by the machine's clock (virtual clocks build on this)."""
    return time.time_ns() // 1_000_000


def iso(ms: int | None) -> str | None:
    """ISO 8601 with milliseconds and `Z`, e.g. `2026-04-25T14:30:00.000Z`."""
    if ms is None:
        return None
    t = datetime.fromtimestamp(ms // 1000, UTC)
    return (
        f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
        f".{ms % 1000:03d}Z"
    )


def parse_iso(value: str) -> int:
    """Parse an ISO 8601 date or date-time into epoch milliseconds (naive means UTC).

    Raises ValueError on anything else.
    """
    if not isinstance(value, str) or not value.strip():
        raise ValueError("not a date-time string")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def unix_seconds(ms: int) -> int:
    return ms // 1000
