"""Every error is the documented envelope with its type, code and status; bad input changes nothing."""

from __future__ import annotations

import json

import pytest

from simulator.core import workspaces
from simulator.core.errors import CODES, DOC_URL
from simulator.testing import Api, Sim

RETURN_URL = "https://app.example/done"


_ANY = object()


def assert_error(resp, status: int, code: str, param: object = _ANY) -> dict:
    assert resp.status_code == status, resp.get_data(as_text=True)
    body = resp.json
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"type", "code", "message", "param", "doc_url", "request_id"}
    assert error["code"] == code
    assert error["type"] == CODES[code][0]
    assert error["doc_url"] == DOC_URL
    assert error["message"] and isinstance(error["message"], str)
    assert error["request_id"] == resp.headers["X-Request-Id"]
    if param is not _ANY:
        assert error["param"] == param
    return error


def raw_post(api: Api, path: str, data: bytes | str, content_type: str = "application/json"):
    return api.client.post(
        path,
        data=data,
        headers={"Authorization": f"Bearer {api.api_key}", "Content-Type": content_type},
    )


def state(sim: Sim, api: Api) -> tuple:
    """Everything stored for the workspace of `api`, to compare before and after."""
    store = sim.runtime.store
    ws = workspaces.by_key(store, api.api_key)
    assert ws is not None
    seq = store.scalar("SELECT id_seq FROM workspaces WHERE id = ?", (ws.id,))
    rows = [
        (
            table,
            [
                tuple(r)
                for r in store.all(f"SELECT * FROM {table} WHERE workspace_id = ?", (ws.id,))
            ],
        )
        for table in sorted(store.tables_with_column("workspace_id"))
    ]
    return seq, sim.runtime.now(ws.id), rows


def session_body(**fields) -> dict:
    return {"patient_id": "p1", "return_url": RETURN_URL, **fields}


# -- malformed bodies ---------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    ['{"patient_id": "p1"', "not json", "{'patient_id': 'p1'}", b"\xff\xfe\x00", '{"a":1} x'],
)
def test_malformed_json_is_bad_request(sim: Sim, api: Api, data) -> None:
    before = state(sim, api)
    assert_error(raw_post(api, "/patients", data), 400, "bad_request", None)
    assert state(sim, api) == before


@pytest.mark.parametrize("data", ["[]", "null", '"p1"', "42", "true"])
def test_a_body_that_is_not_an_object_is_bad_request(api: Api, data: str) -> None:
    assert_error(raw_post(api, "/patient-sessions", data), 400, "bad_request")


def test_missing_body_is_bad_request(api: Api) -> None:
    error = assert_error(raw_post(api, "/patients", b""), 400, "bad_request")
    assert "required" in error["message"]


def test_unpaired_surrogate_is_bad_request_not_a_crash(sim: Sim, api: Api) -> None:
    before = state(sim, api)
    assert_error(raw_post(api, "/patients", '{"patient_id": "a\\ud800"}'), 400, "bad_request")
    assert state(sim, api) == before


# -- schema violations ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/patients", {"patient_id": 5}, "patient_id"),
        ("/patients", {"patient_id": "p", "metadata": []}, "metadata"),
        ("/patients", {"patient_id": "p", "name": False}, "name"),
        ("/patient-sessions", session_body(expires_in="60"), "expires_in"),
        ("/patient-sessions", session_body(expires_in=60.5), "expires_in"),
        (
            "/patient-sessions",
            session_body(recommended_connection_ids="x"),
            "recommended_connection_ids",
        ),
        ("/patient-sessions", session_body(return_url=7), "return_url"),
    ],
)
def test_wrong_types_are_invalid_data_naming_the_field(
    sim: Sim, api: Api, path: str, body: dict, param: str
) -> None:
    before = state(sim, api)
    error = assert_error(api.post(path, body), 400, "invalid_data", param)
    assert param in error["message"]
    assert state(sim, api) == before


@pytest.mark.parametrize(
    ("path", "body", "param"),
    [
        ("/patient-sessions", session_body(redirect_uri="https://x.example"), "redirect_uri"),
        ("/_sim/clock/advance", {"seconds": 1, "minutes": 1}, "minutes"),
        ("/_sim/workspaces", {"seed": 1, "tenant": "x"}, "tenant"),
    ],
)
def test_unknown_fields_are_rejected(sim: Sim, api: Api, path: str, body: dict, param: str) -> None:
    before = state(sim, api)
    error = assert_error(api.post(path, body), 400, "invalid_data", param)
    assert f"Unknown field '{param}'" == error["message"]
    assert state(sim, api) == before


def test_missing_required_fields_are_named(api: Api) -> None:
    error = assert_error(api.post("/patient-sessions", {"patient_id": "p1"}), 400, "invalid_data")
    assert error["param"] == "return_url"
    assert_error(api.post("/patients", {}), 400, "invalid_data", "patient_id")


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (session_body(expires_in=59), "expires_in"),
        (session_body(expires_in=86401), "expires_in"),
        (session_body(expires_in=-1), "expires_in"),
        (session_body(return_button_label=""), "return_button_label"),
        (session_body(return_button_label="x" * 61), "return_button_label"),
        (session_body(patient_id=""), "patient_id"),
        (session_body(patient_id="x" * 201), "patient_id"),
    ],
)
def test_out_of_range_values_are_invalid_data(sim: Sim, api: Api, body: dict, param: str) -> None:
    before = state(sim, api)
    assert_error(api.post("/patient-sessions", body), 400, "invalid_data", param)
    assert state(sim, api) == before


@pytest.mark.parametrize("expires_in", [60, 86400])
def test_expires_in_bounds_are_accepted(api: Api, expires_in: int) -> None:
    assert api.post("/patient-sessions", session_body(expires_in=expires_in)).status_code == 200


@pytest.mark.parametrize("email", ["nope", "a@b", "a b@c.de", "@c.de", ""])
def test_bad_email_is_invalid_data(sim: Sim, api: Api, email: str) -> None:
    before = state(sim, api)
    assert_error(
        api.post("/patients", {"patient_id": "p", "email": email}), 400, "invalid_data", "email"
    )
    assert_error(
        api.post("/patient-sessions", session_body(patient_email=email)),
        400,
        "invalid_data",
        "patient_email",
    )
    assert state(sim, api) == before


@pytest.mark.parametrize("patient_id", ["pat_1", "ps_1", "conn_x", " padded", "tab\there", "org/1"])
def test_reserved_or_unsafe_patient_ids_are_rejected(api: Api, patient_id: str) -> None:
    assert_error(
        api.post("/patients", {"patient_id": patient_id}), 400, "invalid_data", "patient_id"
    )


@pytest.mark.parametrize(
    "return_url", ["not a url", "ftp://x.example/", "http://app.example/x", "https://a.example/#f"]
)
def test_bad_return_urls_are_rejected(api: Api, return_url: str) -> None:
    resp = api.post("/patient-sessions", session_body(return_url=return_url))
    assert_error(resp, 400, "invalid_data", "return_url")


def test_replace_with_another_patient_id_is_rejected(sim: Sim, api: Api) -> None:
    api.post("/patients", {"patient_id": "p1", "name": "Ann"})
    before = state(sim, api)
    resp = api.put("/patients/p1", {"patient_id": "p2", "name": "Bob"})
    assert_error(resp, 400, "invalid_data", "patient_id")
    assert state(sim, api) == before


# -- conflicts and unknown ids ---------------------------------------------------------------


def test_duplicate_patient_is_409_and_changes_nothing(sim: Sim, api: Api) -> None:
    first = api.post("/patients", {"patient_id": "p1", "email": "a@example.com"})
    assert first.status_code == 200
    before = state(sim, api)
    error = assert_error(
        api.post("/patients", {"patient_id": "p1", "email": "b@example.com"}),
        409,
        "external_id_already_exists",
        "patient_id",
    )
    assert error["type"] == "conflict_error"
    assert state(sim, api) == before  # id sequence, patient and everything else unchanged
    assert api.get("/patients/p1").json["email"] == "a@example.com"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/patients/ghost"),
        ("put", "/patients/ghost"),
        ("delete", "/patients/ghost"),
        ("get", "/patients/ghost/patient-sessions"),
        ("get", "/patients/ghost/sessions"),
        ("get", "/patients/ghost/patient-flows"),
        ("get", "/patient-sessions/ps_01J9YQ8M2X4VZ6P2K5RH7M3KQT"),
        ("get", "/sessions/sess_01J9YQ8M2X4VZ6P2K5RH7M3KQT"),
        ("get", "/patient-flows/pf_01J9YQ8M2X4VZ6P2K5RH7M3KQT"),
        ("get", "/connections/fhirsrc_nope"),
    ],
)
def test_unknown_ids_are_404(sim: Sim, method: str, path: str) -> None:
    # the A and B paths are asked of a workspace of their generation (elsewhere no route)
    naming = "A" if "/sessions" in path else "B" if "/patient-flows" in path else "C"
    api, _ = sim.new_workspace(seed=1, naming=naming)
    before = state(sim, api)
    body = {"patient_id": "ghost"} if method == "put" else None
    resp = getattr(api, method)(path, body) if body else getattr(api, method)(path)
    assert_error(resp, 404, "resource_not_found")
    assert state(sim, api) == before


def test_unknown_connection_in_a_session_is_404_and_no_patient_is_upserted(
    sim: Sim, api: Api
) -> None:
    before = state(sim, api)
    resp = api.post("/patient-sessions", session_body(connection_id="fhirsrc_nope"))
    assert_error(resp, 404, "resource_not_found", "connection_id")
    resp = api.post("/patient-sessions", session_body(recommended_connection_ids=["fhirsrc_nope"]))
    assert_error(resp, 404, "resource_not_found", "recommended_connection_ids.0")
    assert state(sim, api) == before
    assert_error(api.get("/patients/p1"), 404, "resource_not_found")


def test_unknown_route_is_404_envelope(api: Api) -> None:
    assert_error(api.get("/nothing-here"), 404, "resource_not_found")


def test_wrong_method_is_405_envelope_with_allow(api: Api) -> None:
    resp = api.patch("/patients", {"patient_id": "p"})
    assert resp.status_code == 405
    assert resp.json["error"]["type"] == "invalid_request_error"
    assert "GET" in resp.headers["Allow"] and "POST" in resp.headers["Allow"]


# -- authentication and isolation ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/patients", "get"),
        ("/patients", "post"),
        ("/patient-sessions", "post"),
        ("/connections", "get"),
        ("/_sim/clock", "get"),
        ("/_sim/clock/advance", "post"),
        ("/_sim/reset", "post"),
    ],
)
def test_missing_key_is_401(sim: Sim, path: str, method: str) -> None:
    resp = getattr(sim.client, method)(path, json={"patient_id": "p1"})
    assert_error(resp, 401, "missing_api_key")


@pytest.mark.parametrize(
    "header",
    ["Bearer mb_sk_sbx_wrong", "Bearer ", "Basic dXNlcjpwYXNz", "mb_sk_sbx_nokeyword", "Bearer\t"],
)
def test_invalid_key_is_401(sim: Sim, header: str) -> None:
    resp = sim.client.get("/patients", headers={"Authorization": header})
    error = assert_error(resp, 401, resp.json["error"]["code"])
    assert error["code"] in ("invalid_api_key", "missing_api_key")
    assert error["type"] == "authentication_error"


def test_wrong_key_changes_nothing(sim: Sim, api: Api) -> None:
    before = state(sim, api)
    resp = sim.client.post(
        "/patients", json={"patient_id": "p9"}, headers={"Authorization": "Bearer mb_sk_sbx_x"}
    )
    assert_error(resp, 401, "invalid_api_key")
    assert state(sim, api) == before


def test_health_needs_no_key(sim: Sim) -> None:
    resp = sim.client.get("/health")
    assert resp.status_code == 200 and resp.json["ok"] is True


def test_key_of_another_workspace_sees_404_never_the_data(sim: Sim, api: Api) -> None:
    other, _ = sim.new_workspace(seed=1)
    api.post("/patients", {"patient_id": "secret", "email": "s@example.com"})
    session = api.post("/patient-sessions", session_body(patient_id="secret")).json

    for path in (
        "/patients/secret",
        f"/patient-sessions/{session['id']}",
        "/patients/secret/patient-sessions",
    ):
        resp = other.get(path)
        assert_error(resp, 404, "resource_not_found")
        assert "s@example.com" not in resp.get_data(as_text=True)
    assert_error(other.delete("/patients/secret"), 404, "resource_not_found")
    assert_error(other.put("/patients/secret", {"patient_id": "secret"}), 404, "resource_not_found")
    assert other.get("/patients").json["data"] == []
    assert other.get("/patients", patient_id="secret").json["data"] == []
    # the owner still has everything
    assert api.get("/patients/secret").json["email"] == "s@example.com"
    # the other workspace may use the same patient id for its own patient
    assert other.post("/patients", {"patient_id": "secret"}).json["email"] is None


# -- size -------------------------------------------------------------------------------


def test_body_over_one_megabyte_is_413(sim: Sim, api: Api) -> None:
    before = state(sim, api)
    big = json.dumps({"patient_id": "p1", "metadata": {"blob": "x" * (1024 * 1024)}})
    assert_error(raw_post(api, "/patients", big), 413, "payload_too_large")
    assert_error(raw_post(api, "/patient-sessions", big), 413, "payload_too_large")
    assert state(sim, api) == before


def test_body_just_under_one_megabyte_is_accepted(api: Api) -> None:
    padding = 1024 * 1024 - 200
    body = json.dumps({"patient_id": "p1", "metadata": {"blob": "x" * padding}})
    assert len(body) < 1024 * 1024
    assert raw_post(api, "/patients", body).status_code == 200


# -- version header ------------------------------------------------------------------------


def test_supported_version_header_is_accepted(api: Api) -> None:
    assert api.get("/patients", headers={"Version": "2026-04-25"}).status_code == 200


@pytest.mark.parametrize("version", ["2025-01-01", "latest", "", "2026-04-25x"])
def test_other_versions_are_unsupported(sim: Sim, api: Api, version: str) -> None:
    before = state(sim, api)
    resp = api.post("/patients", {"patient_id": "p1"}, headers={"Version": version})
    error = assert_error(resp, 400, "unsupported_api_version")
    assert "2026-04-25" in error["message"]
    assert state(sim, api) == before


# -- never a 500 ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        '{"patient_id": "p", "metadata": {"a": ' + "[" * 200 + "]" * 200 + "}}",
        '{"patient_id": "p", "email": null}',
        '{"patient_id": 1e999}',
        '{"patient_id": "p", "expires_in": 1e400}',
        '{"patient_id": "\\u0000"}',
        '{"patient_id": {"$ne": null}}',
        '{"__proto__": {}}',
        "[" * 5000 + "]" * 5000,
    ],
)
def test_odd_input_never_gives_a_500(api: Api, data: str) -> None:
    for path in ("/patients", "/patient-sessions", "/_sim/clock/advance", "/_sim/workspaces"):
        resp = raw_post(api, path, data)
        assert resp.status_code < 500, (path, resp.get_data(as_text=True))
        assert "Traceback" not in resp.get_data(as_text=True)


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "1e3"},
        {"limit": "9" * 40},
        {"starting_after": "%%%"},
        {"starting_after": "A" * 5000},
        {"status": "weird"},
    ],
)
def test_odd_queries_never_give_a_500(api: Api, query: dict) -> None:
    api.post("/patients", {"patient_id": "p1"})
    for path in ("/patients", "/patients/p1/patient-sessions", "/connections"):
        resp = api.get(path, **query)
        assert resp.status_code < 500, (path, resp.get_data(as_text=True))


@pytest.mark.parametrize(
    ("path", "raw", "word"),
    [
        ("/patients", '{"patient_id": "p1", "metadata": {"score": NaN}}', "NaN"),
        ("/patients", '{"patient_id": "p1", "metadata": {"score": -Infinity}}', "-Infinity"),
        ("/patients", '{"patient_id": "p1", "metadata": {"score": 1e999}}', "1e999"),
        ("/_sim/clock/advance", '{"seconds": NaN}', "NaN"),
        ("/_sim/clock/run-until-idle", '{"max_seconds": Infinity}', "Infinity"),
    ],
)
def test_non_finite_numbers_are_refused_and_nothing_is_stored(
    api: Api, path: str, raw: str, word: str
) -> None:
    before = api.get("/_sim/clock").json["now"]
    resp = api.client.post(
        path,
        data=raw,
        headers={"Authorization": f"Bearer {api.api_key}", "Content-Type": "application/json"},
    )
    error = assert_error(resp, 400, "bad_request")
    assert f"{word} is not a JSON number" in error["message"]
    assert api.get("/patients").json["data"] == []
    assert api.get("/_sim/clock").json["now"] == before
