"""No token, code or secret in any response (fact sheet §5 "tokens are never exposed",
§1.6 "`secret` appears only in create and rotate responses").

The suite's client replaces API keys and `whsec_` secrets with a marker before
keeping an exchange, so a marker in a response body is a secret the target sent.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from conformance.http import REDACTED
from conformance.results import Exchange

_TOKEN_FIELD = re.compile(
    r'"(access_token|refresh_token|id_token|code_verifier|client_secret|secret)"\s*:\s*"'
)
_CODE_PARAM = re.compile(r"[?&]code=[^&\"\s]+")
_SHOWS_SECRET = re.compile(r"^/webhooks(/[^/]+/rotate-secret)?$")  # create and rotate


def path_of(exchange: Exchange) -> str:
    return urlsplit(exchange.url).path


def find_leak(exchange: Exchange) -> str | None:
    """What secret the response of `exchange` gives away, if any."""
    body = exchange.response_body
    if not isinstance(body, str):
        return None
    shows_secret = exchange.method == "POST" and _SHOWS_SECRET.match(path_of(exchange))
    if _CODE_PARAM.search(body):
        return "an OAuth code"
    token = _TOKEN_FIELD.search(body)
    if token and not (shows_secret and token.group(1) == "secret"):
        return f"a {token.group(1)} value"
    if REDACTED in body and not shows_secret:
        return "an API key or webhook secret"
    return None
