"""Webhook delivery: when each attempt is made and when an endpoint is disabled (§4.4, §3.4).

Attempt 1 is immediate; each later attempt waits the delay after the one
before it; the ninth is the last automatic attempt. Open question 7 is settled
as the simulator records it (docs/decisions.md "Webhooks", auto-disable is per
event): the endpoint becomes `disabled` when the ninth automatic attempt of one
event fails; other events' successes reset nothing, manual redeliveries count
in `attempts` but neither move the schedule nor disable the endpoint.
"""

from __future__ import annotations

from collections.abc import Sequence

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS

# §4.4, delay after the previous attempt, for attempts 1..9
DELAYS_MS: tuple[int, ...] = (
    0,
    1 * MINUTE_MS,
    5 * MINUTE_MS,
    30 * MINUTE_MS,
    2 * HOUR_MS,
    12 * HOUR_MS,
    24 * HOUR_MS,
    24 * HOUR_MS,
    24 * HOUR_MS,
)
MAX_ATTEMPTS = len(DELAYS_MS)
REDELIVER_WINDOW_MS = 60_000  # §2.6: one redelivery per event per 60 s


def attempt_offset_ms(n: int) -> int:
    """Milliseconds from the event to automatic attempt `n` (1-based): §4.4 "Cumulative"."""
    if not 1 <= n <= MAX_ATTEMPTS:
        raise ValueError(f"attempt {n} is outside 1–{MAX_ATTEMPTS}")
    return sum(DELAYS_MS[:n])


def attempt_time_ms(event_ms: int, n: int) -> int:
    """When automatic attempt `n` of an event created at `event_ms` is made."""
    return event_ms + attempt_offset_ms(n)


def next_attempt_ms(event_ms: int, failed_attempts: int) -> int | None:
    """`next_attempt_at` after `failed_attempts` automatic failures: null once exhausted."""
    if failed_attempts >= MAX_ATTEMPTS:
        return None
    return attempt_time_ms(event_ms, failed_attempts + 1)


def disables_endpoint(attempt: int, succeeded: bool) -> bool:
    """§3.3/§4.4: the ninth automatic attempt of an event failing disables the endpoint."""
    return attempt == MAX_ATTEMPTS and not succeeded


def is_success(status_code: int | None) -> bool:
    """§4.2: success is any 2xx (a timeout or refused connection has no status)."""
    return status_code is not None and 200 <= status_code < 300


def answer(sequence: Sequence[int], index: int) -> int:
    """The status a receiver answering `sequence` in turn gives its `index`-th request

    (the last answer repeats; an empty sequence answers 200).
    """
    if not sequence:
        return 200
    return sequence[min(index, len(sequence) - 1)]


def redeliver_allowed(last_redelivered_ms: int | None, now_ms: int) -> bool:
    """§2.6: at most one redelivery per event per 60 s."""
    return last_redelivered_ms is None or now_ms - last_redelivered_ms >= REDELIVER_WINDOW_MS


def retry_after_s(last_redelivered_ms: int, now_ms: int) -> int:
    """§2.6: `Retry-After` in whole seconds (at least 1) until the next redelivery may run."""
    left = REDELIVER_WINDOW_MS - (now_ms - last_redelivered_ms)
    return max(1, -(-left // 1000))
