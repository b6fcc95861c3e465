"""Secrets out of reports, and values that change between runs made stable."""

from __future__ import annotations

import re
from typing import Any

SECRET_KEYS = {
    "secret",
    "access_token",
    "refresh_token",
    "id_token",
    "api_key",
    "token",
    "code",
    "state",
    "signature_header",
    "medblocks-signature",
    "authorization",
    "client_secret",
    "registration_access_token",
}
WALL_KEYS = {"duration_ms", "request_id"}
_PATTERNS = [
    (re.compile(r"whsec_[A-Za-z0-9]+"), "whsec_<redacted>"),
    (re.compile(r"mb_sk_[A-Za-z0-9_]+"), "mb_sk_<redacted>"),
    (re.compile(r"/c/[0-9a-f]{16,}"), "/c/<redacted>"),
    (re.compile(r"([?&](?:code|state)=)[^&\s\"']+"), r"\1<redacted>"),
    (re.compile(r"t=\d+,v1=[0-9a-f]+"), "t=<redacted>,v1=<redacted>"),
]


def redact(value: Any) -> Any:
    """A copy of `value` with secrets replaced and wall-clock values blanked."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            lowered = str(key).lower()
            if lowered in SECRET_KEYS and isinstance(item, str) and item:
                out[key] = "<redacted>"
            elif lowered in WALL_KEYS:
                out[key] = None
            else:
                out[key] = redact(item)
        return out
    if isinstance(value, list):
        return [redact(v) for v in value]
    if isinstance(value, str):
        for pattern, repl in _PATTERNS:
            value = pattern.sub(repl, value)
        return value
    return value
