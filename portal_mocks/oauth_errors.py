"""OAuth 2.0 errors (RFC 6749 4.1.2.1 and 5.2) as plain values; the HTTP layer renders them.

An authorize-step error becomes a redirect to the client's `redirect_uri`
with `error`, `error_description` (ASCII without `"` and `\\`) and `state`,
unless the client or its redirect URI cannot be trusted, in which case it is
an error page. A token-endpoint error is JSON with `Cache-Control: no-store`.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from portal_mocks.profiles import Portal

TOKEN_ERRORS = (
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
    "server_error",
    "temporarily_unavailable",
)


class OAuthError(Exception):
    """An RFC 6749 error: `error`, `error_description`, HTTP status, extra headers."""

    def __init__(
        self,
        error: str,
        description: str | None = None,
        *,
        status: int = 400,
        headers: dict[str, str] | None = None,
        delay_s: float = 0.0,
    ) -> None:
        super().__init__(description or error)
        self.error = error
        self.description = description
        self.status = status
        self.headers = headers or {}
        self.delay_s = delay_s

    def body(self) -> dict[str, str]:
        out = {"error": self.error}
        if self.description:
            out["error_description"] = ascii_description(self.description)
        return out


def ascii_description(text: str) -> str:
    """RFC 6749 allows %x20-21 / %x23-5B / %x5D-7E in error_description."""
    return re.sub(r'[^\x20-\x7e]|["\\]', "", text)


def add_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    extra = urlencode(params)
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def error_redirect(
    portal: Portal,
    redirect_uri: str,
    error: str,
    description: str | None,
    state: str | None,
    *,
    client_id: str = "",
    instance: str = "",
) -> str:
    """The URL an authorize error redirects to, in the portal's vendor style."""
    params: dict[str, str] = {"error": error}
    if portal.error_style == "cerner":
        urn = quote(f"urn:cerner:error:authorization-server:{error.replace('_', '-')}", safe="")
        params["error_uri"] = (
            f"https://authorization.cerner.com/errors/{urn}/instances/{instance}"
            f"?client={quote(client_id, safe='')}&tenant={portal.slug}"
        )
    elif description:
        params["error_description"] = ascii_description(description)
    if state is not None:
        params["state"] = state
    return add_query(redirect_uri, params)
