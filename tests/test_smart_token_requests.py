"""The SMART client's token requests: what goes on the wire and how each answer is read."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qsl

import pytest
import requests

from simulator.clients import smart
from simulator.clients.smart import ClientCredentials, Endpoints, SmartError
from simulator.core.transport import WsgiAdapter

BASE = "http://token.test"
ENDPOINTS = Endpoints("", f"{BASE}/token", None, ())
CONFIDENTIAL = ClientCredentials("app-1", "s3cret")


class Server:
    """A token endpoint that records the request and answers what it is told."""

    def __init__(self) -> None:
        self.answer: tuple[str, str, bytes] = ("200 OK", "application/json", b"{}")
        self.seen: dict = {}

    def __call__(self, environ, start_response):
        body = environ["wsgi.input"].read()
        self.seen = {
            "method": environ["REQUEST_METHOD"],
            "path": environ["PATH_INFO"],
            "headers": {k: v for k, v in environ.items() if k.startswith(("HTTP_", "CONTENT_"))},
            "form": parse_qsl(body.decode()),
        }
        status, ctype, payload = self.answer
        start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(payload)))])
        return [payload]

    def answers(self, status: str, body: object, ctype: str = "application/json") -> None:
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.answer = (status, ctype, payload)


@pytest.fixture
def server() -> Server:
    return Server()


@pytest.fixture
def http(server: Server) -> requests.Session:
    session = requests.Session()
    session.mount(BASE + "/", WsgiAdapter(server))
    return session


def test_refresh_sends_the_form_and_basic_auth_and_keeps_the_old_refresh_token(server, http):
    server.answers("200 OK", {"access_token": "a2", "token_type": "Bearer", "expires_in": 60})
    token = smart.refresh(http, ENDPOINTS, CONFIDENTIAL, refresh_token="r1", timeout=5)
    assert token["access_token"] == "a2"
    assert token["refresh_token"] == "r1"
    assert server.seen["method"] == "POST" and server.seen["path"] == "/token"
    assert server.seen["form"] == [("grant_type", "refresh_token"), ("refresh_token", "r1")]
    headers = server.seen["headers"]
    assert headers["HTTP_AUTHORIZATION"] == "Basic " + base64.b64encode(b"app-1:s3cret").decode()
    assert headers["CONTENT_TYPE"] == "application/x-www-form-urlencoded;charset=UTF-8"
    assert headers["HTTP_ACCEPT"] == "application/json"


def test_code_exchange_sends_redirect_uri_code_and_verifier(server, http):
    server.answers("200 OK", {"access_token": "a1", "refresh_token": "r1"})
    token = smart.exchange_code(
        http,
        ENDPOINTS,
        CONFIDENTIAL,
        code="c1",
        redirect_uri="https://app.example/cb",
        code_verifier="v" * 64,
        timeout=5,
    )
    assert token == {"access_token": "a1", "refresh_token": "r1"}
    assert server.seen["form"] == [
        ("grant_type", "authorization_code"),
        ("redirect_uri", "https://app.example/cb"),
        ("code", "c1"),
        ("code_verifier", "v" * 64),
    ]


def test_a_public_client_names_itself_last_in_the_body(server, http):
    server.answers("200 OK", {"access_token": "a2"})
    public = ClientCredentials("app-2", None)
    smart.refresh(http, ENDPOINTS, public, refresh_token="r1", timeout=5)
    assert server.seen["form"][-1] == ("client_id", "app-2")
    assert "HTTP_AUTHORIZATION" not in server.seen["headers"]


def _refresh_error(http) -> SmartError:
    with pytest.raises(SmartError) as caught:
        smart.refresh(http, ENDPOINTS, CONFIDENTIAL, refresh_token="r1", timeout=5)
    return caught.value


def test_an_oauth_error_is_its_code_and_description(server, http):
    server.answers("400 Bad Request", {"error": "invalid_grant", "error_description": "gone"})
    err = _refresh_error(http)
    assert (err.code, err.description, err.transient) == ("invalid_grant", "gone", False)


def test_a_5xx_keeps_its_status_and_is_transient(server, http):
    server.answers("503 Service Unavailable", {"error": "temporarily_unavailable"})
    err = _refresh_error(http)
    assert (err.code, err.status, err.transient) == ("temporarily_unavailable", 503, True)
    server.answers("502 Bad Gateway", b"<html>bad gateway</html>", "text/html")
    err = _refresh_error(http)
    assert (err.code, err.status, err.transient) == ("http_502", 502, True)


def test_a_4xx_page_that_is_not_json_is_its_status(server, http):
    server.answers("429 Too Many Requests", b"slow down", "text/plain")
    err = _refresh_error(http)
    assert (err.code, err.status, err.transient) == ("http_429", 429, True)


def test_a_success_that_is_not_a_token_is_a_bad_response(server, http):
    server.answers("200 OK", b"<html>login</html>", "text/html")
    assert _refresh_error(http).code == "bad_response"
    server.answers("200 OK", {"token_type": "Bearer"})
    assert _refresh_error(http).code == "bad_response"
