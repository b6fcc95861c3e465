"""The hosted pages in real headless Chromium: Picker and Direct, with screenshots kept."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from flowkit import CERNER, EPIC
from livekit import chromium, live_sim, screenshot
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
APP_RETURN = "http://localhost:9/connected"  # nothing listens: the browser stops there


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def _shot(page, name: str) -> Path:
    return screenshot(page, f"{name}")


def _new_page(browser):
    """A page where the app behind the return URL answers with a small page of its own."""
    page = browser.new_page()
    page.route(
        "http://localhost:9/**",
        lambda route: route.fulfill(status=200, content_type="text/html", body="<p id=app>app</p>"),
    )
    return page


def _returned_url(page, timeout=10000) -> str:
    page.wait_for_selector("#app", timeout=timeout)
    assert page.url.startswith(APP_RETURN)
    return page.url


def test_picker_flow_in_chromium(browser):
    with live_sim() as sim:
        api, _ = sim.new_workspace(seed=5)
        api.post("/patients", {"patient_id": "p<1>", "name": "Ann <b>O'Neil</b>"})
        session = api.post(
            "/patient-sessions",
            {
                "patient_id": "p<1>",
                "return_url": APP_RETURN,
                "return_button_label": "Acme <Health>",
                "recommended_connection_ids": [CERNER],
                "metadata": {"note": "<script>alert(1)</script>"},
            },
        ).json
        page = _new_page(browser)
        page.goto(session["url"])
        assert page.locator("h1").inner_text() == "Connect your health records"
        assert "Ann <b>O'Neil</b>" in page.locator("p.lead").inner_text()  # escaped, shown as text
        assert page.locator("#recommended li .name").first.inner_text().startswith("Lakeside")
        _shot(page, "picker-start")

        page.fill("input[name=q]", "s")
        page.click("form.search button")  # the browser itself refuses one character
        assert "q=" not in page.url
        page.goto(session["url"] + "?q=s")  # and the server says so without the browser's check
        expect(page.locator("#too-short")).to_be_visible()
        page.fill("input[name=q]", "summit")
        page.click("form.search button")
        expect(page.locator("#results li")).to_have_count(1)
        _shot(page, "picker-search")
        page.click("#results button")

        page.wait_for_selector("#login-form")
        _shot(page, "portal-login")
        page.fill("input[name=username]", "alice")
        page.fill("input[name=password]", "password")
        page.click("#login-form [type=submit]")
        page.wait_for_selector("#consent-form")
        _shot(page, "portal-consent")
        page.click("button[name=decision][value=approve]")

        page.wait_for_selector("#attempts")
        assert "Connected" in page.locator("#attempts").inner_text()
        assert page.locator("#done").inner_text() == "Done — return to Acme <Health>"
        _shot(page, "completion")
        page.click("#done")
        landed = _returned_url(page)
        query = parse_qs(urlsplit(landed).query)
        assert query == {"patient_id": ["p<1>"], "patient_session_id": [session["id"]]}
        body = api.get(f"/patient-sessions/{session['id']}").json
        assert body["status"] == "complete"
        assert body["connections"][0]["connection_id"] == EPIC
        assert body["connections"][0]["status"] == "active"

        closed = browser.new_page()
        closed.goto(session["url"])
        assert "already been used" in closed.content()
        _shot(closed, "link-used")
        closed.close()
        page.close()


def test_direct_flow_in_chromium_with_deny(browser):
    with live_sim() as sim:
        api, _ = sim.new_workspace(seed=6)
        session = api.post(
            "/patient-sessions",
            {"patient_id": "p2", "return_url": APP_RETURN, "connection_id": EPIC},
        ).json
        page = _new_page(browser)
        page.goto(session["url"])
        page.wait_for_selector("#login-form")
        page.fill("input[name=username]", "alice")
        page.fill("input[name=password]", "password")
        page.click("#login-form [type=submit]")
        page.wait_for_selector("#consent-form")
        page.click("button[name=decision][value=deny]")
        landed = _returned_url(page)
        query = parse_qs(urlsplit(landed).query)
        assert query["success"] == ["false"] and query["error"] == ["user_denied"]
        assert query["patient_session_id"] == [session["id"]]
        page.close()


def test_expired_link_page_in_chromium(browser):
    with live_sim() as sim:
        api, _ = sim.new_workspace(seed=7)
        session = api.post(
            "/patient-sessions",
            {"patient_id": "p3", "return_url": APP_RETURN, "expires_in": 60},
        ).json
        api.advance(60)
        page = browser.new_page()
        resp = page.goto(session["url"])
        assert resp.status == 410
        assert page.locator("#closed-title").inner_text() == "This link has expired"
        _shot(page, "link-expired")
        page.close()
