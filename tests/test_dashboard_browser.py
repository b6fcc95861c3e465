"""The dashboard in real headless Chromium: open a workspace with its key, follow a
session to its connection, move the clock from the page, see delivery attempts, and
nothing of another workspace; screenshots at 1280 and 390 px are kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from flowkit import active_connection, new_session
from livekit import chromium, live_sim, screenshot
from playwright.sync_api import expect
from webhooks_support import inbox_endpoint

from simulator.core.timeutil import DAY, parse_iso

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def _shot(page, name: str) -> Path:
    return screenshot(page, f"dashboard-{name}")


def _sign_in(page, base_url: str, key: str) -> None:
    page.goto(base_url + "/")
    page.fill("input[name=api_key]", key)
    page.click("#sign-in button[type=submit]")


def _workspace(sim):
    """A workspace with an endpoint whose receiver fails, then a connected session."""
    api, created = sim.new_workspace(seed=11, name="Acme <test>")
    _, wh = inbox_endpoint(api, status=503)
    conn = active_connection(api)
    return api, created, wh, conn


def test_open_follow_and_move_the_clock_in_chromium(browser):
    with live_sim() as sim:
        api, created, wh, conn = _workspace(sim)
        other, other_created = sim.new_workspace(seed=12)
        theirs = new_session(other, "p-other-workspace")
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()

        _sign_in(page, sim.base_url, "mb_sk_sbx_wrong_key_for_the_screenshot")
        assert page.locator("#sign-in-error").inner_text() == (
            "That API key does not open any workspace."
        )
        assert "wrong_key_for_the_screenshot" not in page.content()
        _shot(page, "sign-in-error")

        _sign_in(page, sim.base_url, created["api_key"])
        page.wait_for_selector("#clock")
        assert page.url == f"{sim.base_url}/dashboard/{created['id']}"
        assert "Acme <test>" in page.locator("#workspace-id").inner_text()
        cookie = next(c for c in context.cookies() if c["name"] == "connect_sim_dashboard")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert cookie["path"] == f"/dashboard/{created['id']}"

        # a session and its connection, linked both ways
        session_row = page.locator(f"#session-{conn['patient_session_id']}")
        expect(session_row).to_be_visible()
        session_row.locator(f"a:text('{conn['id']}')").click()
        assert "#conn-att_" in page.url
        article = page.locator("#" + page.url.split("#", 1)[1])
        assert article.locator("header").inner_text().startswith("Summit Valley")
        assert "active" in article.locator(".history").inner_text()
        assert "expires" in article.locator(".token").first.inner_text()
        _shot(page, "workspace-1280")

        # a delivery attempt, failing, with its latency and next retry
        attempts = page.locator("tr.attempt")
        expect(attempts).to_have_count(2)  # the two events of the connection, one attempt each
        assert attempts.first.locator("td.status").inner_text() == "503"
        assert attempts.first.locator("td.latency").inner_text().endswith(" ms")
        expect(page.locator(".next-retry")).to_have_count(2)

        # +1 d from the page: the clock moves a day and the retries due on the way run
        before = parse_iso(page.locator("#clock-now").get_attribute("datetime"))
        page.click("#move-1d")
        page.wait_for_selector("#clock-note")
        after = parse_iso(page.locator("#clock-now").get_attribute("datetime"))
        assert after == before + DAY
        assert parse_iso(api.now()) == after
        assert page.locator("#clock-note").inner_text().startswith("+1 d: ")
        assert page.locator("tr.attempt").count() > 2
        _shot(page, "after-advance-1280")

        # the other workspace: nothing of it with this workspace's key
        resp = page.goto(f"{sim.base_url}/dashboard/{other_created['id']}")
        assert resp.status == 401
        expect(page.locator("#sign-in")).to_be_visible()
        content = page.content()
        assert theirs["id"] not in content and "p-other-workspace" not in content
        context.close()


def test_the_page_fits_a_phone_and_works_without_javascript(browser):
    with live_sim() as sim:
        api, created, wh, conn = _workspace(sim)
        context = browser.new_context(
            viewport={"width": 390, "height": 844}, java_script_enabled=False
        )
        page = context.new_page()
        _sign_in(page, sim.base_url, created["api_key"])
        page.wait_for_selector("#clock")
        expect(page.locator(f"#session-{conn['patient_session_id']}")).to_have_count(1)
        assert page.locator("#auto-refresh").is_hidden()  # the script did not run
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page is {width} px wide"
        _shot(page, "workspace-390")

        before = parse_iso(page.locator("#clock-now").get_attribute("datetime"))
        page.click("#move-1h")
        page.wait_for_selector("#clock-note")
        assert parse_iso(page.locator("#clock-now").get_attribute("datetime")) == (
            before + DAY // 24
        )
        page.click("#move-idle")
        page.wait_for_selector("#clock-note")
        assert page.locator("#clock-note").inner_text().startswith("Run until idle: ")
        expect(page.locator(".badge.s-disabled")).to_have_count(1)  # the endpoint gave up
        _shot(page, "after-idle-390")
        page.click("#sign-out")
        page.wait_for_selector("#sign-in")
        resp = page.goto(f"{sim.base_url}/dashboard/{created['id']}")
        assert resp.status == 401
        context.close()


def test_the_refresh_box_appears_with_javascript(browser):
    with live_sim() as sim:
        _, created = sim.new_workspace(seed=13)
        context = browser.new_context(viewport={"width": 1280, "height": 700})
        page = context.new_page()
        _sign_in(page, sim.base_url, created["api_key"])
        page.wait_for_selector("#clock")
        page.wait_for_selector("#auto-refresh", state="visible")  # shown by the page's script
        assert page.locator("#sessions .empty").inner_text() == "No sessions yet."
        context.close()
