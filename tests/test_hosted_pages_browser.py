"""The hosted pages a patient sees, in headless Chromium at phone (390 px) and desktop
(1280 px) widths: the app's name and what is shared, human source labels and local
logos, friendly failures with Try again, already-connected markers, the return button,
escaping, no horizontal overflow, and the whole flow with JavaScript off."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flowkit import CERNER, EPIC, HARBOR
from livekit import chromium, live_sim, screenshot
from playwright.sync_api import expect

pytestmark = pytest.mark.browser
APP_RETURN = "http://localhost:9/connected"  # nothing listens: the app is stubbed per page
WIDTHS = (390, 1280)
HOSTILE = "<img src=x onerror=window.pwned=1>Acme"
CATALOG = Path(__file__).resolve().parent.parent / "simulator" / "data" / "sources.json"
CLOSED_SOURCE = "fhirsrc_01JGFJJZ00CLOSEDPORTAL0000"


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def _context(browser, width: int, javascript: bool = True):
    context = browser.new_context(
        viewport={"width": width, "height": 844 if width < 600 else 900},
        java_script_enabled=javascript,
    )
    context.route(
        "http://localhost:9/**",
        lambda route: route.fulfill(status=200, content_type="text/html", body="<p id=app>app</p>"),
    )
    return context


def _shot(page, name: str) -> Path:
    return screenshot(page, f"hosted-{name}")


def _fits(page) -> None:
    """No horizontal scrolling: the page is no wider than the viewport."""
    wide = page.evaluate("document.scrollingElement.scrollWidth")
    inner = page.evaluate("window.innerWidth")
    assert wide <= inner, f"{page.url} is {wide} px wide in a {inner} px viewport"


def _only_local_assets(page, base_url: str) -> None:
    """Every image, script and stylesheet comes from the simulator, and every image loaded."""
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(base_url))
    srcs = page.eval_on_selector_all(
        "img, script[src], link[href]",
        "els => els.map(e => e.src || e.href)",
    )
    assert srcs, "the page shows no logo"
    assert all(s.startswith(origin + "/") for s in srcs), srcs
    broken = page.eval_on_selector_all(
        "img", "els => els.filter(e => !e.complete || e.naturalWidth === 0).map(e => e.src)"
    )
    assert broken == []


def _session(api, **fields):
    body = {"patient_id": "p1", "return_url": APP_RETURN, **fields}
    resp = api.post("/patient-sessions", body)
    assert resp.status_code == 200, resp.json
    return resp.json


def _sign_in(page, username: str = "alice", decision: str = "approve") -> None:
    page.wait_for_selector("#login-form")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "password")
    page.click("#login-form [type=submit]")
    if decision:
        page.wait_for_selector("#consent-form")
        page.click(f"button[name=decision][value={decision}]")


def _connect_from_picker(page, source: str) -> None:
    page.click(f"li[data-source='{source}'] button[type=submit]")


@pytest.mark.parametrize("width", WIDTHS)
def test_picker_names_the_app_says_what_is_shared_and_labels_sources(browser, width):
    with live_sim() as sim:
        api, _ = sim.new_workspace(seed=21)
        assert api.patch("/_sim/workspace", {"app_name": "HealthApp"}).status_code == 200
        api.post("/patients", {"patient_id": "p1", "name": "Ann O'Neil"})
        session = _session(api, recommended_connection_ids=[CERNER])
        context = _context(browser, width)
        page = context.new_page()
        page.goto(session["url"])
        assert page.locator("#app-name").inner_text() == "HealthApp"
        assert page.locator("#lead").inner_text().startswith("Hi Ann O'Neil. Find")
        shared = page.locator("#what-is-shared").inner_text()
        assert "Shared with HealthApp" in shared and "password is never shared" in shared
        assert page.locator("#exit").inner_text() == "← Back to HealthApp"
        harbor = page.locator(f"li[data-source='{HARBOR}']")
        assert harbor.locator(".meta").inner_text() == "Clinic · eClinicalWorks"
        assert "eclinicalworks" not in harbor.inner_text()  # no vendor slug shown
        cerner = page.locator(f"#recommended li[data-source='{CERNER}'] .meta")
        assert cerner.inner_text() == "Hospital · Oracle Health"
        _only_local_assets(page, sim.base_url)
        _fits(page)
        _shot(page, f"picker-{width}")
        context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_failure_reads_as_a_sentence_with_try_again_and_connected_sources_are_marked(
    browser, width
):
    with live_sim() as sim:
        api, _ = sim.new_workspace(seed=22)
        api.patch("/_sim/workspace", {"app_name": "HealthApp"})
        session = _session(api, return_button_label="Back to HealthApp")
        context = _context(browser, width)
        page = context.new_page()
        page.goto(session["url"])
        assert page.locator("#lead").inner_text().startswith("Find your hospital")  # no "Hi p1"
        _connect_from_picker(page, EPIC)
        _sign_in(page, "alice+deny")
        page.wait_for_selector("#attempts")
        row = page.locator("#attempts li").first
        assert row.locator(".status-failed").inner_text() == "Not connected"
        assert "You chose not to share your records" in row.locator(".why").inner_text()
        assert row.locator("code.code").inner_text() == "access_denied"  # still there, small
        assert "(access_denied)" not in row.inner_text()
        assert page.locator("#done").inner_text() == "Back to HealthApp"
        _fits(page)
        _shot(page, f"complete-failed-{width}")

        row.locator("button", has_text="Try again").click()  # straight back to that portal
        _sign_in(page, "alice")
        page.wait_for_selector("#attempts")
        rows = page.locator("#attempts li")
        expect(rows).to_have_count(2)
        assert rows.nth(1).locator(".status-active").inner_text() == "Connected"
        expect(rows.nth(0).locator("button", has_text="Try again")).to_have_count(0)  # retried
        _shot(page, f"complete-{width}")

        page.click("#connect-another")
        epic = page.locator(f"li[data-source='{EPIC}']")
        assert epic.locator(".badge.connected").inner_text() == "Connected in this session"
        assert epic.locator("button").inner_text() == "Reconnect"
        other = page.locator(f"li[data-source='{CERNER}']")
        expect(other.locator(".badge")).to_have_count(0)
        assert other.locator("button").inner_text() == "Connect"
        _fits(page)
        _shot(page, f"picker-connected-{width}")

        page.click("#exit")  # the way back to the app ends the session like Done
        page.wait_for_selector("#app")
        assert page.url.startswith(APP_RETURN + "?patient_id=p1")
        assert api.get(f"/patient-sessions/{session['id']}").json["status"] == "complete"
        context.close()


@pytest.mark.parametrize(
    ("code", "sentence"),
    [
        ("server_error", "The portal had a problem on its side."),
        ("temporarily_unavailable", "The portal is busy right now."),
        ("invalid_scope", "The portal could not grant the access this app asks for."),
    ],
)
def test_portal_errors_become_sentences(browser, code, sentence):
    with live_sim() as sim:
        api, _ = sim.new_workspace(seed=23)
        session = _session(api)
        context = _context(browser, 390)
        page = context.new_page()
        page.goto(session["url"])
        _connect_from_picker(page, EPIC)
        _sign_in(page, f"alice+{code}", decision="")
        page.wait_for_selector("#attempts")
        row = page.locator("#attempts li").first
        assert sentence in row.locator(".why").inner_text()
        assert row.locator("code.code").inner_text() == code
        expect(row.locator("button", has_text="Try again")).to_have_count(1)
        context.close()


def test_hostile_app_name_and_label_render_as_text(browser):
    with live_sim() as sim:
        api, _ = sim.new_workspace(seed=24)
        api.patch("/_sim/workspace", {"app_name": HOSTILE})
        label = '"><script>window.pwned=2</script>'
        session = _session(api, return_button_label=label)
        context = _context(browser, 390)
        page = context.new_page()
        page.goto(session["url"])
        assert page.locator("#app-name").inner_text() == HOSTILE
        assert page.locator("#exit").inner_text() == f"← Back to {HOSTILE}"
        page.goto(session["url"] + "/complete")
        assert page.locator("#done").inner_text() == f"Done — return to {label}"
        assert page.evaluate("window.pwned") is None
        expect(page.locator("main img[src='x']")).to_have_count(0)
        _fits(page)
        _shot(page, "hostile-390")
        context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_the_whole_picker_flow_works_with_javascript_off(browser, width):
    with live_sim() as sim:
        api, _ = sim.new_workspace(seed=25)
        api.patch("/_sim/workspace", {"app_name": "HealthApp"})
        session = _session(api)
        context = _context(browser, width, javascript=False)
        page = context.new_page()
        page.goto(session["url"])
        page.fill("input[name=q]", "harbor")
        page.click("form.search button")
        expect(page.locator("#results li")).to_have_count(1)
        _connect_from_picker(page, HARBOR)
        _sign_in(page, "alice")
        page.wait_for_selector("#attempts")
        assert page.locator("#attempts .status-active").inner_text() == "Connected"
        assert page.locator("#done").inner_text() == "Return to HealthApp"  # no label given
        _fits(page)
        _shot(page, f"complete-nojs-{width}")
        page.click("#done")
        page.wait_for_selector("#app")
        assert urlsplit(page.url).query == f"patient_id=p1&patient_session_id={session['id']}"
        context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_closed_links_name_the_app_and_fit(browser, width):
    with live_sim() as sim:
        api, _ = sim.new_workspace(seed=26)
        api.patch("/_sim/workspace", {"app_name": "HealthApp"})
        session = _session(api, expires_in=60)
        api.advance(60)
        context = _context(browser, width, javascript=False)
        page = context.new_page()
        assert page.goto(session["url"]).status == 410
        assert "Return to HealthApp to get a new one" in page.locator("p.lead").inner_text()
        assert page.locator("#return").inner_text() == "Return to HealthApp"
        _fits(page)
        _shot(page, f"expired-{width}")
        assert page.goto(sim.base_url + "/c/" + "0" * 32).status == 404
        assert page.locator("#closed-title").inner_text() == "Link not found"
        context.close()


def _catalog_with_a_closed_portal(tmp_path: Path) -> str:
    data = json.loads(CATALOG.read_text())
    data["sources"].append(
        {
            "id": CLOSED_SOURCE,
            "slug": "closed-portal",
            "name": "Riverside Clinic",
            "type": "meditech",
            "kind": "clinic",
            "fhir_base_url": "http://127.0.0.1:9/fhir",  # nothing listens there
            "logo_url": None,
            "portal_url": None,
        }
    )
    path = tmp_path / "sources.json"
    path.write_text(json.dumps(data))
    return str(path)


@pytest.mark.parametrize("width", WIDTHS)
def test_an_unreachable_portal_offers_try_again(browser, width, tmp_path):
    with live_sim(catalog_path=_catalog_with_a_closed_portal(tmp_path)) as sim:
        api, _ = sim.new_workspace(seed=27)
        session = _session(api)
        context = _context(browser, width)
        page = context.new_page()
        page.goto(session["url"])
        row = page.locator(f"li[data-source='{CLOSED_SOURCE}']")
        assert row.locator(".meta").inner_text() == "Clinic · MEDITECH"
        assert row.locator("img").get_attribute("src") == "/static/logo-clinic.svg"
        _connect_from_picker(page, CLOSED_SOURCE)
        page.wait_for_selector("#error-title")
        assert page.locator("#error-text").inner_text() == (
            "Riverside Clinic cannot be reached right now. Please try again in a few minutes."
        )
        assert "(network)" in page.locator("#error-detail").inner_text()  # the detail, small
        assert page.locator("#error-code").inner_text() == "portal_unavailable"
        _fits(page)
        _shot(page, f"error-{width}")
        page.click("#try-again")  # posts the same source again: the same page, not a 500
        page.wait_for_selector("#error-title")
        page.click("#back")
        assert page.locator("h1").inner_text() == "Connect your health records"
        context.close()
