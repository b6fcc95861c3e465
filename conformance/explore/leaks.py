"""No token, code or secret in any response (fact sheet §5 "tokens are never exposed",
§1.6 "`secret` appears only in create and rotate responses").

The suite's client replaces API keys and `whsec_` secrets with a marker before
keeping an exchange, so a marker in a response body is a secret the target sent.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from conformance.http import REDACTED
from conformance.results import Exchange

TOKEN_KEYS = frozenset(
    {"access_token", "refresh_token", "id_token", "code_verifier", "client_secret", "secret"}
)
_CODE_PARAM = re.compile(r"[?&]code=[^&\"\s]+")
_SHOWS_SECRET = re.compile(r"^/webhooks(/[^/]+/rotate-secret)?$")  # create and rotate


@dataclass(frozen=True)
class Leak:
    path: str  # where in the JSON body (a.b[0].c)
    what: str
    matcher: dict[str, Any]  # a scenario matcher that holds when the leak is gone


def path_of(exchange: Exchange) -> str:
    return urlsplit(exchange.url).path


def find_leak(exchange: Exchange) -> Leak | None:
    """What secret the response of `exchange` gives away, if any, and where."""
    body = exchange.response_body
    if not isinstance(body, str):
        return None
    try:
        value = json.loads(body)
    except ValueError:
        value = body
    shows_secret = bool(exchange.method == "POST" and _SHOWS_SECRET.match(path_of(exchange)))
    return _walk(value, "", shows_secret)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _walk(value: Any, path: str, shows_secret: bool) -> Leak | None:
    if isinstance(value, dict):
        for key, item in value.items():
            allowed = shows_secret and key == "secret" and not path
            if key in TOKEN_KEYS and isinstance(item, str) and item and not allowed:
                return Leak(_join(path, key), f"a value for {key}", {"not": {"regex": "."}})
            found = _walk(item, _join(path, str(key)), shows_secret)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _walk(item, f"{path}[{index}]", shows_secret)
            if found is not None:
                return found
    elif isinstance(value, str):
        if _CODE_PARAM.search(value):
            return Leak(path, "an OAuth code", {"not": {"regex": "[?&]code="}})
        if REDACTED in value and not (shows_secret and path == "secret"):
            return Leak(path, "an API key or webhook secret", {"not": {"regex": "whsec_|mb_sk_"}})
    return None
