"""The `Medblocks-Signature` header: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`.

The key is the endpoint's full `whsec_…` secret (its UTF-8 bytes). A header
may carry several `v1=` values; a verifier accepts the body when any matches.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

HEADER = "Medblocks-Signature"
DEFAULT_TOLERANCE = 300


class SignatureError(ValueError):
    """Verification failed; `reason` is one of `REASONS`."""

    MISSING_HEADER = "missing_header"
    MALFORMED_HEADER = "malformed_header"
    TIMESTAMP_OUTSIDE_TOLERANCE = "timestamp_outside_tolerance"
    NO_MATCHING_SIGNATURE = "no_matching_signature"
    INVALID_JSON = "invalid_json"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


REASONS = (
    SignatureError.MISSING_HEADER,
    SignatureError.MALFORMED_HEADER,
    SignatureError.TIMESTAMP_OUTSIDE_TOLERANCE,
    SignatureError.NO_MATCHING_SIGNATURE,
    SignatureError.INVALID_JSON,
)


def _bytes(value: bytes | str) -> bytes:
    return value.encode() if isinstance(value, str) else value


def sign(raw_body: bytes | str, secret: str, timestamp: int) -> str:
    """Lowercase hex HMAC-SHA256 of `"<timestamp>.<raw body>"` keyed with `secret`."""
    message = str(int(timestamp)).encode() + b"." + _bytes(raw_body)
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(raw_body: bytes | str, secrets: list[str], timestamp: int) -> str:
    """The header value signing `raw_body` with each secret (one `v1=` per secret)."""
    parts = [f"t={int(timestamp)}"] + [f"v1={sign(raw_body, s, timestamp)}" for s in secrets]
    return ",".join(parts)


def parse_header(header: str) -> tuple[int, list[str]]:
    """The timestamp and the `v1` values of a header; SignatureError if malformed."""
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            raise SignatureError(
                SignatureError.MALFORMED_HEADER, f"Header element '{item.strip()}' is not k=v"
            )
        if key == "t":
            if timestamp is not None or not value.isdigit():
                raise SignatureError(
                    SignatureError.MALFORMED_HEADER, "The 't' element must be one unix timestamp"
                )
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None:
        raise SignatureError(SignatureError.MALFORMED_HEADER, "The header has no 't' element")
    if not signatures:
        raise SignatureError(SignatureError.MALFORMED_HEADER, "The header has no 'v1' element")
    return timestamp, signatures


def verify_signature(
    raw_body: bytes | str,
    header: str | None,
    secret: str,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> dict[str, Any]:
    """Verify a delivery and return the decoded event; raise SignatureError otherwise.

    `raw_body` must be the bytes as received (re-serialised JSON does not verify).
    `now` is unix seconds (defaults to the machine clock); the timestamp may be
    at most `tolerance` seconds away from it in either direction.
    """
    if header is None or not header.strip():
        raise SignatureError(SignatureError.MISSING_HEADER, f"No {HEADER} header")
    timestamp, signatures = parse_header(header)
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise SignatureError(
            SignatureError.TIMESTAMP_OUTSIDE_TOLERANCE,
            f"Timestamp {timestamp} is more than {tolerance} s from now ({int(current)})",
        )
    expected = sign(raw_body, secret, timestamp)
    matched = False
    for candidate in signatures:  # look at every value: no early exit on a match
        if hmac.compare_digest(expected.encode(), candidate.strip().lower().encode()):
            matched = True
    if not matched:
        raise SignatureError(
            SignatureError.NO_MATCHING_SIGNATURE, "No v1 signature matches the body and secret"
        )
    try:
        event = json.loads(_bytes(raw_body))
    except (ValueError, UnicodeDecodeError):
        raise SignatureError(SignatureError.INVALID_JSON, "The body is not valid JSON") from None
    if not isinstance(event, dict):
        raise SignatureError(SignatureError.INVALID_JSON, "The body is not a JSON object")
    return event
