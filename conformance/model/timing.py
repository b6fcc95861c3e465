"""Instants as integer milliseconds, and the session expiry rule (fact sheet §1, §1.3)."""

from __future__ import annotations

from datetime import UTC, datetime

DEFAULT_EXPIRES_IN_S = 1800  # §1.3: default 30 minutes
MIN_EXPIRES_IN_S = 60  # §1.3: 60–86400
MAX_EXPIRES_IN_S = 86400


def parse_ms(instant: str) -> int:
    """`2026-04-25T14:30:00.000Z` as milliseconds since the epoch."""
    parsed = datetime.fromisoformat(instant.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return round(parsed.timestamp() * 1000)


def iso_ms(ms: int) -> str:
    """Milliseconds since the epoch in the contract's form: milliseconds and `Z` (§1)."""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def valid_expires_in(seconds: object) -> bool:
    """§1.3: `expires_in` is an integer number of seconds in 60–86400."""
    return (
        isinstance(seconds, int)
        and not isinstance(seconds, bool)
        and MIN_EXPIRES_IN_S <= seconds <= MAX_EXPIRES_IN_S
    )


def session_expires_at(created_at_ms: int, expires_in: int | None = None) -> int:
    """§1.3: `expires_at` = `created_at` + `expires_in` (default 1800 s), to the millisecond."""
    seconds = DEFAULT_EXPIRES_IN_S if expires_in is None else expires_in
    if not valid_expires_in(seconds):
        raise ValueError(f"expires_in must be an integer in 60–86400, not {seconds!r}")
    return created_at_ms + seconds * 1000


def session_has_expired(expires_at_ms: int, now_ms: int) -> bool:
    """§3.1: `open` becomes `expired` when now ≥ `expires_at` (the instant itself counts)."""
    return now_ms >= expires_at_ms
