"""The dashboard over Flask's test client: the key opens only its own workspace, the
page shows the workspace's objects and their links, never a secret, escapes what it
shows, and its clock buttons move the clock the way `/_sim/clock/advance` does."""

from __future__ import annotations

import re
from http.cookies import SimpleCookie
from typing import Any

import pytest
from flowkit import EPIC, active_connection, connect, new_session
from webhooks_support import fire_sync_failed, inbox_endpoint

from simulator.core import workspaces
from simulator.core.timeutil import DAY, HOUR, parse_iso
from simulator.domain import attempts, connections
from simulator.testing import Api, Sim
from simulator.web import dashboard
from simulator.web.dashboard import COOKIE, form_token

HOSTILE = "<img src=x onerror=alert(1)>"


def _ws_id(api: Api) -> str:
    return api.get("/_sim/workspace").json["id"]


def _browser(sim: Sim):
    """A fresh cookie jar on the same app (another browser)."""
    from werkzeug.test import Client

    return Client(sim.wsgi)


def _sign_in(client, key: str, **extra: str):
    return client.post("/dashboard/sign-in", data={"api_key": key, **extra})


def _page(client, ws_id: str) -> tuple[int, str]:
    resp = client.get(f"/dashboard/{ws_id}")
    return resp.status_code, resp.get_data(as_text=True)


def _opened(sim: Sim, api: Api):
    client = _browser(sim)
    resp = _sign_in(client, api.api_key)
    assert resp.status_code == 303, resp.get_data(as_text=True)
    assert resp.headers["Location"] == f"/dashboard/{_ws_id(api)}"
    return client


def _move(client, ws_id: str, move: str, token: str | None = None, **headers: str):
    key = client.get_cookie(COOKIE, path=f"/dashboard/{ws_id}")
    if token is None:
        token = form_token(key.value, ws_id) if key is not None else ""
    return client.post(
        f"/dashboard/{ws_id}/clock", data={"move": move, "token": token}, headers=headers
    )


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# -- signing in --------------------------------------------------------------------------


def test_the_home_page_is_a_sign_in_form_with_private_headers(sim: Sim) -> None:
    resp = sim.client.get("/")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    assert 'name="api_key"' in html and 'type="password"' in html
    assert sim.runtime.default_api_key not in html  # the default key is never printed here
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["Referrer-Policy"] == "same-origin"
    csp = resp.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert sim.client.get("/static/dashboard.css").status_code == 200


def test_signing_in_sets_a_cookie_scoped_to_the_workspace(sim: Sim, api: Api) -> None:
    ws_id = _ws_id(api)
    resp = _sign_in(_browser(sim), api.api_key)
    assert resp.status_code == 303
    cookie = SimpleCookie(resp.headers["Set-Cookie"])[COOKIE]
    assert cookie["path"] == f"/dashboard/{ws_id}"
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert cookie["secure"] == ""  # plain http base URL in tests


def test_a_wrong_key_is_a_clear_error_and_is_not_echoed(sim: Sim, api: Api) -> None:
    client = _browser(sim)
    wrong = "mb_sk_sbx_not_a_key_of_anything_0123"
    resp = _sign_in(client, wrong)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 401
    assert "That API key does not open any workspace." in html
    assert wrong not in html
    assert "Set-Cookie" not in resp.headers
    empty = _sign_in(client, "   ")
    assert empty.status_code == 400 and "Enter the workspace" in empty.get_data(as_text=True)
    assert client.post("/dashboard/sign-in", data={}).status_code == 400


def test_without_the_key_nothing_of_the_workspace_shows(sim: Sim, api: Api) -> None:
    session = new_session(api, "p-secret-name")
    status, html = _page(_browser(sim), _ws_id(api))
    assert status == 401
    assert 'name="api_key"' in html
    assert session["id"] not in html and "p-secret-name" not in html
    # an unknown workspace id answers the same page: nothing says whether it exists
    status, unknown = _page(_browser(sim), "ws_00000000000000000000000000")
    assert status == 401
    assert _text(unknown).replace("ws_00000000000000000000000000", "X") == _text(html).replace(
        _ws_id(api), "X"
    )


def test_one_workspaces_key_never_opens_another(sim: Sim, api: Api) -> None:
    other, _ = sim.new_workspace(seed=2)
    theirs = new_session(other, "p-theirs")
    mine_id, theirs_id = _ws_id(api), _ws_id(other)
    client = _opened(sim, api)
    assert _page(client, mine_id)[0] == 200
    # the browser does not send the cookie to the other workspace's path ...
    status, html = _page(client, theirs_id)
    assert status == 401 and theirs["id"] not in html and "p-theirs" not in html
    # ... and a request carrying this workspace's key there is refused by the server too
    forced = _browser(sim)
    forced.set_cookie(COOKIE, api.api_key, path="/")
    status, html = _page(forced, theirs_id)
    assert status == 401 and theirs["id"] not in html
    before = other.now()
    token = form_token(api.api_key, mine_id)
    assert _move(forced, theirs_id, "1d", token=token).status_code == 401
    assert _move(forced, theirs_id, "1d", token=form_token(api.api_key, theirs_id)).status_code == (
        401
    )
    assert other.now() == before
    # and a key entered for a named workspace must be that workspace's key
    resp = _sign_in(_browser(sim), api.api_key, workspace_id=theirs_id)
    assert resp.status_code == 401
    assert "belongs to another workspace" in resp.get_data(as_text=True)


def test_a_rotated_key_and_sign_out_close_the_page(sim: Sim, api: Api) -> None:
    ws_id = _ws_id(api)
    client = _opened(sim, api)
    key = client.get_cookie(COOKIE, path=f"/dashboard/{ws_id}").value
    signed_out = client.post(f"/dashboard/{ws_id}/sign-out", data={"token": form_token(key, ws_id)})
    assert signed_out.status_code == 303 and signed_out.headers["Location"] == "/"
    assert _page(client, ws_id)[0] == 401

    client = _opened(sim, api)
    assert _page(client, ws_id)[0] == 200
    workspaces.set_api_key(sim.runtime.store, ws_id, workspaces.new_api_key())
    assert _page(client, ws_id)[0] == 401


# -- what the page shows -----------------------------------------------------------------


def _shown(sim: Sim, api: Api) -> str:
    status, html = _page(_opened(sim, api), _ws_id(api))
    assert status == 200
    return html


def test_a_session_its_connection_history_token_expiry_and_pull(sim: Sim, api: Api) -> None:
    conn = active_connection(api)
    session_id = conn["patient_session_id"]
    html = _shown(sim, api)
    text = _text(html)
    attempt_anchor = re.search(r'id="(conn-att_[0-9A-Z]+)"', html).group(1)
    # the session row links to its connection, the connection back to its session
    session_row = re.search(rf'<tr id="session-{session_id}".*?</tr>', html, re.S).group(0)
    assert f'href="#{attempt_anchor}">{conn["id"]}</a>' in session_row
    article = re.search(rf'<article id="{attempt_anchor}".*?</article>', html, re.S).group(0)
    assert f'href="#session-{session_id}"' in article
    assert "Summit Valley" in article
    history = re.findall(r'class="badge s-(\w+)"', article.split("Status history")[1])
    assert history[:2] == ["pending", "active"]
    tokens = attempts.tokens_of(sim.runtime, _ws_id(api), attempt_anchor.removeprefix("conn-"))
    expires = parse_iso(api.now()) + 3600 * 1000
    assert tokens.access_expires_ms == expires
    assert "held (redacted), expires" in _text(article)
    assert f'datetime="{_iso(expires)}"' in article
    assert "records.sync.completed" in article  # the event about it, linked
    assert "Pulls" in article and "completed" in _text(article.split("Pulls")[1])
    assert "Sessions (1)" in text and "Connections (1)" in text


def _iso(ms: int) -> str:
    from simulator.core.timeutil import iso

    return iso(ms)


def test_a_disconnect_is_in_the_status_history(sim: Sim, api: Api) -> None:
    conn = active_connection(api)
    resp = api.delete(f"/patients/p1/connections/{conn['id']}")
    assert resp.status_code == 200, resp.json
    html = _shown(sim, api)
    article = re.search(r'<article id="conn-att_.*?</article>', html, re.S).group(0)
    history = re.findall(r'class="badge s-(\w+)"', article.split("Status history")[1])
    assert history[:3] == ["pending", "active", "disconnected"]


def test_deliveries_with_every_attempt_status_latency_chaos_and_next_retry(
    sim: Sim, api: Api
) -> None:
    box, wh = inbox_endpoint(api, status=500)
    assert api.put(f"/_sim/webhooks/{wh['id']}/chaos", {"bad_signature": True}).status_code == 200
    occurrence = fire_sync_failed(api)
    api.advance(3600)
    record = api.get(f"/webhooks/{wh['id']}/events").json["data"][0]
    sent = api.get(f"/_sim/webhooks/{wh['id']}/attempts", limit=100).json["data"]
    assert len(sent) == 4  # now, +1 min, +6 min, +36 min
    html = _shown(sim, api)
    delivery = re.search(
        rf'<div class="delivery" id="delivery-{record["id"]}".*?</table>', html, re.S
    ).group(0)
    rows = re.findall(r'<tr class="attempt bad">.*?</tr>', delivery, re.S)
    assert len(rows) == 4
    for row, attempt in zip(rows, sorted(sent, key=lambda a: a["attempt"]), strict=True):
        assert '<td class="status">500</td>' in row
        assert f'<td class="latency">{attempt["duration_ms"]} ms</td>' in row
        assert '<span class="chaos">bad_signature</span>' in row
    assert "next retry" in delivery
    assert f'datetime="{record["next_attempt_at"]}"' in delivery
    assert f'href="#event-{occurrence["id"]}"' in delivery  # the delivery links to its event
    event_row = re.search(rf'<tr id="event-{occurrence["id"]}".*?</tr>', html, re.S).group(0)
    assert f'href="#delivery-{record["id"]}"' in event_row  # and the event to its delivery
    assert box["url"] in html


def test_no_token_key_or_secret_is_ever_in_the_page(sim: Sim, api: Api) -> None:
    box, wh = inbox_endpoint(api, status=200, secret="whsec_inboxsecretinboxsecret0000")
    conn = active_connection(api)
    session = new_session(api, "p2")
    ws_id = _ws_id(api)
    attempt_id = connections.get(sim.runtime.store, ws_id, conn["id"]).attempt_id
    tokens = attempts.tokens_of(sim.runtime, ws_id, attempt_id)
    html = _shown(sim, api)
    secrets = {
        "access token": tokens.access_token,
        "refresh token": tokens.refresh_token,
        "webhook secret": wh["secret"],
        "inbox secret": "whsec_inboxsecretinboxsecret0000",
        "API key": api.api_key,
        "link token": session["url"].rsplit("/", 1)[1],
        "registration token": workspaces.registration_token(sim.runtime.store, ws_id),
    }
    for what, value in secrets.items():
        assert value and value not in html, what
    assert "Medblocks-Signature" not in html and "v1=" not in html


def test_hostile_names_are_escaped(sim: Sim, api: Api) -> None:
    _, wh = inbox_endpoint(api, status=200)
    assert api.patch(f"/webhooks/{wh['id']}", {"description": HOSTILE}).status_code == 200
    api.post("/patients", {"patient_id": HOSTILE, "name": HOSTILE})
    session = new_session(api, HOSTILE)
    connect(api, session["id"], source=EPIC)
    html = _shown(sim, api)
    assert HOSTILE not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert html.count("&lt;img src=x onerror=alert(1)&gt;") >= 3  # session, connection, endpoint


def test_a_workspace_name_is_escaped_in_the_title(sim: Sim) -> None:
    api, _ = sim.new_workspace(seed=4, name="</title><script>x()</script>")
    html = _shown(sim, api)
    assert "<script>x()" not in html and "&lt;/title&gt;&lt;script&gt;" in html


# -- the clock buttons -------------------------------------------------------------------


@pytest.mark.parametrize(("move", "seconds"), [("1h", HOUR // 1000), ("1d", DAY // 1000)])
def test_a_clock_button_advances_and_redirects_back(
    sim: Sim, api: Api, move: str, seconds: int
) -> None:
    ws_id = _ws_id(api)
    client = _opened(sim, api)
    before = parse_iso(api.now())
    resp = _move(client, ws_id, move)
    assert resp.status_code == 303
    assert resp.headers["Location"].startswith(f"/dashboard/{ws_id}?moved={move}&ran=")
    assert parse_iso(api.now()) == before + seconds * 1000
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert f'id="clock-now" datetime="{api.now()}"' in page
    label = dashboard.MOVES[move][0]
    assert f"{label}: 0 jobs ran." in _text(page)


def test_thirty_days_runs_the_jobs_due_on_the_way(sim: Sim, api: Api) -> None:
    box, wh = inbox_endpoint(api, status=500)
    fire_sync_failed(api)
    client = _opened(sim, api)
    before = parse_iso(api.now())
    resp = _move(client, _ws_id(api), "30d")
    assert parse_iso(api.now()) == before + 30 * DAY
    ran = int(re.search(r"ran=(\d+)", resp.headers["Location"]).group(1))
    assert ran >= 8  # the remaining retries of the failing delivery
    assert api.get(f"/webhooks/{wh['id']}").json["status"] == "disabled"


def test_run_until_idle_goes_to_the_last_job(sim: Sim, api: Api) -> None:
    box, wh = inbox_endpoint(api, status=500)
    occurrence = fire_sync_failed(api)
    client = _opened(sim, api)
    resp = _move(client, _ws_id(api), "idle")
    assert resp.status_code == 303
    record = api.get(f"/webhooks/{wh['id']}/events").json["data"][0]
    assert record["attempts"] == 9 and record["next_attempt_at"] is None
    last = max(r["received_at"] for r in api.get(f"/_sim/inboxes/{box['id']}").json["received"])
    assert api.now() == last
    assert parse_iso(last) > parse_iso(occurrence["created_at"])


@pytest.mark.parametrize(
    ("token", "headers", "status"),
    [
        ("", {}, 403),
        ("0" * 64, {}, 403),
        (None, {"Origin": "https://evil.example"}, 403),
        (None, {"Sec-Fetch-Site": "cross-site"}, 403),
        (None, {"Origin": "null"}, 403),
    ],
)
def test_a_forged_clock_form_is_refused(
    sim: Sim, api: Api, token: str | None, headers: dict[str, Any], status: int
) -> None:
    ws_id = _ws_id(api)
    client = _opened(sim, api)
    before = api.now()
    resp = _move(client, ws_id, "1d", token=token, **headers)
    assert resp.status_code == status
    assert api.now() == before


def test_same_origin_and_unknown_moves(sim: Sim, api: Api) -> None:
    ws_id = _ws_id(api)
    client = _opened(sim, api)
    before = parse_iso(api.now())
    assert _move(client, ws_id, "1h", Origin="http://localhost").status_code == 303
    unknown = _move(client, ws_id, "7d")
    assert unknown.status_code == 400
    assert f'href="/dashboard/{ws_id}" id="back"' in unknown.get_data(as_text=True)
    assert parse_iso(api.now()) == before + HOUR
    assert _move(_browser(sim), ws_id, "1h").status_code == 401


def test_a_denied_attempt_shows_pending_then_failed_with_its_code(sim: Sim, api: Api) -> None:
    session = new_session(api)
    result = connect(api, session["id"], consent="deny")
    assert result["connection"]["status"] == "failed", result
    html = _shown(sim, api)
    article = re.search(r'<article id="conn-att_.*?</article>', html, re.S).group(0)
    history = article.split("Status history")[1]
    assert re.findall(r'class="badge s-(\w+)"', history) == ["pending", "failed"]
    assert result["connection"]["failure_code"] in history
    assert "recorded before history was kept" not in history


def test_links_only_point_at_objects_on_the_page(sim: Sim, api: Api, monkeypatch) -> None:
    from simulator.web import dashboard_data

    inbox_endpoint(api, status=200)
    first = new_session(api, "p-old")
    connect(api, first["id"], source=EPIC)
    monkeypatch.setattr(dashboard_data, "SESSIONS_SHOWN", 1)
    new_session(api, "p-new")
    html = _shown(sim, api)
    assert f'id="session-{first["id"]}"' not in html  # only the newest session is listed
    anchors = set(re.findall(r'id="([a-z]+-[A-Za-z0-9_]+)"', html))
    targets = set(re.findall(r'href="#([a-z]+-[A-Za-z0-9_]+)"', html))
    assert targets and targets <= anchors
    assert f'<span class="off-page" title="not among the newest shown">{first["id"]}</span>' in html
