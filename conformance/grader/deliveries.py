"""The graded items: each a few deliveries and what the receiver must answer to them.

A valid delivery is signed exactly as Medblocks signs one (§4.3); a forged one
breaks one rule of the signature. Every item is built at the instant it is
sent, so its timestamps are fresh.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from conformance.grader import events
from conformance.grader.events import Story
from conformance.grader.signing import HEADER, TOLERANCE_SECONDS, signature_header

USER_AGENT = "Medblocks-Webhooks/1.0 (connect-conformance grader)"
# How far before "now" the stale delivery is signed: past the 300 s tolerance by a minute,
# so a small clock difference between grader and receiver does not change the verdict.
STALE_SECONDS = TOLERANCE_SECONDS + 60
# The earlier attempt of the slow retry (§4.4: the second attempt comes a minute after the first).
RETRY_GAP_SECONDS = 60
# When the retried event was created: attempt 5 of §4.4 comes 2 h 36 min after the first.
RETRY_AGE_SECONDS = 2 * 3600 + 36 * 60
# A different secret, for a delivery signed with the wrong one.
WRONG_SECRET = "whsec_" + "0" * 24 + "grader" + "f" * 26


class Expect(StrEnum):
    """What every delivery of an item must get back."""

    ACK = "ack"  # a 2xx within the time-out
    REJECT = "reject"  # a 4xx within the time-out


@dataclass(frozen=True)
class Delivery:
    """One POST: the raw body, its headers, and what it stands for in the report."""

    label: str
    body: bytes
    headers: dict[str, str]


def headers(body: bytes, secret: str | None, timestamp: int) -> dict[str, str]:
    """Medblocks' request headers; `secret=None` leaves the signature out."""
    sent = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    if secret is not None:
        sent[HEADER] = signature_header(body, secret, timestamp)
    return sent


def signed(label: str, body: bytes, secret: str, timestamp: float) -> Delivery:
    return Delivery(label, body, headers(body, secret, int(timestamp)))


def event_body(story: Story, event_type: str, at: float, event_id: str | None = None) -> bytes:
    return events.encode(
        events.envelope(event_type, events.payload(story, event_type, at), at, event_id)
    )


Build = Callable[[Story, str, float], list[Delivery]]


@dataclass(frozen=True)
class Item:
    """One graded item: a stable id, the requirement, its fact-sheet section, the deliveries."""

    id: str
    requirement: str
    source: str
    expect: Expect
    build: Build


def valid(event_type: str) -> Build:
    def build(story: Story, secret: str, now: float) -> list[Delivery]:
        body = event_body(story, event_type, now)
        return [signed(f"a valid {event_type}", body, secret, now)]

    return build


def bad_signature(story: Story, secret: str, now: float) -> list[Delivery]:
    body = event_body(story, events.SYNC_FAILED, now)
    good = signature_header(body, secret, int(now))
    digest = good.split("v1=", 1)[1]
    flipped = ("0" if digest[0] != "0" else "1") + digest[1:]
    sent = headers(body, None, int(now))
    sent[HEADER] = f"t={int(now)},v1={flipped}"
    return [Delivery("a delivery whose v1 digest is wrong", body, sent)]


def wrong_secret(story: Story, secret: str, now: float) -> list[Delivery]:
    body = event_body(story, events.SYNC_FAILED, now)
    return [signed("a delivery signed with another secret", body, WRONG_SECRET, now)]


def missing_signature(story: Story, secret: str, now: float) -> list[Delivery]:
    body = event_body(story, events.SYNC_FAILED, now)
    return [Delivery(f"a delivery without {HEADER}", body, headers(body, None, int(now)))]


def stale_timestamp(story: Story, secret: str, now: float) -> list[Delivery]:
    then = now - STALE_SECONDS
    body = event_body(story, events.SYNC_FAILED, then)
    return [signed(f"a delivery signed {STALE_SECONDS} s ago", body, secret, then)]


def tamper(body: bytes) -> bytes:
    """The body with one byte changed: the `total` count (JSON stays valid)."""
    marker = b'"total":'
    at = body.index(marker) + len(marker)
    digit = b"9" if body[at : at + 1] != b"9" else b"8"
    return body[:at] + digit + body[at + 1 :]


def tampered_body(story: Story, secret: str, now: float) -> list[Delivery]:
    body = event_body(story, events.SYNC_COMPLETED, now)
    sent = headers(body, secret, int(now))
    return [Delivery("a signed delivery with one byte changed after signing", tamper(body), sent)]


def unknown_type(story: Story, secret: str, now: float) -> list[Delivery]:
    body = event_body(story, events.UNKNOWN_TYPE, now)
    return [signed(f"a valid delivery of an unknown type {events.UNKNOWN_TYPE}", body, secret, now)]


def duplicate(story: Story, secret: str, now: float) -> list[Delivery]:
    body = event_body(story, events.SYNC_COMPLETED, now)
    return [
        signed("the first delivery of an event", body, secret, now),
        signed("the same event delivered again", body, secret, now),
    ]


def out_of_order(story: Story, secret: str, now: float) -> list[Delivery]:
    earlier = event_body(story, events.SESSION_COMPLETED, now - 60)
    later = event_body(story, events.SYNC_COMPLETED, now)
    return [
        signed("the later event (records.sync.completed) first", later, secret, now),
        signed("then the earlier one (patient_session.completed)", earlier, secret, now),
    ]


def slow_retry(story: Story, secret: str, now: float) -> list[Delivery]:
    body = event_body(story, events.SYNC_FAILED, now - RETRY_AGE_SECONDS)
    return [
        signed("an attempt of an event created hours ago", body, secret, now - RETRY_GAP_SECONDS),
        signed("its retry, signed afresh", body, secret, now),
    ]


ITEMS: tuple[Item, ...] = (
    Item(
        "RCV-001",
        "A valid patient_session.completed is acknowledged 2xx within the time-out",
        "§4.1, §4.2",
        Expect.ACK,
        valid(events.SESSION_COMPLETED),
    ),
    Item(
        "RCV-002",
        "A valid connection.token_refresh_failed is acknowledged 2xx within the time-out",
        "§4.1, §4.2",
        Expect.ACK,
        valid(events.TOKEN_REFRESH_FAILED),
    ),
    Item(
        "RCV-003",
        "A valid records.sync.completed is acknowledged 2xx within the time-out",
        "§4.1, §4.2",
        Expect.ACK,
        valid(events.SYNC_COMPLETED),
    ),
    Item(
        "RCV-004",
        "A valid records.sync.failed is acknowledged 2xx within the time-out",
        "§4.1, §4.2",
        Expect.ACK,
        valid(events.SYNC_FAILED),
    ),
    Item(
        "RCV-005",
        "A delivery with a bad v1 signature is refused with a 4xx",
        "§4.3",
        Expect.REJECT,
        bad_signature,
    ),
    Item(
        "RCV-006",
        "A delivery signed with another secret is refused with a 4xx",
        "§4.3",
        Expect.REJECT,
        wrong_secret,
    ),
    Item(
        "RCV-007",
        "A delivery without a Medblocks-Signature header is refused with a 4xx",
        "§4.3",
        Expect.REJECT,
        missing_signature,
    ),
    Item(
        "RCV-008",
        "A delivery signed outside the 300 s tolerance is refused with a 4xx",
        "§4.3",
        Expect.REJECT,
        stale_timestamp,
    ),
    Item(
        "RCV-009",
        "A body changed after signing is refused with a 4xx (verified over the raw bytes)",
        "§4.3",
        Expect.REJECT,
        tampered_body,
    ),
    Item(
        "RCV-010",
        "A validly signed event of an unknown type is acknowledged 2xx (and ignored)",
        "§4.1, §4.2",
        Expect.ACK,
        unknown_type,
    ),
    Item(
        "RCV-011",
        "The same event delivered twice is acknowledged 2xx both times",
        "§1.7, §4.2",
        Expect.ACK,
        duplicate,
    ),
    Item(
        "RCV-012",
        "A later event delivered before an earlier one: both acknowledged 2xx",
        "§4.2",
        Expect.ACK,
        out_of_order,
    ),
    Item(
        "RCV-013",
        "A retry of an hours-old event, signed afresh, is acknowledged 2xx",
        "§4.2, §4.4",
        Expect.ACK,
        slow_retry,
    ),
)
