"""The in-process transport answers `requests` calls from a WSGI app, as on the wire."""

from __future__ import annotations

import pytest
import requests
from flask import Flask, jsonify, make_response, redirect, request

from simulator.core.transport import WsgiAdapter


def make_app() -> Flask:
    app = Flask("transport_test")

    @app.route("/echo/<path:rest>", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    def echo(rest: str):  # type: ignore[no-untyped-def]
        return jsonify(
            method=request.method,
            path=request.path,
            rest=rest,
            args=request.args.to_dict(flat=False),
            body=request.get_data(as_text=True),
            content_type=request.content_type,
            authorization=request.headers.get("Authorization"),
            host=request.host,
            url=request.url,
            cookie=request.cookies.get("sid"),
        )

    @app.get("/login")
    def login():  # type: ignore[no-untyped-def]
        resp = make_response("ok")
        resp.set_cookie("sid", "abc", path="/")
        resp.set_cookie("other", "x", path="/")
        return resp

    @app.get("/hop")
    def hop():  # type: ignore[no-untyped-def]
        return redirect("/echo/landed?from=hop", 303)

    @app.get("/status/<int:code>")
    def status(code: int):  # type: ignore[no-untyped-def]
        resp = make_response("body", code)
        resp.headers["Retry-After"] = "30"
        return resp

    return app


@pytest.fixture
def http() -> requests.Session:
    session = requests.Session()
    session.mount("http://app.test/", WsgiAdapter(make_app()))
    return session


def test_method_path_query_headers_and_body_arrive_as_sent(http: requests.Session) -> None:
    resp = http.post(
        "http://app.test/echo/a%20b/c?x=1&x=2&y=%C3%A9",
        data={"k": "v w"},
        headers={"Authorization": "Bearer t"},
    )
    assert resp.status_code == 200 and resp.reason == "OK"
    body = resp.json()
    assert body["method"] == "POST"
    assert body["rest"] == "a b/c"
    assert body["args"] == {"x": ["1", "2"], "y": ["é"]}
    assert body["body"] == "k=v+w"
    assert body["content_type"] == "application/x-www-form-urlencoded"
    assert body["authorization"] == "Bearer t"
    assert body["host"] == "app.test"
    assert body["url"].startswith("http://app.test/echo/a%20b/c?")


def test_json_bodies_and_other_methods(http: requests.Session) -> None:
    for method in ("PUT", "PATCH", "DELETE"):
        body = http.request(method, "http://app.test/echo/x", json={"a": 1}).json()
        assert body["method"] == method and body["body"] == '{"a": 1}'


def test_status_headers_and_cookies_come_back(http: requests.Session) -> None:
    resp = http.get("http://app.test/status/503")
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "30"
    assert resp.text == "body"
    http.get("http://app.test/login")
    assert http.cookies.get("sid") == "abc" and http.cookies.get("other") == "x"
    assert http.get("http://app.test/echo/me").json()["cookie"] == "abc"


def test_redirects_are_followed_by_requests_or_left_to_the_caller(
    http: requests.Session,
) -> None:
    followed = http.get("http://app.test/hop")
    assert followed.status_code == 200 and followed.json()["args"] == {"from": ["hop"]}
    assert [r.status_code for r in followed.history] == [303]
    left = http.get("http://app.test/hop", allow_redirects=False)
    assert left.status_code == 303 and left.headers["Location"].endswith("/echo/landed?from=hop")


def test_other_hosts_are_not_answered_by_the_app() -> None:
    session = requests.Session()
    adapter = WsgiAdapter(make_app())
    session.mount("http://app.test/", adapter)
    assert session.get_adapter("http://app.test/x") is adapter
    assert session.get_adapter("http://app.test.example/x") is not adapter
    assert session.get_adapter("http://other.test/x") is not adapter


def test_an_answer_slower_than_the_read_timeout_is_a_read_timeout() -> None:
    ticks = iter([0.0, 6.0])  # the app took six seconds (a fake monotonic clock)
    session = requests.Session()
    session.mount("http://app.test/", WsgiAdapter(make_app(), monotonic=lambda: next(ticks)))
    with pytest.raises(requests.exceptions.ReadTimeout):
        session.get("http://app.test/echo/slow", timeout=5)
    ticks = iter([0.0, 4.0])
    assert session.get("http://app.test/echo/quick", timeout=(1, 5)).status_code == 200
