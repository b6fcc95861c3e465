"""Every documented error code can be produced: the catalogue is the fact sheet's, each of
its 36 (type, code, status) answers through `/_sim/api-faults`, and the codes whose cause
the contract names are produced by that cause."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from webhooks_support import fire_sync_failed, inbox_endpoint, records
from werkzeug.test import TestResponse

from simulator.core.errors import CATALOGUE, CODES, DOC_URL, STATUS_OF
from simulator.domain.webhooks.endpoints import MAX_ENDPOINTS
from simulator.testing import Api, Sim

RETURN_URL = "https://app.example/done"

# The catalogue as the fact sheet writes it (section 2.4, "Codes by type (36)").
FACT_SHEET = """
- `authentication_error` (401): `not_authenticated`, `invalid_credentials`,
  `session_expired`, `missing_api_key`, `invalid_api_key`, `expired_api_key`
- `permission_error` (403): `forbidden`, `org_access_denied`, `role_insufficient`,
  `patient_access_denied`, `scope_violation`, `insufficient_scope`
- `invalid_request_error`: `bad_request` 400, `invalid_data` 400,
  `payload_too_large` 413, `invalid_image` 400, `unsupported_api_version` 400,
  `oauth_state_expired` 400
- `not_found_error` (404): `resource_not_found` (patient, patient session, or source)
- `conflict_error` (409): `resource_conflict`, `already_linked`, `external_id_already_exists`
- `rate_limit_error` (429): `throttled`, `quota_exceeded` (API-key quota),
  `api_key_limit_exceeded` (org's active-key cap)
- `billing_error` (402): `feature_not_enabled`, `quota_exceeded` (free-tier active patients)
- `ehr_error` (502): `fhir_error`, `oauth_error`, `email_error`,
  `token_exchange_failed`, `token_unavailable`, `storage_error`
- `api_error` (500): `internal_error`, `db_error`, `config_missing`
"""


def parse_fact_sheet(text: str) -> list[tuple[str, str, int]]:
    """(type, code, status) in order: a status after a code, else the type's own."""
    out: list[tuple[str, str, int]] = []
    for item in re.split(r"^- ", text.strip(), flags=re.M)[1:]:
        item = re.sub(r"\([^)]*[a-z ,-]{6,}\)", "", item)  # prose in parentheses
        head, _, rest = item.partition(":")
        type_ = re.search(r"`(\w+)`", head).group(1)
        own = re.search(r"\((\d{3})\)", head)
        for code, status in re.findall(r"`(\w+)`(?:\s+(\d{3}))?", rest):
            out.append((type_, code, int(status or own.group(1))))
    return out


def test_the_catalogue_is_the_fact_sheets() -> None:
    documented = parse_fact_sheet(FACT_SHEET)
    assert len(documented) == 36
    assert list(CATALOGUE) == documented
    assert STATUS_OF[("billing_error", "quota_exceeded")] == 402
    assert STATUS_OF[("rate_limit_error", "quota_exceeded")] == 429
    assert len(CODES) == 35  # quota_exceeded is two codes of two types


def assert_envelope(resp: TestResponse, type_: str, code: str, status: int) -> dict:
    assert resp.status_code == status, resp.get_data(as_text=True)
    body = json.loads(resp.get_data(as_text=True))
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"type", "code", "message", "param", "doc_url", "request_id"}
    assert (error["type"], error["code"]) == (type_, code)
    assert STATUS_OF[(type_, code)] == status
    assert isinstance(error["message"], str) and error["message"].strip()
    assert error["doc_url"] == DOC_URL
    assert error["request_id"] == resp.headers["X-Request-Id"]
    assert error["param"] is None or isinstance(error["param"], str)
    if status == 429:
        assert int(resp.headers["Retry-After"]) >= 1
    return error


def _id(entry: tuple[str, str, int]) -> str:
    return f"{entry[0]}/{entry[1]}"


@pytest.mark.parametrize(("type_", "code", "status"), CATALOGUE, ids=map(_id, CATALOGUE))
def test_every_code_through_api_faults(
    sim: Sim, api: Api, type_: str, code: str, status: int
) -> None:
    fault = api.post("/_sim/api-faults", {"status": status, "type": type_, "code": code})
    assert fault.status_code == 200, fault.json
    assert fault.json["id"].startswith("apifault_")
    failed = api.post("/patients", {"patient_id": "p1"})
    assert_envelope(failed, type_, code, status)
    assert api.get("/patients").json["data"] == []  # the failed call changed nothing
    assert api.post("/patients", {"patient_id": "p1"}).status_code == 200


@pytest.mark.parametrize(("type_", "code", "status"), CATALOGUE, ids=map(_id, CATALOGUE))
def test_the_code_alone_is_enough_where_it_is_unique(
    api: Api, type_: str, code: str, status: int
) -> None:
    body: dict = {"code": code}
    if code == "quota_exceeded":
        body["status"] = status  # two types share it: the status picks one
    fault = api.post("/_sim/api-faults", body).json
    assert (fault["status"], fault["type"], fault["code"]) == (status, type_, code)
    assert_envelope(api.get("/patients"), type_, code, status)


# -- the codes produced by their documented cause --------------------------------------


def _missing_key(sim: Sim, api: Api) -> TestResponse:
    return sim.client.get("/patients")


def _wrong_key(sim: Sim, api: Api) -> TestResponse:
    return sim.api("mb_sk_sbx_" + "0" * 32).get("/patients")


def _revoked_key(sim: Sim, api: Api) -> TestResponse:
    minted = api.post("/_sim/api-keys", {"name": "ci"}).json
    assert api.post(f"/_sim/api-keys/{minted['id']}/revoke").status_code == 200
    return sim.api(minted["key"]).get("/patients")


def _expired_key(sim: Sim, api: Api) -> TestResponse:
    api.post("/_sim/clock/set", {"now": "2030-01-01T00:00:00Z"})
    minted = api.post("/_sim/api-keys", {"expires_at": "2030-01-02T00:00:00Z"}).json
    assert sim.api(minted["key"]).get("/patients").status_code == 200
    api.advance(86400)
    return sim.api(minted["key"]).get("/patients")


def _read_only_key_writes(sim: Sim, api: Api) -> TestResponse:
    minted = api.post("/_sim/api-keys", {"permissions": "read_only"}).json
    return sim.api(minted["key"]).post("/patients", {"patient_id": "p1"})


def _malformed_json(sim: Sim, api: Api) -> TestResponse:
    return api.client.post(
        "/patients",
        data='{"patient_id": ',
        headers={"Authorization": f"Bearer {api.api_key}", "Content-Type": "application/json"},
    )


def _invalid_field(sim: Sim, api: Api) -> TestResponse:
    return api.post("/patients", {"patient_id": 7})


def _too_large(sim: Sim, api: Api) -> TestResponse:
    return api.post("/patients", {"patient_id": "p1", "name": "x" * (1024 * 1024 + 1)})


def _unknown_version(sim: Sim, api: Api) -> TestResponse:
    return api.get("/patients", headers={"Version": "2019-01-01"})


def _absent_patient(sim: Sim, api: Api) -> TestResponse:
    return api.get("/patients/nobody")


def _too_many_endpoints(sim: Sim, api: Api) -> TestResponse:
    for n in range(MAX_ENDPOINTS):
        body = {"url": f"http://localhost:3000/hooks/{n}", "events": ["*"]}
        assert api.post("/webhooks", body).status_code == 200
    return api.post("/webhooks", {"url": "http://localhost:3000/hooks/x", "events": ["*"]})


def _duplicate_patient(sim: Sim, api: Api) -> TestResponse:
    api.post("/patients", {"patient_id": "p1"})
    return api.post("/patients", {"patient_id": "p1"})


def _redeliver_twice(sim: Sim, api: Api) -> TestResponse:
    _, wh = inbox_endpoint(api)
    fire_sync_failed(api)
    (record,) = records(api, wh["id"])
    assert api.post(f"/events/{record['id']}/redeliver").status_code == 200
    return api.post(f"/events/{record['id']}/redeliver")


def _key_cap(sim: Sim, api: Api) -> TestResponse:
    api.patch("/_sim/workspace/plan", {"api_key_limit": 2})
    assert api.post("/_sim/api-keys").status_code == 200  # with the workspace's own: 2
    return api.post("/_sim/api-keys")


def _patient_quota(sim: Sim, api: Api) -> TestResponse:
    api.patch("/_sim/workspace/plan", {"active_patient_limit": 1})
    assert api.post("/patients", {"patient_id": "p1"}).status_code == 200
    return api.post("/patients", {"patient_id": "p2"})


NATURAL: list[tuple[str, str, Callable[[Sim, Api], TestResponse]]] = [
    ("authentication_error", "missing_api_key", _missing_key),
    ("authentication_error", "invalid_api_key", _wrong_key),
    ("authentication_error", "invalid_api_key", _revoked_key),
    ("authentication_error", "expired_api_key", _expired_key),
    ("permission_error", "insufficient_scope", _read_only_key_writes),
    ("invalid_request_error", "bad_request", _malformed_json),
    ("invalid_request_error", "invalid_data", _invalid_field),
    ("invalid_request_error", "payload_too_large", _too_large),
    ("invalid_request_error", "unsupported_api_version", _unknown_version),
    ("not_found_error", "resource_not_found", _absent_patient),
    ("conflict_error", "resource_conflict", _too_many_endpoints),
    ("conflict_error", "external_id_already_exists", _duplicate_patient),
    ("rate_limit_error", "throttled", _redeliver_twice),
    ("rate_limit_error", "api_key_limit_exceeded", _key_cap),
    ("billing_error", "quota_exceeded", _patient_quota),
]


@pytest.mark.parametrize(
    ("type_", "code", "provoke"), NATURAL, ids=[f"{t}/{c}/{p.__name__[1:]}" for t, c, p in NATURAL]
)
def test_documented_causes_produce_their_code(
    sim: Sim, api: Api, type_: str, code: str, provoke: Callable[[Sim, Api], TestResponse]
) -> None:
    assert_envelope(provoke(sim, api), type_, code, STATUS_OF[(type_, code)])


def test_an_unexpected_failure_is_internal_error(
    sim: Sim, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from simulator.domain import patients

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(patients, "list_page", broken)
    error = assert_envelope(api.get("/patients"), "api_error", "internal_error", 500)
    assert "a bug" not in error["message"]  # no internals in the answer
