"""The portals' login and consent pages in real headless Chromium (Playwright)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from livekit import chromium, live_sim
from playwright.sync_api import expect
from portalkit import REDIRECT, Launch, new_launch

from simulator.testing import Sim

pytestmark = pytest.mark.browser

XSS = '<img src=x onerror="window.__xss = 1"><script>window.__xss = 2</script>'


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture
def served() -> Iterator[tuple[Sim, str]]:
    with live_sim() as sim:
        api, body = sim.new_workspace(seed=9, clock="manual")
        yield sim, body["api_key"]


def _page(browser, *, javascript: bool = True):
    context = browser.new_context(java_script_enabled=javascript)
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    # the app's redirect URI is not served; answer it in the browser
    page.route("https://app.example/**", lambda route: route.fulfill(body="app callback"))
    return context, page, dialogs


def _params(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def _login(page, username: str, password: str = "secret") -> None:
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-submit")


def test_login_consent_approve_in_chromium(browser, served) -> None:
    sim, key = served
    launch: Launch = new_launch(sim, "lakeside-cerner", key, client_name="Health App")
    context, page, dialogs = _page(browser)
    page.goto(launch.authorize_url())
    expect(page.locator("#login-form")).to_be_visible()
    assert "Lakeside Medical Center" in page.locator("header").inner_text()
    _login(page, "alice")
    page.wait_for_selector("#consent-form")
    assert page.locator("#signed-in-as").inner_text() == "alice"
    scopes = page.locator("#scope-list").inner_text()
    assert "patient/*.read" in scopes and "offline_access" in scopes
    page.click("#approve")
    page.wait_for_url(REDIRECT + "?*")
    params = _params(page.url)
    assert params["state"] == launch.state and params["code"]
    launch.signin = type("S", (), {"redirect_url": page.url})()
    token = launch.fetch_token()
    assert token["expires_in"] == 570 and token["patient"]
    assert dialogs == []
    context.close()


def test_deny_button_in_chromium(browser, served) -> None:
    sim, key = served
    launch = new_launch(sim, "summit-epic", key)
    context, page, _ = _page(browser)
    page.goto(launch.authorize_url())
    _login(page, "bob")
    page.wait_for_selector("#consent-form")
    page.click("#deny")
    page.wait_for_url(REDIRECT + "?*")
    params = _params(page.url)
    assert params["error"] == "access_denied"
    assert params["state"] == launch.state
    assert "code" not in params
    context.close()


def test_user_supplied_text_is_escaped(browser, served) -> None:
    sim, key = served
    launch = new_launch(sim, "summit-epic", key, client_name=XSS)
    context, page, dialogs = _page(browser)
    page.goto(launch.authorize_url())
    assert XSS in page.locator("main").inner_text()  # shown as text
    _login(page, XSS)  # an unknown user: the page again with the name in the error
    page.wait_for_selector("#login-error")
    assert page.locator("#login-error").inner_text().startswith("No account named")
    assert page.locator("#username").input_value() == XSS
    _login(page, "alice+<b>bold</b>")
    page.wait_for_selector("#login-error")
    assert "<b>bold</b>" in page.locator("#login-error").inner_text()
    expect(page.locator("main img, main b, main script")).to_have_count(0)
    assert page.evaluate("window.__xss") is None
    assert dialogs == []
    context.close()


def test_wrong_password_in_chromium(browser, served) -> None:
    sim, key = served
    launch = new_launch(sim, "maple-athena", key)
    context, page, _ = _page(browser)
    page.goto(launch.authorize_url())
    _login(page, "alice", "wrong")
    page.wait_for_selector("#login-error")
    assert "incorrect" in page.locator("#login-error").inner_text()
    _login(page, "alice", "right")
    page.wait_for_selector("#consent-form")
    context.close()


def test_pages_work_without_javascript(browser, served) -> None:
    sim, key = served
    launch = new_launch(sim, "bluebutton", key)
    context, page, _ = _page(browser, javascript=False)
    page.goto(launch.authorize_url())
    _login(page, "mia")
    page.wait_for_selector("#consent-form")
    assert "patient/ExplanationOfBenefit.read" in page.locator("#scope-list").inner_text()
    page.click("#approve")
    page.wait_for_url(REDIRECT + "?*")
    assert "code" in _params(page.url)
    context.close()


def test_error_page_for_an_unregistered_redirect_uri(browser, served) -> None:
    sim, key = served
    launch = new_launch(sim, "summit-epic", key)
    url = launch.authorize_url().replace("app.example", "evil.example")
    context, page, _ = _page(browser)
    response = page.goto(url)
    assert response.status == 400
    assert "redirect_uri" in page.locator("#portal-error").inner_text()
    assert urlsplit(page.url).netloc == urlsplit(sim.base_url).netloc
    context.close()


def test_served_discovery_is_reachable_over_loopback(served) -> None:
    sim, _ = served
    doc = requests.get(
        f"{sim.base_url}/portals/harbor-clinic/fhir/.well-known/smart-configuration", timeout=5
    ).json()
    assert doc["token_endpoint"] == f"{sim.base_url}/portals/harbor-clinic/token"
