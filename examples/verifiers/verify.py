"""Verify a Medblocks-Signature header (Python standard library only).

MEDBLOCKS_SIGNATURE='t=…,v1=…' MEDBLOCKS_WEBHOOK_SECRET=whsec_… python verify.py body.json
"""

import hashlib
import hmac
import os
import sys
import time

TOLERANCE_S = 300


def verify(payload: bytes, header: str, secret: str, now: float | None = None) -> None:
    """Raise ValueError(reason) unless `header` signs `payload` with `secret`, fresh."""
    timestamp, signatures = None, []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise ValueError("malformed_header")
    if abs((time.time() if now is None else now) - timestamp) > TOLERANCE_S:
        raise ValueError("timestamp_outside_tolerance")
    signed = str(timestamp).encode() + b"." + payload
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, sig) for sig in signatures):
        raise ValueError("no_matching_signature")


if __name__ == "__main__":
    with open(sys.argv[1], "rb") as body:
        raw = body.read()
    try:
        verify(raw, os.environ["MEDBLOCKS_SIGNATURE"], os.environ["MEDBLOCKS_WEBHOOK_SECRET"])
    except ValueError as reason:
        print(f"invalid: {reason}")
        sys.exit(1)
    print("ok")
