"""URLs are checked as the client that will use them parses them."""

from __future__ import annotations

import pytest
import requests

from simulator.core.validation import is_local_host, url_host
from simulator.testing import Api, Sim

SPOOFED = [
    "http://127.evil.example/hook",  # a name that starts with 127. is not loopback
    "http://evil.example\\@localhost/hook",  # requests and browsers go to evil.example
    "http://localhost\\@evil.example/hook",
    "http://local host/hook",
    "http://localhost/ho\tok",
]
ACCEPTED_HTTP = [
    "http://localhost:3000/hook",
    "http://127.0.0.1:3000/hook",
    "http://127.9.9.9/hook",
    "http://[::1]:3000/hook",
    "http://app.localhost/hook",
]


@pytest.mark.parametrize("url", SPOOFED)
def test_spoofed_local_urls_are_refused_as_webhook_urls(api: Api, url: str) -> None:
    resp = api.post("/webhooks", {"url": url, "events": ["*"]})
    assert resp.status_code == 400, resp.json
    assert resp.json["error"]["code"] == "invalid_data" and resp.json["error"]["param"] == "url"


@pytest.mark.parametrize("url", SPOOFED)
def test_spoofed_local_urls_are_refused_as_return_urls(api: Api, url: str) -> None:
    resp = api.post("/patient-sessions", {"patient_id": "p1", "return_url": url})
    assert resp.status_code == 400, resp.json
    assert resp.json["error"]["param"] == "return_url"


@pytest.mark.parametrize("url", ACCEPTED_HTTP)
def test_real_loopback_urls_are_accepted_over_http(api: Api, url: str) -> None:
    assert api.post("/webhooks", {"url": url, "events": ["*"]}).status_code == 200
    body = {"patient_id": "p1", "return_url": url}
    assert api.post("/patient-sessions", body).status_code == 200


def test_the_checked_host_is_the_host_requests_sends_to() -> None:
    for url in SPOOFED[1:3] + ACCEPTED_HTTP:
        sent = requests.Request("POST", url).prepare().url
        host = url_host(url)
        assert host is None or requests.utils.urlparse(sent).hostname == host
    assert url_host("http://evil.example\\@localhost/") is None
    assert [is_local_host(h) for h in ("127.evil.example", "127.0.0.1", "::1", "127.1")] == [
        False,
        True,
        True,
        False,
    ]


# -- RFC 7591 registration without a key ------------------------------------------------------


def _register(sim: Sim, body: dict, key: str | None = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    url = f"{sim.base_url}/portals/summit-epic/register"
    return requests.post(url, json=body, headers=headers, timeout=10)


def test_keyless_registration_may_name_only_loopback_redirect_uris(sim: Sim) -> None:
    sim.route_outbound()
    refused = _register(sim, {"redirect_uris": ["https://evil.example/cb"]})
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_redirect_uri"
    spoofed = _register(sim, {"redirect_uris": ["http://127.evil.example/cb"]})
    assert spoofed.status_code == 400
    local = _register(sim, {"redirect_uris": ["http://localhost:8765/cb"]})
    assert local.status_code == 201, local.text
    keyed = _register(
        sim, {"redirect_uris": ["https://app.example/cb"]}, sim.runtime.default_api_key
    )
    assert keyed.status_code == 201, keyed.text


@pytest.mark.parametrize(
    "jwks_uri", ["http://10.0.0.5/jwks", "http://169.254.169.254/latest", "https://evil.example/k"]
)
def test_a_jwks_uri_the_portal_would_fetch_must_be_local(sim: Sim, jwks_uri: str) -> None:
    sim.route_outbound()
    body = {
        "redirect_uris": ["http://localhost:8765/cb"],
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks_uri": jwks_uri,
    }
    for key in (None, sim.runtime.default_api_key):
        resp = _register(sim, body, key)
        assert resp.status_code == 400 and resp.json()["error"] == "invalid_client_metadata"
