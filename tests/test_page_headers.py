"""Pages that show a patient's data, or carry a secret in their URL, are never cached,
framed or sent on as a referrer: the hosted pages and the portals' login pages alike."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from simulator.testing import Api, Sim

PRIVATE = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}


def _assert_private(resp) -> None:  # noqa: ANN001 - a Werkzeug test response
    for name, value in PRIVATE.items():
        assert resp.headers.get(name) == value, (resp.request.path, name, dict(resp.headers))


@pytest.fixture
def link(api: Api) -> str:
    body = {"patient_id": "p1", "return_url": "https://app.example/done"}
    return urlsplit(api.post("/patient-sessions", body).json["url"]).path


def test_the_hosted_picker_and_its_error_pages_are_private(sim: Sim, link: str) -> None:
    picker = sim.client.get(link)
    assert picker.status_code == 200
    _assert_private(picker)
    search = sim.client.get(link, query_string={"q": "summit"})
    _assert_private(search)
    unknown = sim.client.get("/c/" + "0" * 32)
    assert unknown.status_code == 404
    _assert_private(unknown)


def _epic(api: Api) -> str:
    sources = api.get("/connections", limit=100).json["data"]
    return next(s["id"] for s in sources if "summit" in s["name"].lower())


def test_the_completion_page_is_private(sim: Sim, api: Api, link: str) -> None:
    session_id = api.get("/patients/p1/patient-sessions").json["data"][0]["id"]
    api.connect(session_id, source=_epic(api))
    complete = sim.client.get(link + "/complete")
    assert complete.status_code == 200
    _assert_private(complete)


def test_the_portal_login_page_is_private(sim: Sim, api: Api, link: str) -> None:
    started = sim.client.post(link + "/connect", data={"source": _epic(api)})
    assert started.status_code in (302, 303), started.get_data(as_text=True)[:300]
    login = sim.client.get(started.headers["Location"])
    assert login.status_code == 200
    _assert_private(login)
