"""RFC 7591 dynamic client registration, the client side.

The simulator registers its own app at a SMART server: it POSTs the client
metadata to the server's `registration_endpoint` (read from discovery), with an
initial access token (RFC 7591 section 3) as `Authorization: Bearer` when it has
one, and answers the client information the server issued.

No Flask and no store here: callers keep the answer and must not hold a store
transaction while this talks to a server.
"""

from __future__ import annotations

import requests

from simulator.clients.smart import ClientCredentials, SmartError, error_of, send

AUTH_METHOD = "client_secret_basic"
GRANT_TYPES = ("authorization_code", "refresh_token")


def register(
    http: requests.Session,
    endpoint: str,
    *,
    redirect_uris: list[str],
    client_name: str,
    initial_access_token: str | None,
    timeout: float,
) -> ClientCredentials:
    """Register a confidential client (`client_secret_basic`); raises SmartError on failure."""
    metadata = {
        "redirect_uris": redirect_uris,
        "token_endpoint_auth_method": AUTH_METHOD,
        "grant_types": list(GRANT_TYPES),
        "response_types": ["code"],
        "client_name": client_name,
    }
    headers = {"Accept": "application/json"}
    if initial_access_token:
        headers["Authorization"] = f"Bearer {initial_access_token}"
    resp = send(
        http, "POST", endpoint, "registration", json=metadata, headers=headers, timeout=timeout
    )
    if resp.status_code not in (200, 201):
        raise error_of(resp, f"registration at {endpoint} answered {resp.status_code}")
    try:
        body = resp.json()
        client_id, secret = body["client_id"], body.get("client_secret")
    except (ValueError, KeyError, TypeError):
        raise SmartError("bad_response", f"{endpoint} answered no client information") from None
    if not isinstance(client_id, str) or not client_id or not isinstance(secret, str) or not secret:
        raise SmartError("bad_response", f"{endpoint} issued no client_id and client_secret")
    return ClientCredentials(client_id, secret)
