"""Forced API failures: the next N matching calls answer the error envelope."""

from __future__ import annotations

RETURN_URL = "https://app.example/r"


def test_forced_429_then_recovery(api):
    resp = api.post("/_sim/api-faults", {"status": 429, "times": 2, "retry_after": 7})
    assert resp.status_code == 200 and resp.json["times_left"] == 2
    for _ in range(2):
        failed = api.post("/patients", {"patient_id": "p1"})
        assert failed.status_code == 429
        assert failed.headers["Retry-After"] == "7"
        assert failed.json["error"]["type"] == "rate_limit_error"
        assert failed.json["error"]["code"] == "throttled"
        assert failed.json["error"]["request_id"] == failed.headers["X-Request-Id"]
    assert api.get("/patients").json["data"] == []  # the failed calls changed nothing
    assert api.post("/patients", {"patient_id": "p1"}).status_code == 200
    assert api.get("/_sim/api-faults").json["data"] == []


def test_500_and_502_match_method_and_path(api):
    api.post(
        "/_sim/api-faults", {"status": 500, "method": "POST", "path_prefix": "/patient-sessions"}
    )
    api.post("/_sim/api-faults", {"status": 502, "path_prefix": "/connections"})
    assert api.get("/patients").status_code == 200
    listed = api.get("/connections")
    assert listed.status_code == 502 and listed.json["error"]["type"] == "ehr_error"
    failed = api.post("/patient-sessions", {"patient_id": "p1", "return_url": RETURN_URL})
    assert failed.status_code == 500 and failed.json["error"]["code"] == "internal_error"
    assert api.get("/patients").json["data"] == []
    ok = api.post("/patient-sessions", {"patient_id": "p1", "return_url": RETURN_URL})
    assert ok.status_code == 200


def test_faults_stay_in_their_workspace_and_can_be_cleared(sim, api):
    other, _ = sim.new_workspace(seed=2)
    api.post("/_sim/api-faults", {"status": 429, "times": 5})
    assert other.get("/patients").status_code == 200
    assert api.delete("/_sim/api-faults").json == {"cleared": 1}
    assert api.get("/patients").status_code == 200


def test_bad_fault_input_is_400(api):
    for body in ({"status": 418}, {"status": 429, "times": 0}, {"status": 500, "path_prefix": "x"}):
        resp = api.post("/_sim/api-faults", body)
        assert resp.status_code == 400 and resp.json["error"]["code"] == "invalid_data"
