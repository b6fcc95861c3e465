"""Forced API failures: the next N matching calls answer the error envelope."""

from __future__ import annotations

import time

import pytest
import requests

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


# -- any documented error, checked against the catalogue -----------------------------


def test_a_fault_has_a_prefixed_id_and_a_default_message(api):
    fault = api.post("/_sim/api-faults", {"status": 403}).json
    assert fault["id"].startswith("apifault_") and len(fault["id"]) == len("apifault_") + 26
    assert (fault["type"], fault["code"], fault["mode"]) == (
        "permission_error",
        "forbidden",
        "error",
    )
    assert api.get("/_sim/api-faults").json["data"] == [fault]
    failed = api.get("/patients")
    assert failed.status_code == 403 and failed.json["error"]["message"] == fault["message"]


def test_a_custom_message_and_retry_after_on_any_status(api):
    api.post("/_sim/api-faults", {"status": 503, "retry_after": 9, "message": "Down for upkeep"})
    failed = api.get("/patients")
    assert failed.status_code == 503 and failed.headers["Retry-After"] == "9"
    assert failed.json["error"]["type"] == "api_error"
    assert failed.json["error"]["message"] == "Down for upkeep"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"code": "throttled", "status": 401}, "status"),
        ({"code": "throttled", "type": "api_error"}, "code"),
        ({"type": "billing_error", "status": 429}, "status"),
        ({"code": "quota_exceeded"}, "type"),
        ({"status": 503, "code": "throttled"}, "code"),
        ({"status": 504, "type": "ehr_error"}, "type"),
        ({"status": 418}, "status"),
        ({"code": "no_such_code"}, "code"),
        ({}, "status"),
        ({"mode": "drop", "status": 500}, "status"),
        ({"status": 500, "hang_seconds": 2}, "hang_seconds"),
        ({"mode": "hang", "hang_seconds": 301}, "hang_seconds"),
        ({"status": 500, "probability": 1.5}, "probability"),
    ],
)
def test_a_fault_that_contradicts_the_catalogue_is_400_naming_the_field(api, body, param):
    resp = api.post("/_sim/api-faults", body)
    assert resp.status_code == 400, resp.json
    assert resp.json["error"]["code"] == "invalid_data"
    assert resp.json["error"]["param"] == param
    assert api.get("/_sim/api-faults").json["data"] == []


@pytest.mark.parametrize(
    ("body", "answer"),
    [
        ({"status": 504}, (504, "api_error", "internal_error")),
        ({"status": 503, "code": "db_error"}, (503, "api_error", "db_error")),
        ({"type": "billing_error"}, (402, "billing_error", "feature_not_enabled")),
        (
            {"code": "quota_exceeded", "type": "billing_error"},
            (402, "billing_error", "quota_exceeded"),
        ),
        ({"status": 401}, (401, "authentication_error", "invalid_api_key")),
        ({"mode": "hang", "hang_seconds": 0.01}, (504, "api_error", "internal_error")),
    ],
)
def test_what_is_left_out_follows_from_the_rest(api, body, answer):
    fault = api.post("/_sim/api-faults", body).json
    assert (fault["status"], fault["type"], fault["code"]) == answer
    failed = api.get("/patients")
    assert failed.status_code == answer[0]
    assert (failed.json["error"]["type"], failed.json["error"]["code"]) == answer[1:]


# -- probability ----------------------------------------------------------------------


def _pattern(api, calls: int = 40) -> list[int]:
    return [api.get("/patients").status_code for _ in range(calls)]


def test_probability_is_drawn_from_the_workspace_seed(sim):
    runs = []
    for seed in (11, 11, 12):
        api, _ = sim.new_workspace(seed=seed)
        api.post("/_sim/api-faults", {"status": 500, "probability": 0.5, "times": 1000})
        runs.append(_pattern(api))
        (fault,) = api.get("/_sim/api-faults").json["data"]
        assert fault["fired"] == runs[-1].count(500)
        assert fault["times_left"] == 1000 - fault["fired"]
    assert runs[0] == runs[1]  # the same seed repeats exactly
    assert runs[0] != runs[2]
    for run in runs:
        assert set(run) == {200, 500}
        assert 8 <= run.count(500) <= 32


def test_probability_zero_never_fires_and_one_always_does(api):
    api.post("/_sim/api-faults", {"status": 500, "probability": 0, "times": 5})
    assert _pattern(api, 10) == [200] * 10
    api.delete("/_sim/api-faults")
    api.post("/_sim/api-faults", {"status": 500, "probability": 1, "times": 5})
    assert _pattern(api, 6) == [500] * 5 + [200]


# -- hang and drop in process ---------------------------------------------------------


def test_a_hang_holds_the_call_then_answers_504_and_changes_nothing(api):
    api.post("/_sim/api-faults", {"mode": "hang", "hang_seconds": 0.2, "method": "POST"})
    started = time.monotonic()
    failed = api.post("/patients", {"patient_id": "p1"})
    assert time.monotonic() - started >= 0.2
    assert failed.status_code == 504 and failed.json["error"]["type"] == "api_error"
    assert api.get("/patients").json["data"] == []


def test_a_hang_ends_when_the_process_starts_stopping(sim, api):
    api.post("/_sim/api-faults", {"mode": "hang", "hang_seconds": 300})
    sim.runtime.stopping.set()  # what a SIGTERM drain does first
    started = time.monotonic()
    assert api.get("/patients").status_code == 504
    assert time.monotonic() - started < 5


def test_a_dropped_connection_gets_no_answer_in_process(sim, api):
    api.post("/_sim/api-faults", {"mode": "drop", "times": 2})
    with pytest.raises(ConnectionError):  # the werkzeug test client meets the drop
        api.post("/patients", {"patient_id": "p1"})
    with pytest.raises(requests.ConnectionError):  # as does `requests` in process
        requests.get(sim.base_url + "/patients", headers={"Authorization": f"Bearer {api.api_key}"})
    assert api.get("/patients").json["data"] == []
    assert api.get("/_sim/api-faults").json["data"] == []


# -- a store written before faults had ids, types and modes ---------------------------

OLD_TABLE = """
CREATE TABLE api_faults (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id TEXT NOT NULL,
    status INTEGER NOT NULL,
    times_left INTEGER NOT NULL,
    method TEXT,
    path_prefix TEXT,
    retry_after INTEGER,
    fired INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL
);
"""


def test_a_store_from_before_keeps_its_faults_and_takes_new_ones(tmp_path):
    from simulator.core.store import SqliteStore
    from simulator.testing import DEFAULT_TEST_KEY, Sim

    db = str(tmp_path / "old.db")
    with Sim(db_path=db) as sim:  # creates the default workspace
        ws = sim.api().get("/_sim/workspace").json["id"]
    store = SqliteStore(db)
    with store.tx():
        store.execute("DROP TABLE api_faults")
        store.execute(OLD_TABLE)
        store.execute(
            "INSERT INTO api_faults (workspace_id, status, times_left, retry_after, created_ms)"
            " VALUES (?, 429, 1, 3, 0)",
            (ws,),
        )
    store.close()
    with Sim(db_path=db) as sim:
        api = sim.api(DEFAULT_TEST_KEY)
        (old,) = api.get("/_sim/api-faults").json["data"]
        assert (old["id"], old["status"], old["mode"]) == ("apifault_1", 429, "error")
        failed = api.get("/patients")
        assert failed.status_code == 429 and failed.headers["Retry-After"] == "3"
        assert failed.json["error"]["code"] == "throttled"
        assert api.post("/_sim/api-faults", {"mode": "drop"}).json["status"] is None
        with pytest.raises(ConnectionError):
            api.get("/patients")
        assert api.post("/_sim/api-faults", {"code": "db_error"}).status_code == 200
        assert api.get("/patients").json["error"]["code"] == "db_error"
