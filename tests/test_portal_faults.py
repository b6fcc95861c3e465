"""Each fault of the portals' catalog has its effect: by login username, control plane or helper."""

from __future__ import annotations

import time

import pytest
import requests
from livekit import live_sim
from portalkit import REDIRECT, Launch, new_launch

import portal_mocks
from portal_mocks.faults import CATALOG
from simulator.core.timeutil import iso, parse_iso
from simulator.testing import Sim


@pytest.fixture
def ws(sim: Sim):
    api, body = sim.new_workspace(seed=21, clock="manual")
    return api, body["api_key"]


@pytest.fixture
def epic(sim: Sim, ws) -> Launch:
    return new_launch(sim, "summit-epic", ws[1])


def _exchange(launch: Launch) -> requests.Response:
    return launch.token_post(
        {
            "grant_type": "authorization_code",
            "code": launch.signin.params["code"],
            "redirect_uri": REDIRECT,
            "code_verifier": launch.code_verifier,
        }
    )


def _connect(launch: Launch, username: str) -> dict:
    launch.code(username)
    resp = _exchange(launch)
    assert resp.status_code == 200, resp.text
    return resp.json()


def _ws_id(sim: Sim, launch: Launch) -> str:
    return sim.runtime.store.scalar(
        "SELECT workspace_id FROM portal_clients WHERE client_id = ?",
        (launch.client["client_id"],),
    )


# -- the catalog --------------------------------------------------------------------------------

REQUIRED = {
    "deny",
    "invalid_scope",
    "server_error",
    "temporarily_unavailable",
    "auth_invalid_client_id",
    "auth_invalid_redirect_uri",
    "auth_invalid_scope",
    "auth_invalid_client_secret",
    "token_invalid_token",
    "token_expired_refresh_token",
    "request_invalid_token",
    "request_expired_token",
    "exchange_invalid_grant",
    "exchange_invalid_client",
    "exchange_5xx",
    "exchange_timeout",
    "refresh_revoked",
    "refresh_revoked_after",
    "refresh_revoked_at",
    "refresh_expires_after",
    "refresh_503",
    "fhir_401",
    "fhir_429",
    "fhir_500",
    "fhir_slow",
    "fhir_503",
    "empty_record",
    "large_record",
}


def test_catalog_is_public_and_complete(sim: Sim) -> None:
    resp = sim.client.get("/_sim/faults/catalog")
    assert resp.status_code == 200
    entries = {e["name"]: e for e in resp.json["data"]}
    assert REQUIRED <= set(entries)
    for entry in entries.values():
        assert entry["where"] and entry["effect"] and entry["login_example"].startswith("alice+")
    # timeouts default to just over the simulator's outbound HTTP timeout
    timeout = sim.runtime.config.http_timeout
    assert float(entries["exchange_timeout"]["default_arg"]) == timeout + 1


# -- login, consent, authorize --------------------------------------------------------------

AUTHORIZE = [
    ("deny", "access_denied", ["login", "consent"]),
    ("invalid_scope", "invalid_scope", ["login"]),
    ("server_error", "server_error", ["login"]),
    ("temporarily_unavailable", "temporarily_unavailable", ["login"]),
    ("auth_invalid_client_id", "invalid_client", ["login"]),
    ("auth_invalid_redirect_uri", "invalid_request", ["login"]),
    ("auth_invalid_scope", "invalid_scope", ["login"]),
]


@pytest.mark.parametrize(("fault", "error", "pages"), AUTHORIZE)
def test_authorize_faults_by_username(epic: Launch, fault: str, error: str, pages: list) -> None:
    result = epic.sign_in(f"alice+{fault}")
    assert result.pages == pages
    assert result.params["error"] == error
    assert result.params["state"] == epic.state
    assert "code" not in result.params


def test_launcher_descriptions(epic: Launch) -> None:
    result = epic.sign_in("alice+auth_invalid_client_id")
    assert result.params["error_description"] == "Simulated invalid client_id parameter error"


def test_authorize_fault_from_the_control_plane_fires_before_login(
    sim: Sim, ws, epic: Launch
) -> None:
    api, _ = ws
    resp = api.post(
        "/_sim/portals/summit-epic/faults", {"fault": "temporarily_unavailable", "times": 1}
    )
    assert resp.status_code == 200, resp.json
    first = epic.sign_in("alice")
    assert first.pages == [] and first.params["error"] == "temporarily_unavailable"
    assert "code" in epic.sign_in("alice").params  # spent after one firing
    listed = api.get("/_sim/portals/summit-epic/faults").json["data"]
    assert listed[0]["fired"] == 1 and listed[0]["times"] == 0


# -- token endpoint ---------------------------------------------------------------------------------


def test_auth_invalid_client_secret(sim: Sim, ws, epic: Launch) -> None:
    epic.code("alice+auth_invalid_client_secret")
    resp = _exchange(epic)
    assert resp.status_code == 401
    assert resp.json() == {
        "error": "invalid_client",
        "error_description": "Simulated invalid client secret error",
    }
    public = new_launch(sim, "summit-epic", ws[1], method="none")
    public.code("alice+auth_invalid_client_secret")
    assert _exchange(public).status_code == 200  # no secret, nothing to reject


def test_token_invalid_token(epic: Launch) -> None:
    epic.code("alice+token_invalid_token")
    resp = _exchange(epic)
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_client"
    assert resp.json()["error_description"] == "Simulated invalid client error"


def test_token_expired_refresh_token(epic: Launch) -> None:
    token = _connect(epic, "alice+token_expired_refresh_token")
    resp = epic.refresh_raw(token["refresh_token"])
    assert resp.status_code == 403
    assert resp.json() == {"error": "invalid_grant", "error_description": "Expired refresh token"}


@pytest.mark.parametrize(
    ("fault", "sim_error", "text"),
    [
        ("request_invalid_token", "Invalid token", "Invalid token (simulated error)"),
        ("request_expired_token", "Token expired", "Token expired (simulated error)"),
    ],
)
def test_request_token_faults(epic: Launch, fault: str, sim_error: str, text: str) -> None:
    token = _connect(epic, f"alice+{fault}")
    assert token["sim_error"] == sim_error
    resp = epic.get("Patient", token["access_token"])
    assert resp.status_code == 401
    assert f'error_description="{text}"' in resp.headers["WWW-Authenticate"]


def test_exchange_faults(epic: Launch) -> None:
    epic.code("alice+exchange_invalid_grant")
    resp = _exchange(epic)
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"
    epic.code("alice+exchange_invalid_client")
    resp = _exchange(epic)
    assert resp.status_code == 401 and resp.json()["error"] == "invalid_client"
    epic.code("alice+exchange_5xx")
    resp = _exchange(epic)
    assert resp.status_code == 500 and resp.json()["error"] == "server_error"
    epic.code("alice+exchange_5xx:503")
    resp = _exchange(epic)
    assert resp.status_code == 503 and resp.json()["error"] == "temporarily_unavailable"
    assert resp.headers["Retry-After"] == "1"


def test_exchange_fails_twice_then_succeeds(ws, epic: Launch) -> None:
    api, _ = ws
    api.post("/_sim/portals/summit-epic/faults", {"fault": "exchange_5xx", "arg": 502, "times": 2})
    epic.code("alice")
    assert _exchange(epic).status_code == 502
    assert _exchange(epic).status_code == 502
    assert _exchange(epic).status_code == 200


def test_timeouts_really_delay_the_answer() -> None:
    with live_sim(http_timeout=0.25) as sim:
        api, body = sim.new_workspace(seed=4, clock="manual")
        launch = new_launch(sim, "summit-epic", body["api_key"])
        launch.code("alice+exchange_timeout")
        data = {
            "grant_type": "authorization_code",
            "code": launch.signin.params["code"],
            "redirect_uri": REDIRECT,
            "code_verifier": launch.code_verifier,
        }
        auth = (launch.client["client_id"], launch.client["client_secret"])
        started = time.monotonic()
        with pytest.raises(requests.exceptions.ReadTimeout):
            requests.post(launch.conf["token_endpoint"], data=data, auth=auth, timeout=0.25)
        assert time.monotonic() - started < 1.0
        # the portal answers after 1.25 s (http_timeout + 1) and has spent the code by then
        time.sleep(1.2)
        late = requests.post(launch.conf["token_endpoint"], data=data, auth=auth, timeout=5)
        assert late.status_code == 400 and late.json()["error"] == "invalid_grant"

        token = _connect(launch, "alice+refresh_timeout:0.6")
        started = time.monotonic()
        slow = launch.refresh_raw(token["refresh_token"])
        assert slow.status_code == 200 and time.monotonic() - started >= 0.6


# -- refresh ------------------------------------------------------------------------------------------


def test_refresh_revoked_now(epic: Launch) -> None:
    token = _connect(epic, "alice+refresh_revoked")
    resp = epic.refresh_raw(token["refresh_token"])
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"
    assert epic.get("Patient", token["access_token"]).status_code == 200  # until it expires
    assert epic.refresh_raw(token["refresh_token"]).status_code == 400


def test_refresh_works_twice_then_fails(epic: Launch) -> None:
    token = _connect(epic, "alice+refresh_revoked_after:2")
    rt = token["refresh_token"]
    assert epic.refresh_raw(rt).status_code == 200
    assert epic.refresh_raw(rt).status_code == 200
    third = epic.refresh_raw(rt)
    assert third.status_code == 400 and third.json()["error"] == "invalid_grant"


def test_refresh_works_twice_then_fails_with_rotation(sim: Sim, ws) -> None:
    launch = new_launch(sim, "lakeside-cerner", ws[1])
    token = _connect(launch, "alice+refresh_revoked_after:2")
    first = launch.refresh_raw(token["refresh_token"]).json()
    second = launch.refresh_raw(first["refresh_token"]).json()
    assert launch.refresh_raw(token["refresh_token"]).status_code == 400  # rotated away
    assert launch.refresh_raw(second["refresh_token"]).json()["error"] == "invalid_grant"


def test_refresh_revoked_at_a_virtual_instant(epic: Launch, ws) -> None:
    api, _ = ws
    token = _connect(epic, "alice+refresh_revoked_at:600")
    api.advance(599)
    assert epic.refresh_raw(token["refresh_token"]).status_code == 200
    api.advance(1)
    assert epic.refresh_raw(token["refresh_token"]).json()["error"] == "invalid_grant"


def test_refresh_revoked_at_an_iso_instant_from_the_control_plane(ws, epic: Launch) -> None:
    api, _ = ws
    token = _connect(epic, "alice")
    at = iso(parse_iso(api.now()) + 3_600_000)
    resp = api.post("/_sim/portals/summit-epic/faults", {"fault": "refresh_revoked", "at": at})
    assert resp.status_code == 200 and resp.json["at"] == at
    api.advance(3599)
    assert epic.refresh_raw(token["refresh_token"]).status_code == 200
    api.advance(1)
    assert epic.refresh_raw(token["refresh_token"]).json()["error"] == "invalid_grant"


def test_refresh_token_lifetime_ends(epic: Launch, ws) -> None:
    api, _ = ws
    token = _connect(epic, "alice+refresh_expires_after:100")
    auth = (epic.client["client_id"], epic.client["client_secret"])
    info = requests.post(
        epic.conf["introspection_endpoint"], data={"token": token["refresh_token"]}, auth=auth
    ).json()
    assert info["exp"] - info["iat"] == 100
    api.advance(99)
    assert epic.refresh_raw(token["refresh_token"]).status_code == 200
    api.advance(1)
    assert epic.refresh_raw(token["refresh_token"]).json()["error"] == "invalid_grant"


def test_transient_refresh_503_then_recovery(epic: Launch) -> None:
    token = _connect(epic, "alice+refresh_503:2")
    for _ in range(2):
        resp = epic.refresh_raw(token["refresh_token"])
        assert resp.status_code == 503
        assert resp.json()["error"] == "temporarily_unavailable"
        assert resp.headers["Retry-After"] == "1"
    assert epic.refresh_raw(token["refresh_token"]).status_code == 200


def test_cerner_token_expires_at_exactly_570_seconds(sim: Sim, ws) -> None:
    api, _ = ws
    launch = new_launch(sim, "lakeside-cerner", ws[1])
    token = _connect(launch, "alice")
    assert token["expires_in"] == 570
    api.advance(569.999)
    assert launch.get("Patient", token["access_token"]).status_code == 200
    api.advance(0.001)
    resp = launch.get("Patient", token["access_token"])
    assert resp.status_code == 401
    assert 'error_description="The access token has expired"' in resp.headers["WWW-Authenticate"]
    fresh = launch.refresh_raw(token["refresh_token"]).json()
    assert launch.get("Patient", fresh["access_token"]).status_code == 200


# -- FHIR ------------------------------------------------------------------------------------------


def test_fhir_401_then_a_refreshed_token_works(epic: Launch) -> None:
    token = _connect(epic, "alice+fhir_401")
    resp = epic.get("Observation", token["access_token"])
    assert resp.status_code == 401 and 'error="invalid_token"' in resp.headers["WWW-Authenticate"]
    assert epic.get("Observation", token["access_token"]).status_code == 401  # revoked
    fresh = epic.refresh_raw(token["refresh_token"]).json()
    assert epic.get("Observation", fresh["access_token"]).status_code == 200


def test_fhir_429_with_retry_after(epic: Launch) -> None:
    token = _connect(epic, "alice+fhir_429:7")
    resp = epic.get("Observation", token["access_token"])
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "7"
    assert resp.json()["issue"][0]["code"] == "throttled"
    assert epic.get("Observation", token["access_token"]).status_code == 200


def test_fhir_500_for_one_resource_type(epic: Launch) -> None:
    token = _connect(epic, "bob+fhir_500:Observation")
    for _ in range(2):
        resp = epic.get("Observation", token["access_token"])
        assert resp.status_code == 500 and resp.json()["issue"][0]["code"] == "exception"
    assert epic.get("Condition", token["access_token"]).status_code == 200


def test_slow_pages(epic: Launch) -> None:
    token = _connect(epic, "alice+fhir_slow:0.3")
    started = time.monotonic()
    assert epic.get("Observation", token["access_token"]).status_code == 200
    assert time.monotonic() - started >= 0.3


def _statuses(sim: Sim, seed: int, username: str, n: int = 24) -> list[int]:
    api, body = sim.new_workspace(seed=seed, clock="manual")
    launch = new_launch(sim, "summit-epic", body["api_key"])
    token = _connect(launch, username)
    return [launch.get("Patient", token["access_token"]).status_code for _ in range(n)]


def test_probabilistic_503_is_seeded(sim: Sim) -> None:
    first = _statuses(sim, 7, "alice+fhir_503:0.5")
    again = _statuses(sim, 7, "alice+fhir_503:0.5")
    other = _statuses(sim, 8, "alice+fhir_503:0.5")
    assert set(first) == {200, 503}
    assert first == again
    assert first != other


def test_flaky_clinic_is_seeded(sim: Sim) -> None:
    def run(seed: int) -> list[int]:
        api, body = sim.new_workspace(seed=seed, clock="manual")
        launch = new_launch(sim, "harbor-clinic", body["api_key"])
        token = _connect(launch, "alice")
        return [launch.get("Patient", token["access_token"]).status_code for _ in range(60)]

    first, again = run(3), run(3)
    assert first == again
    share = first.count(503) / len(first)
    assert 0.03 <= share <= 0.35 and set(first) == {200, 503}


def test_empty_and_large_records(epic: Launch) -> None:
    token = _connect(epic, "bob+empty_record")
    assert epic.get("Observation", token["access_token"]).json()["total"] == 0
    assert "entry" not in epic.get("Condition", token["access_token"]).json()
    assert epic.get("Patient", token["access_token"]).json()["total"] == 1
    token = _connect(epic, "alice+large_record:1200")
    types = portal_mocks.PORTALS["summit-epic"].resource_types
    total = sum(epic.get(t, token["access_token"]).json()["total"] for t in types)
    assert total == 1200


def test_chained_faults_in_one_username(epic: Launch) -> None:
    token = _connect(epic, "bob+fhir_500:Condition+refresh_503:1")
    assert epic.get("Condition", token["access_token"]).status_code == 500
    assert epic.refresh_raw(token["refresh_token"]).status_code == 503
    assert epic.refresh_raw(token["refresh_token"]).status_code == 200


# -- control plane and helpers ----------------------------------------------------------------------


def test_control_plane_faults_are_per_workspace_and_portal(sim: Sim, ws, epic: Launch) -> None:
    api, _ = ws
    other_api, other_body = sim.new_workspace(seed=21, clock="manual")
    added = api.post("/_sim/portals/summit-epic/faults", {"fault": "fhir_500", "arg": "Patient"})
    assert added.status_code == 200 and added.json["scope"] == "portal"
    token = _connect(epic, "alice")
    assert epic.get("Patient", token["access_token"]).status_code == 500
    other = new_launch(sim, "summit-epic", other_body["api_key"])
    other_token = _connect(other, "alice")
    assert other.get("Patient", other_token["access_token"]).status_code == 200
    cerner = new_launch(sim, "lakeside-cerner", ws[1])
    assert cerner.get("Patient", _connect(cerner, "alice")["access_token"]).status_code == 200
    listed = api.get("/_sim/portals/summit-epic/faults").json
    assert [f["fault"] for f in listed["data"]] == ["fhir_500"] and listed["data"][0]["fired"] == 1
    assert other_api.get("/_sim/portals/summit-epic/faults").json["data"] == []
    assert api.delete("/_sim/portals/summit-epic/faults").json == {"deleted": 1}
    assert epic.get("Patient", token["access_token"]).status_code == 200


def test_control_plane_probability_and_delete_one(ws, epic: Launch) -> None:
    api, _ = ws
    fault = api.post(
        "/_sim/portals/summit-epic/faults", {"fault": "fhir_429", "probability": 0.5, "times": None}
    ).json
    token = _connect(epic, "alice")
    codes = [epic.get("Patient", token["access_token"]).status_code for _ in range(20)]
    assert set(codes) == {200, 429}
    assert api.delete(f"/_sim/portals/summit-epic/faults/{fault['id']}").json == {"deleted": 1}
    assert api.delete(f"/_sim/portals/summit-epic/faults/{fault['id']}").status_code == 404


def test_control_plane_validation(sim: Sim, ws) -> None:
    api, _ = ws
    unknown = api.post("/_sim/portals/summit-epic/faults", {"fault": "nope"})
    assert unknown.status_code == 400 and unknown.json["error"]["param"] == "fault"
    bad_arg = api.post("/_sim/portals/summit-epic/faults", {"fault": "fhir_500", "arg": "Nope"})
    assert bad_arg.status_code == 400 and bad_arg.json["error"]["param"] == "arg"
    payer_only = api.post("/_sim/portals/summit-epic/faults", {"fault": "one_time"})
    assert payer_only.status_code == 400
    assert api.post("/_sim/portals/nowhere/faults", {"fault": "deny"}).status_code == 404
    extra = api.post("/_sim/portals/summit-epic/faults", {"fault": "deny", "colour": "red"})
    assert extra.status_code == 400
    no_key = sim.client.post("/_sim/portals/summit-epic/faults", json={"fault": "deny"})
    assert no_key.status_code == 401
    portals = sim.client.get("/_sim/portals").json
    assert [p["slug"] for p in portals["data"]] == list(portal_mocks.PORTALS)
    assert {p["username"] for p in portals["personas"]} >= {"alice", "bob", "dora", "erin", "mia"}


def test_grant_fault_and_revoke_helpers(sim: Sim, epic: Launch) -> None:
    token = _connect(epic, "alice")
    ws_id = _ws_id(sim, epic)
    fault = portal_mocks.add_grant_fault(
        sim.runtime, ws_id, "summit-epic", "refresh_503", "1", refresh_token=token["refresh_token"]
    )
    assert fault.grant_id and fault.times_left == 1
    assert epic.refresh_raw(token["refresh_token"]).status_code == 503
    assert epic.refresh_raw(token["refresh_token"]).status_code == 200
    with pytest.raises(portal_mocks.FaultError):
        portal_mocks.add_grant_fault(
            sim.runtime, ws_id, "summit-epic", "bogus", refresh_token=token["refresh_token"]
        )
    with pytest.raises(KeyError):
        portal_mocks.add_grant_fault(sim.runtime, ws_id, "summit-epic", "deny", refresh_token="x")
    assert portal_mocks.revoke_grant(
        sim.runtime, ws_id, "summit-epic", access_token=token["access_token"]
    )
    assert epic.refresh_raw(token["refresh_token"]).status_code == 400
    assert not portal_mocks.revoke_grant(sim.runtime, ws_id, "summit-epic", refresh_token="nope")


def test_every_catalog_fault_is_accepted_at_login(sim: Sim, ws) -> None:
    """Each name parses at its portals (the behaviour of each is tested above)."""
    api, key = ws
    for name, ftype in CATALOG.items():
        slug = ftype.portals[0] if ftype.portals else "summit-epic"
        launch = new_launch(sim, slug, key)
        result = launch.sign_in(f"mia+{name}")
        assert result.errors == [], (name, result.errors)
