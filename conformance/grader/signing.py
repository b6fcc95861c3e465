"""Signing a delivery as Medblocks does (fact sheet §4.3).

`Medblocks-Signature: t=<unix seconds>,v1=<hex>`, where `v1` is the lowercase
hex HMAC-SHA256 of `"<t>.<raw body>"` keyed with the endpoint's signing secret
(the full `whsec_…` string, as UTF-8 bytes).
"""

from __future__ import annotations

import hashlib
import hmac
import re

HEADER = "Medblocks-Signature"
TOLERANCE_SECONDS = 300

_V1 = re.compile(r"(v1=)[0-9a-fA-F]+")


def sign(raw_body: bytes, secret: str, timestamp: int) -> str:
    """The lowercase hex HMAC-SHA256 of `"<timestamp>.<raw body>"` keyed with `secret`."""
    message = str(int(timestamp)).encode() + b"." + raw_body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(raw_body: bytes, secret: str, timestamp: int) -> str:
    """The `Medblocks-Signature` value for `raw_body` signed at `timestamp`."""
    return f"t={int(timestamp)},v1={sign(raw_body, secret, timestamp)}"


def redact_signature(value: str) -> str:
    """A header value fit for a report: the timestamp kept, every `v1` digest hidden."""
    return _V1.sub(r"\1[redacted]", value)
