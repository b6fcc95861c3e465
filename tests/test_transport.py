"""The in-process transport answers `requests` calls from a WSGI app, as on the wire."""

from __future__ import annotations

import pytest
import requests
from flask import Flask, jsonify, make_response, redirect, request
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.core import transport
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


@pytest.fixture(params=[requests.Session, transport.Session], ids=["requests", "short-path"])
def http(request: pytest.FixtureRequest) -> requests.Session:
    session = request.param()
    session.trust_env = False
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


class Recorder:
    """A WSGI app that keeps every environ it is called with and answers `answer`."""

    def __init__(self) -> None:
        self.seen: list[dict] = []
        self.answer = ("200 OK", [("Content-Type", "text/plain")], b"ok")

    def __call__(self, environ, start_response):
        body = environ["wsgi.input"].read()
        kept = {k: v for k, v in environ.items() if isinstance(v, str)}
        self.seen.append({**kept, "body": body})
        status, headers, payload = self.answer
        start_response(status, headers)
        return [payload]


def _session(cls, answer=None, cookie: bool = True):
    """A session of `cls` whose calls to app.test a `Recorder` answers (with `answer`),
    with a cookie in its jar unless `cookie` is False; answers the session and the app."""
    app = Recorder()
    if answer is not None:
        app.answer = answer
    session = cls()
    session.trust_env = False
    session.mount("http://app.test/", WsgiAdapter(app))
    if cookie:
        session.cookies.set("sid", "abc", domain="app.test", path="/")
    return session, app


def _both(call, answer=None):
    """What the app sees when `call(session)` runs on a plain and on a short-path session."""
    seen = []
    for cls in (requests.Session, transport.Session):
        session, app = _session(cls, answer)
        resp = call(session)
        seen.append((app.seen, resp.status_code, dict(resp.headers), resp.content))
    return seen


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.get("http://app.test/p/a b?q=é", headers={"Accept": "application/json"}),
        lambda s: s.post("http://app.test/t", data=[("a", "1"), ("b", "x y")], timeout=5),
        lambda s: s.post("http://app.test/t", data={"a": ["1", "2"]}, headers={"X": "y"}),
        lambda s: s.post("http://app.test/t", data="raw=1", headers={"Content-Type": "text/x"}),
        lambda s: s.delete("http://app.test/t", headers={"User-Agent": None}),
        lambda s: s.get("http://app.test/p/%41%2Fb?q=%7e&r=a%20b"),
        lambda s: s.get("http://app.test/p?since=ge2030-01-01T00%3A00%3a00Z&x=%2F"),
        lambda s: s.post("http://app.test/t", data={"a": None, b"k": b"\xff", "n": 3}),
        lambda s: s.post("http://app.test/t", data=(("a", ("1", None, "2")), ("é", "ü"))),
        lambda s: s.post("http://app.test/t", data=b"\x00raw", headers={"Content-Type": "x/y"}),
    ],
    ids=[
        "get",
        "form-list",
        "form-dict",
        "raw",
        "no-user-agent",
        "percent-escapes",
        "reserved-escapes",
        "form-none-bytes-number",
        "form-tuple-of-lists",
        "raw-bytes",
    ],
)
def test_the_short_path_sends_what_requests_sends(call) -> None:
    plain, short = _both(call)
    assert short == plain


def test_a_session_header_set_to_none_is_not_sent_by_either_session() -> None:
    def call(session):
        session.headers["X-Session"] = None
        session.headers["X-Kept"] = "1"
        return session.get("http://app.test/h")

    plain, short = _both(call)
    assert short == plain
    (environ,) = short[0]
    assert "HTTP_X_SESSION" not in environ and environ["HTTP_X_KEPT"] == "1"


def test_the_short_path_follows_redirects_and_keeps_cookies_as_requests_does() -> None:
    hop = ("303 See Other", [("Location", "/next"), ("Set-Cookie", "k=v; Path=/")], b"")
    for follow in (True, False):
        got = []
        for cls in (requests.Session, transport.Session):
            app = Recorder()
            session = cls()
            session.trust_env = False
            session.mount("http://app.test/", WsgiAdapter(app))
            answers = iter([hop])

            def answer(environ, start_response, app=app, answers=answers):
                app.answer = next(answers, ("200 OK", [("Content-Type", "text/plain")], b"ok"))
                return Recorder.__call__(app, environ, start_response)

            session.adapters["http://app.test/"].app = answer
            resp = session.post("http://app.test/go", data={"a": "1"}, allow_redirects=follow)
            got.append(
                (
                    resp.status_code,
                    [r.status_code for r in resp.history],
                    resp.next.url if resp.next else None,
                    dict(session.cookies),
                    [(e["REQUEST_METHOD"], e["PATH_INFO"], e.get("HTTP_COOKIE")) for e in app.seen],
                )
            )
        assert got[0] == got[1]


_URL_HEADS = st.sampled_from(
    ["http://h/", "https://app.test:8080/", "HTTP://h/", "http://H/", "http://h", "http://h:0/"]
    + ["http://h:08/", "http://h:99999/", "http://h:65535/", "http://1.2.3.4/", "http://h./"]
)
_URL_PIECES = st.sampled_from(
    list("aZ09-._~!#$&'()*+,/:;=?@[]% \"<>\\^`{|}é")
    + ["%41", "%3A", "%3a", "%7E", "%2F", "%zz", "%4", "%C3%A9", "/./", "/../", "?", "#f"]
)


@settings(max_examples=1500, deadline=None)
@given(head=_URL_HEADS, pieces=st.lists(_URL_PIECES, max_size=12))
def test_the_short_path_sends_the_url_requests_sends(head: str, pieces: list[str]) -> None:
    url = head + "".join(pieces)
    prep = requests.PreparedRequest()
    try:
        prep.prepare_url(url, None)
    except requests.RequestException as exc:
        with pytest.raises(type(exc)):
            transport._prepared_url(url)
        return
    assert transport._prepared_url(url) == prep.url


def test_repeated_headers_come_back_joined_as_requests_joins_them() -> None:
    answer = (
        "200 OK",
        [("X-A", "1"), ("x-a", "2"), ("Content-Type", "text/plain"), ("Link", "<a>")],
        b"ok",
    )
    plain, short = _both(lambda s: s.get("http://app.test/h"), answer)
    assert short == plain
    assert short[2]["x-a"] == "1, 2"


def _seen_by(session_call, answer=None, cookie: bool = False):
    """What the app sees, and what the caller reads, for `session_call(session)` on a
    plain `requests.Session` (`request`) and on a `transport.Session` (`call`)."""
    seen = []
    for cls in (requests.Session, transport.Session):
        session, app = _session(cls, answer, cookie)
        resp = session_call(session, session.call if cls is transport.Session else session.request)
        seen.append(
            (
                app.seen,
                resp.status_code,
                resp.reason,
                resp.url,
                dict(resp.headers),
                resp.content,
                dict(session.cookies),
            )
        )
    return seen


_CALLS = [
    ("GET", "http://app.test/p/a b?q=é", {"Accept": "application/json"}, None),
    ("POST", "http://app.test/t", {"Authorization": "Basic eDp5"}, "grant_type=x&y=a+b"),
    ("POST", "http://app.test/t", None, [("a", "1"), ("b", "x y")]),
    ("POST", "http://app.test/t", {"X": "y"}, {"a": ["1", "2"], "n": None}),
    ("POST", "http://app.test/t", {"Content-Type": "text/x"}, b"\x00raw"),
    ("DELETE", "http://app.test/t", {"User-Agent": None, "accept": "x/y"}, None),
    ("get", "http://app.test/p/%41%2Fb?q=%7e&r=a%20b", {}, ""),
]


@pytest.mark.parametrize("method,url,headers,data", _CALLS)
@pytest.mark.parametrize("cookie", [False, True], ids=["no-cookie", "cookie"])
def test_a_call_sends_and_reads_what_requests_sends_and_reads(
    method, url, headers, data, cookie
) -> None:
    plain, short = _seen_by(
        lambda _s, send: send(method, url, headers=headers, data=data, timeout=5), cookie=cookie
    )
    assert short == plain


def test_a_call_answered_in_process_builds_no_requests_objects() -> None:
    session = transport.Session()
    session.trust_env = False
    session.mount("http://app.test/", WsgiAdapter(Recorder()))
    reply = session.call("GET", "http://app.test/x")
    assert isinstance(reply, transport.Reply) and reply.ok and reply.content == b"ok"
    session.cookies.set("sid", "abc", domain="app.test", path="/")
    assert isinstance(session.call("GET", "http://app.test/x"), requests.Response)


def test_a_call_answered_with_a_redirect_or_a_cookie_is_followed_and_kept_as_requests_does():
    hop = ("303 See Other", [("Location", "/next"), ("Set-Cookie", "k=v; Path=/")], b"")
    got = []
    for cls in (requests.Session, transport.Session):
        app = Recorder()
        answers = iter([hop])

        def answer(environ, start_response, app=app, answers=answers):
            app.answer = next(answers, ("200 OK", [("Content-Type", "text/plain")], b"ok"))
            return Recorder.__call__(app, environ, start_response)

        session = cls()
        session.trust_env = False
        session.mount("http://app.test/", WsgiAdapter(answer))
        send = session.call if cls is transport.Session else session.request
        resp = send("POST", "http://app.test/go", data={"a": "1"})
        got.append(
            (
                resp.status_code,
                [r.status_code for r in resp.history],
                dict(session.cookies),
                [(e["REQUEST_METHOD"], e["PATH_INFO"], e.get("HTTP_COOKIE")) for e in app.seen],
            )
        )
    assert got[0] == got[1]
    assert got[1][1] == [303] and got[1][2] == {"k": "v"}


_BODIES = [
    b'{"a": "\xc3\xa9"}',
    b"{}",
    b"[1]\n",
    b"\xef\xbb\xbf{}",  # a UTF-8 byte order mark
    '{"a": 1}'.encode("utf-16"),
    '{"a": 1}'.encode("utf-16-le"),  # no byte order mark: told by its NUL bytes
    b'{"a": "\xe9"}',  # Latin-1, not UTF-8
    b"not json",
    b"",
    b'{"n": NaN}',
]
_TYPES = [
    "application/json",
    "application/fhir+json",
    "application/json; charset=latin-1",
    "application/fhir+json;charset=utf-8",
    'application/json; charset="UTF-8"',
    "text/plain",
    None,
]


@pytest.mark.parametrize("body", _BODIES)
@pytest.mark.parametrize("content_type", _TYPES)
def test_a_reply_reads_json_and_text_as_requests_reads_them(body, content_type) -> None:
    headers = [("Content-Type", content_type)] if content_type else []
    read = []
    for cls in (requests.Session, transport.Session):
        app = Recorder()
        app.answer = ("200 OK", headers, body)
        session = cls()
        session.trust_env = False
        session.mount("http://app.test/", WsgiAdapter(app))
        send = session.call if cls is transport.Session else session.request
        resp = send("GET", "http://app.test/j")
        try:
            parsed = ("json", resp.json())
        except ValueError as exc:
            parsed = ("error", type(exc).__name__)
        read.append((parsed, resp.text))
    assert read[1] == read[0]


def test_a_call_slower_than_the_read_timeout_is_a_read_timeout() -> None:
    ticks = iter([0.0, 6.0])
    session = transport.Session()
    session.trust_env = False
    session.mount("http://app.test/", WsgiAdapter(Recorder(), monotonic=lambda: next(ticks)))
    with pytest.raises(requests.exceptions.ReadTimeout):
        session.call("GET", "http://app.test/slow", timeout=5)


def test_a_call_to_another_host_is_a_plain_request() -> None:
    session = transport.Session()
    session.trust_env = False
    session.mount("http://app.test/", WsgiAdapter(Recorder()))
    with pytest.raises(requests.exceptions.ConnectionError):
        session.call("GET", "http://127.0.0.1:9/", timeout=1)
    plain = requests.Session()
    plain.mount("http://app.test/", WsgiAdapter(Recorder()))
    resp = transport.call(plain, "GET", "http://app.test/x", timeout=1)
    assert isinstance(resp, requests.Response) and resp.content == b"ok"
