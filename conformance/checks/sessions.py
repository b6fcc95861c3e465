"""Patient sessions: Picker and Direct modes, expiry on the clock, three naming generations."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from conformance.checks import support as s
from conformance.checks.errors import envelope
from conformance.registry import Context, check

HOSTED_PATH = re.compile(r"/c/[0-9a-f]{32}$")
ID_SHAPE = r"[0-9A-Za-z]{26}"


@check(
    "SESS-001",
    "sessions",
    "A Picker session is created open, with every field, a ps_ id and no connections yet",
    "§1.3",
)
def picker_created(ctx: Context) -> None:
    body = s.new_session(ctx)
    s.has_fields(ctx, body, s.SESSION_FIELDS, "the session")
    ctx.require(re.fullmatch("ps_" + ID_SHAPE, body["id"]) is not None, f"id {body['id']!r}")
    ctx.require(body["resource_type"] == "patient_session", "resource_type")
    ctx.require(body["status"] == "open", f"status {body['status']!r}, expected open")
    ctx.require(body["connections"] == [], "connections is not []")
    ctx.require(body["connection_id"] is None, "connection_id is set in Picker mode")
    ctx.require(body["return_url"] == s.RETURN_URL, "return_url is not echoed")


@check(
    "SESS-002",
    "sessions",
    "A session with connection_id is Direct: connection_id echoed, no recommendations",
    "§1.3",
)
def direct_created(ctx: Context) -> None:
    src = s.source(ctx)
    body = s.new_session(ctx, connection_id=src["id"])
    ctx.require(body["connection_id"] == src["id"], "connection_id is not echoed")
    ctx.require(body["recommended_connection_ids"] is None, "recommended ids are not null")
    ctx.require(body["status"] == "open" and body["connections"] == [], "not a fresh session")


@check(
    "SESS-003",
    "sessions",
    "expires_at is created_at plus expires_in (default 1800 s)",
    "§1.3",
)
def expiry_time(ctx: Context) -> None:
    default = s.new_session(ctx)
    gap = s.ms(default["expires_at"]) - s.ms(default["created_at"])
    ctx.require(gap == 1800_000, f"default expiry is {gap} ms after creation, not 1800 s")
    short = s.new_session(ctx, expires_in=60)
    gap = s.ms(short["expires_at"]) - s.ms(short["created_at"])
    ctx.require(gap == 60_000, f"expires_in 60 gave {gap} ms")


@check(
    "SESS-004",
    "sessions",
    "expires_in outside 60–86400 is refused with 400 invalid_data naming expires_in",
    "§1.3",
)
def expiry_bounds(ctx: Context) -> None:
    for value in (59, 86401):
        reply = ctx.api.post(
            "/patient-sessions",
            {"patient_id": s.unique("p"), "return_url": s.RETURN_URL, "expires_in": value},
        )
        error = envelope(ctx, reply, 400, "invalid_request_error", "invalid_data")
        ctx.require(error["param"] == "expires_in", f"param {error['param']!r} for {value}")
    s.new_session(ctx, expires_in=86400)


@check(
    "SESS-005",
    "sessions",
    "connection_id and recommended_connection_ids together are refused (400)",
    "§1.3",
)
def mutually_exclusive(ctx: Context) -> None:
    src = s.source(ctx)
    reply = ctx.api.post(
        "/patient-sessions",
        {
            "patient_id": s.unique("p"),
            "return_url": s.RETURN_URL,
            "connection_id": src["id"],
            "recommended_connection_ids": [src["id"]],
        },
    )
    envelope(ctx, reply, 400, "invalid_request_error", "invalid_data")


@check(
    "SESS-006",
    "sessions",
    "Session input allows no unknown fields and requires patient_id and return_url",
    "§1.3",
)
def init_input(ctx: Context) -> None:
    base = {"patient_id": s.unique("p"), "return_url": s.RETURN_URL}
    reply = ctx.api.post("/patient-sessions", {**base, "colour": "blue"})
    envelope(ctx, reply, 400, "invalid_request_error", "invalid_data")
    for field in ("patient_id", "return_url"):
        partial = {k: v for k, v in base.items() if k != field}
        error = envelope(
            ctx,
            ctx.api.post("/patient-sessions", partial),
            400,
            "invalid_request_error",
            "invalid_data",
        )
        ctx.require(error["param"] == field, f"param {error['param']!r}, expected {field}")


@check(
    "SESS-007",
    "sessions",
    "Creating a session upserts the patient with patient_email and patient_name",
    "§3.1",
)
def upserts_patient(ctx: Context) -> None:
    body = s.new_session(ctx, patient_email="ada@example.com", patient_name="Ada Lovelace")
    got = s.patient(ctx, body["patient_id"])
    ctx.require(got["email"] == "ada@example.com", f"email {got['email']!r}")
    ctx.require(got["name"] == "Ada Lovelace", f"name {got['name']!r}")


@check(
    "SESS-008",
    "sessions",
    "metadata, return_button_label and recommended ids are echoed exactly",
    "§1.3",
)
def echoes_input(ctx: Context) -> None:
    listed = s.sources(ctx)
    ids = [item["id"] for item in reversed(listed[:3])]
    metadata = {"order": "42", "nested": {"a": [1, 2, {"b": None}]}, "unicode": "é✓"}
    body = s.new_session(
        ctx, metadata=metadata, return_button_label="My App", recommended_connection_ids=ids
    )
    ctx.require(body["metadata"] == metadata, f"metadata came back as {body['metadata']!r}")
    ctx.require(body["return_button_label"] == "My App", "return_button_label not echoed")
    ctx.require(body["recommended_connection_ids"] == ids, "recommended ids not echoed in order")
    ctx.require(s.session(ctx, body["id"])["metadata"] == metadata, "metadata not kept")


@check(
    "SESS-009",
    "sessions",
    "GET /patient-sessions/{id} answers the session as created",
    "§2.1",
)
def retrieve(ctx: Context) -> None:
    body = s.new_session(ctx, metadata={"k": "v"})
    ctx.require(s.session(ctx, body["id"]) == body, "the retrieved session differs")
    reply = ctx.api.get("/patient-sessions/ps_00000000000000000000000000")
    envelope(ctx, reply, 404, "not_found_error", "resource_not_found")


@check(
    "SESS-010",
    "sessions",
    "The hosted url is a /c/ link with 32 lowercase hex characters",
    "§1.1",
)
def hosted_url(ctx: Context) -> None:
    body = s.new_session(ctx)
    path = urlsplit(body["url"]).path
    ctx.require(HOSTED_PATH.search(path) is not None, f"url path {path!r}")
    other = s.new_session(ctx)
    ctx.require(other["url"] != body["url"], "two sessions share a hosted url")


@check(
    "SESS-011",
    "sessions",
    "A session is open until expires_at and expired from expires_at on the virtual clock",
    "§3.1",
    needs_control=True,
)
def expires_on_time(ctx: Context) -> None:
    body = s.new_session(ctx, expires_in=120)
    control = ctx.control
    control.set(s.iso(s.ms(body["expires_at"]) - 1))
    now = s.session(ctx, body["id"])
    ctx.require(now["status"] == "open", f"{now['status']} 1 ms before expires_at")
    control.set(body["expires_at"])
    after = s.session(ctx, body["id"])
    ctx.require(after["status"] == "expired", f"{after['status']} at expires_at")
    control.advance(3600)
    ctx.require(s.session(ctx, body["id"])["status"] == "expired", "expired is not terminal")


@check(
    "SESS-012",
    "sessions",
    "Done completes a Picker session; the return URL carries patient_id and the session id",
    "§7",
    needs_control=True,
)
def picker_completes(ctx: Context) -> None:
    walked = s.active(ctx)
    ctx.require(walked["session"]["status"] == "complete", "the session is not complete")
    query = parse_qs(urlsplit(walked["return_url"] or "").query)
    ctx.require(query.get("patient_id") == [walked["patient_id"]], f"return query {query}")
    ctx.require(
        query.get("patient_session_id") == [walked["session"]["id"]], f"return query {query}"
    )
    ctx.require("success" not in query, "Picker mode return carries a success flag")
    got = s.session(ctx, walked["session"]["id"])
    ctx.require(got["status"] == "complete", f"GET shows {got['status']}")


@check(
    "SESS-013",
    "sessions",
    "Direct mode returns success=true with the source id and completes the session "
    "(documented choice)",
    "§7",
    needs_control=True,
)
def direct_completes(ctx: Context) -> None:
    src = s.source(ctx)
    body = s.new_session(ctx, connection_id=src["id"])
    result = s.connect(ctx, body["id"], None, username=s.PERSONA)
    ctx.require(result["connection"]["status"] == "active", "the Direct attempt failed")
    query = parse_qs(urlsplit(result["location"]).query)
    ctx.require(query.get("success") == ["true"], f"return query {query}")
    ctx.require(query.get("connection_id") == [src["id"]], f"return query {query}")
    ctx.require(query.get("patient_session_id") == [body["id"]], f"return query {query}")
    ctx.require(s.session(ctx, body["id"])["status"] == "complete", "not complete after return")


@check(
    "SESS-014",
    "sessions",
    "A denied Direct attempt returns success=false with an error code",
    "§7",
    needs_control=True,
)
def direct_failure_return(ctx: Context) -> None:
    body = s.new_session(ctx, connection_id=s.source(ctx)["id"])
    result = s.connect(ctx, body["id"], None, username=s.PERSONA, consent="deny")
    query = parse_qs(urlsplit(result["location"]).query)
    ctx.require(query.get("success") == ["false"], f"return query {query}")
    ctx.require(query.get("error") == ["user_denied"], f"error {query.get('error')}")


@check(
    "SESS-015",
    "sessions",
    "A session completes even with no active connection (the patient declined)",
    "§3.1",
    needs_control=True,
)
def complete_without_success(ctx: Context) -> None:
    body = s.new_session(ctx)
    s.connect(ctx, body["id"], s.source(ctx)["id"], username=s.PERSONA, consent="deny")
    done = ctx.control.done(body["id"])
    ctx.require(done["session"]["status"] == "complete", f"status {done['session']['status']}")
    ctx.require(
        [c["status"] for c in done["session"]["connections"]] == ["failed"],
        "the declined attempt is not listed as failed",
    )


@check(
    "SESS-016",
    "sessions",
    "A completed session stays complete when its expires_at passes",
    "§3.1",
    needs_control=True,
)
def complete_is_terminal(ctx: Context) -> None:
    walked = s.active(ctx)
    ctx.control.advance(2 * 86400)
    got = s.session(ctx, walked["session"]["id"])
    ctx.require(got["status"] == "complete", f"a complete session became {got['status']}")


@check(
    "SESS-017",
    "sessions",
    "GET /patients/{id}/patient-sessions lists the patient's sessions and filters by status",
    "§2.1",
    needs_control=True,
)
def list_for_patient(ctx: Context) -> None:
    pid = s.unique("p")
    first = s.new_session(ctx, pid, expires_in=60)
    second = s.new_session(ctx, pid, expires_in=3600)
    ctx.control.advance(61)
    listed = s.ok(ctx, ctx.api.get(f"/patients/{pid}/patient-sessions"), "list sessions")
    ids = {item["id"] for item in listed["data"]}
    ctx.require(ids == {first["id"], second["id"]}, f"listed {ids}")
    for status, want in (("expired", first["id"]), ("open", second["id"])):
        page = s.ok(ctx, ctx.api.get(f"/patients/{pid}/patient-sessions", status=status), status)
        got = [item["id"] for item in page["data"]]
        ctx.require(got == [want], f"status={status} listed {got}")
    reply = ctx.api.get(f"/patients/{pid}/patient-sessions", status="finished")
    envelope(ctx, reply, 400, "invalid_request_error", "invalid_data")


GENERATIONS = (
    ("A", "sessions", "sess_", "session", "sessions"),
    ("B", "patient-flows", "pf_", "patient_flow", "patient-flows"),
)


@check(
    "SESS-018",
    "sessions",
    "A generation A workspace serves /sessions, sess_ ids, resource_type session, "
    "not /patient-sessions (documented choice)",
    "§0",
    needs_control=True,
)
def generation_a(ctx: Context) -> None:
    _generation(s.in_generation(ctx, "A"), *GENERATIONS[0])


@check(
    "SESS-019",
    "sessions",
    "A generation B workspace serves /patient-flows, pf_ ids, resource_type patient_flow, "
    "not /patient-sessions (documented choice)",
    "§0",
    needs_control=True,
)
def generation_b(ctx: Context) -> None:
    _generation(s.in_generation(ctx, "B"), *GENERATIONS[1])


def _generation(
    ctx: Context, name: str, path: str, prefix: str, resource_type: str, list_path: str
) -> None:
    pid = s.unique("p")
    body = s.ok(
        ctx,
        ctx.api.post(f"/{path}", {"patient_id": pid, "return_url": s.RETURN_URL}),
        f"POST /{path}",
    )
    s.has_fields(ctx, body, s.SESSION_FIELDS, f"a generation {name} session")
    ctx.require(body["id"].startswith(prefix), f"id {body['id']!r} lacks {prefix}")
    ctx.require(body["resource_type"] == resource_type, f"resource_type {body['resource_type']}")
    got = s.ok(ctx, ctx.api.get(f"/{path}/{body['id']}"), f"GET /{path}/{{id}}")
    ctx.require(got["id"] == body["id"], "retrieve answered another session")
    listed = s.ok(ctx, ctx.api.get(f"/patients/{pid}/{list_path}"), f"list /{list_path}")
    ctx.require([item["id"] for item in listed["data"]] == [body["id"]], "not listed")
    canonical = ctx.api.get(f"/patient-sessions/{body['id']}")
    envelope(ctx, canonical, 404, "not_found_error", "resource_not_found")


@check(
    "SESS-020",
    "sessions",
    "Generation A and B workspaces return session_id and patient_flow_id to return_url "
    "(documented choice)",
    "§0",
    needs_control=True,
)
def generation_returns(ctx: Context) -> None:
    for naming, path, param in (
        ("A", "sessions", "session_id"),
        ("B", "patient-flows", "patient_flow_id"),
    ):
        there = s.in_generation(ctx, naming)
        body = s.ok(
            there,
            there.api.post(f"/{path}", {"patient_id": s.unique("p"), "return_url": s.RETURN_URL}),
            f"POST /{path}",
        )
        done = there.control.done(body["id"])
        query = parse_qs(urlsplit(done.get("return_url") or "").query)
        ctx.require(query.get(param) == [body["id"]], f"/{path} return query {query}")
        ctx.require("patient_session_id" not in query, f"/{path} returns patient_session_id")


@check(
    "SESS-022",
    "sessions",
    "The generation A and B paths are unknown routes (404) in a default workspace "
    "(documented choice)",
    "§0",
    needs_control=True,
)
def no_alias_routes(ctx: Context) -> None:
    body = {"patient_id": s.unique("p"), "return_url": s.RETURN_URL}
    for path in ("sessions", "patient-flows"):
        envelope(ctx, ctx.api.post(f"/{path}", body), 404, "not_found_error", "resource_not_found")


@check(
    "SESS-021",
    "sessions",
    "An unknown connection_id or recommended id is 404 naming the field (documented choice)",
    "§1.3",
)
def unknown_source(ctx: Context) -> None:
    for field, value in (
        ("connection_id", "fhirsrc_unknown0000000000000000"),
        ("recommended_connection_ids", ["fhirsrc_unknown0000000000000000"]),
    ):
        reply = ctx.api.post(
            "/patient-sessions",
            {"patient_id": s.unique("p"), "return_url": s.RETURN_URL, field: value},
        )
        error = envelope(ctx, reply, 404, "not_found_error", "resource_not_found")
        param = error["param"] or ""
        ctx.require(param.startswith(field), f"param {param!r}, expected {field}")
