"""Patients: create, duplicate, retrieve, full replace, delete with its cascade, list filters."""

from __future__ import annotations

from conformance.checks import support as s
from conformance.checks.errors import envelope
from conformance.registry import Context, check

PATIENT_FIELDS = ("id", "resource_type", "email", "name", "metadata", "created_at")


@check(
    "PAT-001",
    "patients",
    "POST /patients answers the patient with all six fields; unset email and name are null",
    "§1.2",
)
def create(ctx: Context) -> None:
    pid = s.unique("pat-create")
    body = s.ok(ctx, ctx.api.post("/patients", {"patient_id": pid}), "POST /patients")
    ctx.require(set(body) == set(PATIENT_FIELDS), f"fields {sorted(body)}")
    ctx.require(body["id"] == pid, f"id {body['id']!r} is not the patient_id")
    ctx.require(body["resource_type"] == "patient", "resource_type")
    ctx.require(body["email"] is None and body["name"] is None, "email/name are not null")
    ctx.require(body["metadata"] == {}, f"metadata {body['metadata']!r}")
    full = s.new_patient(ctx, email="a@example.com", name="Ada", metadata={"k": "v"})
    ctx.require(
        (full["email"], full["name"], full["metadata"]) == ("a@example.com", "Ada", {"k": "v"}),
        "email, name or metadata not echoed",
    )


@check(
    "PAT-002",
    "patients",
    "A duplicate patient_id is 409 conflict_error/external_id_already_exists",
    "§2.1",
)
def duplicate(ctx: Context) -> None:
    body = s.new_patient(ctx)
    reply = ctx.api.post("/patients", {"patient_id": body["id"]})
    envelope(ctx, reply, 409, "conflict_error", "external_id_already_exists")


@check(
    "PAT-003",
    "patients",
    "GET /patients/{id} answers PatientDetail with connections [] before any attempt",
    "§1.2",
)
def retrieve(ctx: Context) -> None:
    body = s.new_patient(ctx, name="Grace")
    got = s.patient(ctx, body["id"])
    ctx.require(got["connections"] == [], f"connections {got['connections']!r}")
    ctx.require({k: got[k] for k in PATIENT_FIELDS} == body, "detail differs from the patient")


@check("PAT-004", "patients", "An unknown patient is 404 resource_not_found", "§2.1")
def unknown(ctx: Context) -> None:
    for method in ("GET", "PUT", "DELETE"):
        body = {"patient_id": "no-such-patient-x"} if method == "PUT" else None
        reply = ctx.api.call(method, "/patients/no-such-patient-x", body)
        envelope(ctx, reply, 404, "not_found_error", "resource_not_found")


@check(
    "PAT-005",
    "patients",
    "PUT replaces the patient: omitted email and name clear, omitted metadata resets to {}",
    "§1.2",
)
def replace(ctx: Context) -> None:
    body = s.new_patient(ctx, email="a@example.com", name="Ada", metadata={"k": "v"})
    pid = body["id"]
    put = s.ok(ctx, ctx.api.call("PUT", f"/patients/{pid}", {"patient_id": pid}), "PUT")
    ctx.require((put["email"], put["name"], put["metadata"]) == (None, None, {}), f"{put!r}")
    ctx.require(put["created_at"] == body["created_at"], "created_at changed")
    again = s.ok(
        ctx,
        ctx.api.call("PUT", f"/patients/{pid}", {"patient_id": pid, "name": "Lovelace"}),
        "PUT",
    )
    ctx.require(s.patient(ctx, pid)["name"] == "Lovelace" == again["name"], "name not stored")


@check(
    "PAT-006",
    "patients",
    "PUT with a patient_id other than the URL id is 400 (the id is immutable)",
    "§1.2",
)
def replace_other_id(ctx: Context) -> None:
    body = s.new_patient(ctx)
    reply = ctx.api.call("PUT", f"/patients/{body['id']}", {"patient_id": body["id"] + "-x"})
    error = envelope(ctx, reply, 400, "invalid_request_error", "invalid_data")
    ctx.require(error["param"] == "patient_id", f"param {error['param']!r}")
    ctx.require(s.patient(ctx, body["id"])["id"] == body["id"], "the patient moved")


@check(
    "PAT-007",
    "patients",
    "DELETE answers the tombstone; the patient and their sessions are gone and the id reusable "
    "(documented choice)",
    "§2.1",
)
def delete_cascades(ctx: Context) -> None:
    created = s.new_session(ctx)
    pid = created["patient_id"]
    body = s.ok(ctx, ctx.api.call("DELETE", f"/patients/{pid}"), "DELETE /patients/{id}")
    ctx.require(body == {"id": pid, "resource_type": "patient", "deleted": True}, f"{body!r}")
    envelope(ctx, ctx.api.get(f"/patients/{pid}"), 404, "not_found_error", "resource_not_found")
    envelope(
        ctx,
        ctx.api.get(f"/patient-sessions/{created['id']}"),
        404,
        "not_found_error",
        "resource_not_found",
    )
    listed = s.ok(ctx, ctx.api.get("/patients", patient_id=pid), "GET /patients")
    ctx.require(listed["data"] == [], "the deleted patient is still listed")
    s.ok(ctx, ctx.api.post("/patients", {"patient_id": pid}), "re-creating the id")


@check(
    "PAT-008",
    "patients",
    "GET /patients filters by exact patient_id and exact email",
    "§2.1",
)
def list_filters(ctx: Context) -> None:
    email = f"{s.unique('mail')}@example.com"
    one = s.new_patient(ctx, email=email)
    s.new_patient(ctx, email="other-" + email)
    by_id = s.ok(ctx, ctx.api.get("/patients", patient_id=one["id"]), "patient_id filter")
    ctx.require([p["id"] for p in by_id["data"]] == [one["id"]], "patient_id filter")
    by_mail = s.ok(ctx, ctx.api.get("/patients", email=email), "email filter")
    ctx.require([p["id"] for p in by_mail["data"]] == [one["id"]], "email filter is not exact")
    prefix = s.ok(ctx, ctx.api.get("/patients", patient_id=one["id"][:-1]), "prefix")
    ctx.require(prefix["data"] == [], "patient_id filter matches a prefix")


@check(
    "PAT-009",
    "patients",
    "patient_id must be 1–200 characters; name at most 200; email an email (400 invalid_data)",
    "§1.2",
)
def input_bounds(ctx: Context) -> None:
    cases = (
        ({"patient_id": ""}, "patient_id"),
        ({"patient_id": "x" * 201}, "patient_id"),
        ({"patient_id": s.unique("p"), "name": "n" * 201}, "name"),
        ({"patient_id": s.unique("p"), "email": "not-an-email"}, "email"),
    )
    for body, param in cases:
        error = envelope(
            ctx, ctx.api.post("/patients", body), 400, "invalid_request_error", "invalid_data"
        )
        ctx.require(error["param"] == param, f"param {error['param']!r}, expected {param}")
    s.ok(ctx, ctx.api.post("/patients", {"patient_id": "y" * 200}), "a 200-character id")


@check(
    "PAT-010",
    "patients",
    "A patient_id with a reserved prefix is 400 invalid_data naming patient_id (documented choice)",
    "§0",
)
def reserved_prefixes(ctx: Context) -> None:
    for prefix in ("pat_", "pf_", "ps_", "sess_", "conn_", "fhirsrc_", "wh_", "whsec_", "evt_"):
        reply = ctx.api.post("/patients", {"patient_id": prefix + "x1"})
        error = envelope(ctx, reply, 400, "invalid_request_error", "invalid_data")
        ctx.require(error["param"] == "patient_id", f"{prefix}: param {error['param']!r}")
