"""Requests the real service accepts, and the `strict: true` workspace option.

By default a workspace follows the provider's schemas: unknown body fields are ignored
where the provider's schema allows them, empty query values are absent, and the
simulator's own extra limits are not applied. A strict workspace refuses all three
with a 400 naming the field.
"""

from __future__ import annotations

from typing import Any

import pytest
from flowkit import EPIC, RETURN_URL

from simulator.testing import Api, Sim

HOOK = "https://hooks.example/medblocks"


@pytest.fixture
def strict(sim: Sim) -> Api:
    api, created = sim.new_workspace(seed=1, strict=True)
    assert created["strict"] is True
    return api


def _webhook(api: Api) -> str:
    resp = api.post("/webhooks", {"url": HOOK, "events": ["*"]})
    assert resp.status_code == 200, resp.json
    return resp.json["id"]


def _open_inputs(api: Api) -> list[tuple[str, str, dict[str, Any]]]:
    """The four operations whose provider schema allows other fields, with an extra one."""
    api.post("/patients", {"patient_id": "p-put"})
    wh = _webhook(api)
    return [
        ("post", "/patients", {"patient_id": "p-new", "colour": "red"}),
        ("put", "/patients/p-put", {"patient_id": "p-put", "name": "Pat", "colour": "red"}),
        ("post", "/webhooks", {"url": HOOK, "events": ["*"], "colour": "red"}),
        ("patch", f"/webhooks/{wh}", {"description": "d", "colour": "red"}),
    ]


def test_unknown_fields_are_ignored_where_the_provider_schema_allows_them(api: Api) -> None:
    for method, path, body in _open_inputs(api):
        resp = getattr(api, method)(path, body)
        assert resp.status_code == 200, (method, path, resp.json)
        assert "colour" not in resp.json
    assert api.get("/patients/p-new").status_code == 200
    assert api.get("/patients/p-put").json["name"] == "Pat"


def test_a_strict_workspace_refuses_unknown_fields_naming_them(sim: Sim, strict: Api) -> None:
    for method, path, body in _open_inputs(strict):
        resp = getattr(strict, method)(path, body)
        assert resp.status_code == 400, (method, path)
        error = resp.json["error"]
        assert (error["code"], error["param"]) == ("invalid_data", "colour")
        assert error["message"] == "Unknown field 'colour'"
    assert strict.get("/patients/p-new").status_code == 404
    assert strict.get("/patients/p-put").json["name"] is None
    assert len(strict.get("/webhooks").json["data"]) == 1


def test_session_init_refuses_unknown_fields_in_every_workspace(api: Api, strict: Api) -> None:
    # the provider's PatientSessionInitInput has additionalProperties: false
    body = {"patient_id": "p1", "return_url": RETURN_URL, "redirect_uri": "https://x.example"}
    for client in (api, strict):
        error = client.post("/patient-sessions", body).json["error"]
        assert (error["code"], error["param"]) == ("invalid_data", "redirect_uri")


LONG_URL = "https://app.example/" + "a" * 2100


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/patient-sessions", {"patient_id": "p1", "return_url": LONG_URL}, "return_url"),
        (
            "/patient-sessions",
            {
                "patient_id": "p1",
                "return_url": RETURN_URL,
                "recommended_connection_ids": [EPIC] * 101,
            },
            "recommended_connection_ids",
        ),
        ("/webhooks", {"url": "https://hooks.example/" + "a" * 2100, "events": ["*"]}, "url"),
    ],
)
def test_the_simulators_own_limits_apply_only_to_strict_workspaces(
    api: Api, strict: Api, path: str, body: dict, param: str
) -> None:
    assert api.post(path, body).status_code == 200
    resp = strict.post(path, body)
    assert resp.status_code == 400
    error = resp.json["error"]
    assert (error["code"], error["param"]) == ("invalid_data", param)
    assert f"'{param}'" in error["message"]


def test_a_long_return_url_is_kept_whole(api: Api) -> None:
    session = api.post("/patient-sessions", {"patient_id": "p1", "return_url": LONG_URL}).json
    assert session["return_url"] == LONG_URL
    done = api.post(f"/_sim/patient-sessions/{session['id']}/done").json
    assert done["return_url"].startswith(LONG_URL + "?")


def _empty_queries(api: Api) -> list[tuple[str, dict[str, str], str]]:
    api.post("/patient-sessions", {"patient_id": "p1", "return_url": RETURN_URL})
    wh = _webhook(api)
    return [
        ("/patients", {"limit": "", "starting_after": "", "patient_id": "", "email": ""}, "limit"),
        ("/patients/p1/patient-sessions", {"status": ""}, "status"),
        ("/webhooks", {"status": ""}, "status"),
        (f"/webhooks/{wh}/events", {"delivered": "", "starting_after": ""}, "delivered"),
        ("/connections", {"q": "", "type": "", "limit": ""}, "q"),
        ("/patients/p1/records", {"type": "", "since": "", "count": ""}, "type"),
    ]


def test_empty_query_values_are_absent(api: Api) -> None:
    for path, query, _ in _empty_queries(api):
        with_empty = api.get(path, **query)
        assert with_empty.status_code == 200, (path, with_empty.json)
        assert with_empty.json == api.get(path).json, path


def test_a_strict_workspace_refuses_empty_query_values_naming_them(strict: Api) -> None:
    for path, query, first in _empty_queries(strict):
        resp = strict.get(path, **query)
        assert resp.status_code == 400, path
        error = resp.json["error"]
        assert (error["code"], error["param"]) == ("invalid_data", first), path
        assert f"'{first}' must not be empty" in error["message"]


def test_patch_without_a_body_changes_nothing_in_every_workspace(api: Api, strict: Api) -> None:
    for client in (api, strict):
        wh = _webhook(client)
        before = client.get(f"/webhooks/{wh}").json
        resp = client.client.patch(
            f"/webhooks/{wh}", headers={"Authorization": f"Bearer {client.api_key}"}
        )
        assert resp.status_code == 200, resp.json
        assert resp.json == before


def test_the_document_declares_the_provider_schemas_and_names_the_strict_checks(
    sim: Sim,
) -> None:
    doc = sim.client.get("/openapi.json").json
    schemas = doc["components"]["schemas"]
    for name in ("PatientCreateInput", "PatientReplaceInput"):
        assert "additionalProperties" not in schemas[name]
        assert schemas[name]["x-strict"] == ["additionalProperties"]
    assert schemas["PatientSessionInitInput"]["additionalProperties"] is False
    return_url = schemas["PatientSessionInitInput"]["properties"]["return_url"]
    assert "maxLength" not in return_url and return_url["x-strict"] == ["maxLength"]
    listed = doc["paths"]["/patients"]["get"]["parameters"]
    queries = [p for p in listed if p.get("in") == "query"]
    assert queries and all(p["allowEmptyValue"] is True for p in queries)
    control = doc["paths"]["/_sim/events"]["get"]["parameters"]
    assert not any(p.get("allowEmptyValue") for p in control if "in" in p)
