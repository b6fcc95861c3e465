"""A private_key_jwt assertion is checked before the portal fetches the client's keys;
the fetch is local, bounded in time and size, and its failure reads like any other."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from portalkit import discover, register

from simulator.testing import Sim

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True)


class KeyServer:
    """A loopback JWK Set host that counts its fetches; `body` is what it serves."""

    def __init__(self) -> None:
        self.fetches = 0
        self.body = json.dumps(KeySet([KEY]).as_dict(private=False)).encode()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                outer.fetches += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(outer.body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def key(sim: Sim) -> str:
    """A workspace's API key (its registrations land in that workspace)."""
    return sim.new_workspace(seed=11)[1]["api_key"]


@pytest.fixture
def keys() -> Iterator[KeyServer]:
    server = KeyServer()
    yield server
    server.server.shutdown()


def _post(sim: Sim, client_id: str, signer: RSAKey = KEY, **claims: object) -> requests.Response:
    conf = discover(sim, "summit-epic")
    body = {
        "iss": client_id,
        "sub": client_id,
        "aud": conf["token_endpoint"],
        "exp": int(time.time()) + 120,
        "jti": uuid.uuid4().hex,
        **claims,
    }
    body = {k: v for k, v in body.items() if v is not None}
    assertion = jwt.encode({"alg": "RS384", "kid": "k1"}, body, signer, algorithms=["RS384"])
    form = {
        "grant_type": "authorization_code",
        "code": "no-such-code",
        "redirect_uri": "https://app.example/callback",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
    }
    return requests.post(conf["token_endpoint"], data=form, timeout=30)


def test_claims_are_checked_before_any_fetch(sim: Sim, key: str, keys: KeyServer) -> None:
    sim.route_outbound(passthru=(keys.url,))  # the key host is a real loopback server
    client = register(sim, "summit-epic", key, method="private_key_jwt", jwks_uri=keys.url)
    for claims in ({"aud": "https://elsewhere.example/token"}, {"exp": 1}, {"jti": None}):
        resp = _post(sim, client["client_id"], **claims)
        assert resp.status_code == 401 and resp.json()["error"] == "invalid_client"
    assert keys.fetches == 0
    ok = _post(sim, client["client_id"])  # authenticates; the code is what is wrong
    assert ok.status_code == 400 and ok.json()["error"] == "invalid_grant", ok.text
    assert keys.fetches == 1


def test_fetch_failures_read_like_a_wrong_key(sim: Sim, key: str, keys: KeyServer) -> None:
    sim.route_outbound(passthru=(keys.url,))  # the key host is a real loopback server
    client = register(sim, "summit-epic", key, method="private_key_jwt", jwks_uri=keys.url)
    other = RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True)
    wrong_key = _post(sim, client["client_id"], signer=other).json()
    keys.body = b'{"keys": [' + b" " * (70 * 1024) + b"]}"  # over 64 KB
    too_large = _post(sim, client["client_id"]).json()
    keys.server.shutdown()
    keys.server.server_close()
    unreachable = _post(sim, client["client_id"]).json()
    assert wrong_key == too_large == unreachable
    assert wrong_key["error"] == "invalid_client"
