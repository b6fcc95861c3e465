"""What the hosted pages say, without a browser: the return button for any label, the
app's name, source labels and failure sentences; and the workspace's app name setting."""

from __future__ import annotations

import pytest
from flowkit import EPIC, new_session

from simulator.core.sources import Catalog
from simulator.web import hosted_text


@pytest.mark.parametrize(
    ("label", "text"),
    [
        (None, "Return to HealthApp"),
        ("", "Return to HealthApp"),
        ("   ", "Return to HealthApp"),
        ("Back to HealthApp", "Back to HealthApp"),
        ("back to the portal", "back to the portal"),
        ("Return to Acme", "Return to Acme"),
        ("Continue", "Continue"),
        ("Go to my dashboard", "Go to my dashboard"),
        ("Done", "Done"),
        ("Acme Health", "Done — return to Acme Health"),
        ("OpenCare", "Done — return to OpenCare"),
        ("Backstage Clinic", "Done — return to Backstage Clinic"),
    ],
)
def test_the_return_button_reads_naturally_whatever_the_label(label, text):
    assert hosted_text.return_button_text(label, "HealthApp") == text


def test_the_app_name_falls_back_to_the_return_host():
    assert hosted_text.app_name("HealthApp", "https://app.example/x") == "HealthApp"
    assert hosted_text.app_name(None, "https://app.example/x") == "app.example"
    assert hosted_text.app_name(None, "not a url") == "the app"


def test_every_catalog_source_has_a_human_label_and_a_logo_file():
    catalog = Catalog.load("http://sim.test")
    static = hosted_text.__file__.rsplit("/", 1)[0] + "/static/"
    for source in catalog.sources:
        label = hosted_text.source_label(source)
        assert " · " in label and source.type not in label.split(" · ")[1].split(), label
        with open(static + hosted_text.logo_file(source)) as fh:
            assert fh.read().startswith("<svg")


def test_failure_codes_become_sentences_and_unknown_codes_do_not_leak():
    for code in ("access_denied", "invalid_scope", "server_error", "temporarily_unavailable"):
        assert hosted_text.failure_text(code).endswith(".")
        assert code not in hosted_text.failure_text(code)
    assert hosted_text.failure_text("weird_code") == hosted_text.FALLBACK_FAILURE
    assert hosted_text.reason_text("refresh_failed", None).startswith("Access stopped")


def test_workspace_app_name_is_set_read_cleared_and_validated(sim, api):
    assert api.get("/_sim/workspace").json["app_name"] is None
    changed = api.patch("/_sim/workspace", {"app_name": "HealthApp"})
    assert changed.status_code == 200 and changed.json["app_name"] == "HealthApp"
    assert api.get("/_sim/workspace").json["app_name"] == "HealthApp"
    for bad in ({}, {"app_name": ""}, {"app_name": "x" * 61}, {"app_name": 3}, {"x": 1}):
        resp = api.patch("/_sim/workspace", bad)
        assert resp.status_code == 400, bad
        assert resp.json["error"]["type"] == "invalid_request_error"
    assert api.get("/_sim/workspace").json["app_name"] == "HealthApp"  # unchanged
    api.post("/_sim/reset")
    assert api.get("/_sim/workspace").json["app_name"] == "HealthApp"  # a setting, kept
    page = sim.client.get(new_session(api)["url"]).get_data(as_text=True)
    assert "HealthApp</span> uses Medblocks Connect" in page
    assert api.patch("/_sim/workspace", {"app_name": None}).json["app_name"] is None
    page = sim.client.get(new_session(api)["url"]).get_data(as_text=True)
    assert "app.example</span> uses Medblocks Connect" in page


def test_a_new_workspace_can_be_named_at_creation(sim):
    created = sim.client.post("/_sim/workspaces", json={"app_name": "Acme"}).json
    assert created["app_name"] == "Acme"


def test_form_errors_are_pages_in_words_with_a_way_on(sim, api):
    session = new_session(api)
    token = session["url"].rsplit("/", 1)[1]
    page = sim.client.post(f"/c/{token}/connect", data={"source": "<script>x</script>"})
    html = page.get_data(as_text=True)
    assert page.status_code == 400 and "Choose a source from the list." in html
    assert "<script>x</script>" not in html and 'id="back"' in html
    direct = new_session(api, "p2", connection_id=EPIC)
    token = direct["url"].rsplit("/", 1)[1]
    page = sim.client.post(f"/c/{token}/done")
    assert page.status_code == 400
    assert "returns on its own" in page.get_data(as_text=True)
