"""Verify a Medblocks Connect webhook: `Medblocks-Signature: t=<unix>,v1=<hex>`.

v1 is HMAC-SHA256 keyed with the endpoint's secret over `<t>.<raw body>`; the raw
bytes are verified (re-serialised JSON would not match), `t` must be within 300 s of
our clock, and signatures are compared in constant time. Standard library only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

TOLERANCE_S = 300


class SignatureError(Exception):
    """The delivery does not verify; `reason` says why (answer 400)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise SignatureError("malformed_header")
        if key == "t":
            if not value.isdigit():
                raise SignatureError("malformed_header")
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise SignatureError("malformed_header")
    return timestamp, signatures


def verify(
    raw_body: bytes,
    header: str | None,
    secret: str,
    now: Callable[[], float] = time.time,
) -> dict[str, Any]:
    """The event, if `header` signs `raw_body` with `secret`; else `SignatureError`."""
    if not header:
        raise SignatureError("missing_header")
    timestamp, signatures = _parse(header)
    if abs(now() - timestamp) > TOLERANCE_S:
        raise SignatureError("timestamp_outside_tolerance")
    signed = str(timestamp).encode() + b"." + raw_body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise SignatureError("no_matching_signature")
    try:
        event = json.loads(raw_body)
    except ValueError:
        raise SignatureError("invalid_json") from None
    if not isinstance(event, dict) or not isinstance(event.get("id"), str):
        raise SignatureError("invalid_json")
    return event
