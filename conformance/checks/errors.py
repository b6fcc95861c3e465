"""Errors: the envelope on every non-2xx (fact sheet §2.4)."""

from __future__ import annotations

import re
from typing import Any

from conformance.checks.support import unique
from conformance.http import Reply
from conformance.registry import Context, check
from conformance.results import Skipped

ENVELOPE_FIELDS = ("type", "code", "message", "param", "doc_url", "request_id")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def envelope(ctx: Context, reply: Reply, status: int, type_: str, code: str) -> dict[str, Any]:
    """The reply is `status` with the full error envelope of `type_`/`code`; answers `error`."""
    ctx.require(
        reply.status == status, f"expected {status}, got {reply.status}: {reply.text[:200]}"
    )
    body = reply.json
    ctx.require(isinstance(body, dict) and isinstance(body.get("error"), dict), "no error envelope")
    error = body["error"]
    missing = [name for name in ENVELOPE_FIELDS if name not in error]
    ctx.require(not missing, f"error envelope lacks {missing}")
    ctx.require(
        (error["type"], error["code"]) == (type_, code),
        f"expected {type_}/{code}, got {error['type']}/{error['code']}",
    )
    ctx.require(
        isinstance(error["message"], str) and error["message"].strip() != "", "empty message"
    )
    ctx.require(error["param"] is None or isinstance(error["param"], str), "param not str|null")
    header = reply.header("X-Request-Id")
    ctx.require(
        header is not None and error["request_id"] == header,
        f"request_id {error['request_id']!r} does not echo X-Request-Id {header!r}",
    )
    return error


@check("ERR-001", "errors", "A request without an API key answers 401 missing_api_key", "§2.4")
def missing_key(ctx: Context) -> None:
    reply = ctx.api.call("GET", "/patients", auth=False)
    envelope(ctx, reply, 401, "authentication_error", "missing_api_key")


@check("ERR-002", "errors", "An unknown API key answers 401 invalid_api_key", "§2.4")
def invalid_key(ctx: Context) -> None:
    reply = ctx.api.call(
        "GET", "/patients", headers={"Authorization": "Bearer mb_sk_sbx_not_a_real_key_000"}
    )
    envelope(ctx, reply, 401, "authentication_error", "invalid_api_key")


@check("ERR-003", "errors", "An unknown object is 404 not_found_error/resource_not_found", "§2.4")
def not_found(ctx: Context) -> None:
    for path in ("/patients/no-such-patient-e", "/webhooks/wh_00000000000000000000000000"):
        envelope(ctx, ctx.api.get(path), 404, "not_found_error", "resource_not_found")


@check(
    "ERR-004",
    "errors",
    "Invalid input is 400 invalid_data with param naming the field",
    "§2.4",
)
def invalid_data(ctx: Context) -> None:
    error = envelope(
        ctx, ctx.api.post("/patients", {}), 400, "invalid_request_error", "invalid_data"
    )
    ctx.require(error["param"] == "patient_id", f"param {error['param']!r}")
    reply = ctx.api.post("/webhooks", {"url": "https://hooks.example/x"})
    error = envelope(ctx, reply, 400, "invalid_request_error", "invalid_data")
    ctx.require(error["param"] == "events", f"param {error['param']!r}")


@check(
    "ERR-005",
    "errors",
    "A body that is not JSON is 400 bad_request; JSON that is not an object is 400",
    "§2.4",
)
def bad_request(ctx: Context) -> None:
    reply = ctx.api.call("POST", "/patients", raw=b"{not json")
    envelope(ctx, reply, 400, "invalid_request_error", "bad_request")
    reply = ctx.api.call("POST", "/patients", raw=b"[1, 2]")
    code = ((reply.json or {}).get("error") or {}).get("code")
    ctx.require(code in ("bad_request", "invalid_data"), f"a JSON array answered {code!r}")
    envelope(ctx, reply, 400, "invalid_request_error", code or "")


@check("ERR-006", "errors", "A duplicate is 409 conflict_error", "§2.4")
def conflict(ctx: Context) -> None:
    body = {"patient_id": unique("dup")}
    first = ctx.api.post("/patients", body)
    ctx.require(first.status == 200, f"create answered {first.status}")
    error = envelope(
        ctx, ctx.api.post("/patients", body), 409, "conflict_error", "external_id_already_exists"
    )
    ctx.require(error["param"] in (None, "patient_id"), f"param {error['param']!r}")


@check(
    "ERR-007",
    "errors",
    "An unknown Version header is 400 unsupported_api_version",
    "§2.4",
)
def unsupported_version(ctx: Context) -> None:
    for version in ("1999-01-01", "latest"):
        reply = ctx.api.call("GET", "/patients", headers={"Version": version})
        envelope(ctx, reply, 400, "invalid_request_error", "unsupported_api_version")


@check(
    "ERR-008",
    "errors",
    "doc_url is an https URL and request_id a UUID on every error",
    "§2.4",
)
def envelope_values(ctx: Context) -> None:
    replies = [
        (ctx.api.call("GET", "/patients", auth=False), 401),
        (ctx.api.get("/patients/no-such-patient-v"), 404),
        (ctx.api.post("/patients", {}), 400),
    ]
    for reply, status in replies:
        ctx.require(reply.status == status, f"expected {status}, got {reply.status}")
        error = (reply.json or {}).get("error") or {}
        ctx.require(str(error.get("doc_url", "")).startswith("https://"), "doc_url")
        ctx.require(UUID.fullmatch(str(error.get("request_id", ""))) is not None, "request_id")


@check(
    "ERR-009",
    "errors",
    "A forced 429 is rate_limit_error/throttled with a whole-second Retry-After",
    "§2.6",
    needs_control=True,
)
def forced_429(ctx: Context) -> None:
    _fault(ctx, {"status": 429, "retry_after": 7})
    reply = ctx.api.get("/patients")
    envelope(ctx, reply, 429, "rate_limit_error", "throttled")
    ctx.require(reply.header("Retry-After") == "7", f"Retry-After {reply.header('Retry-After')!r}")
    ctx.require(ctx.api.get("/patients").status == 200, "the fault outlived its one call")


@check(
    "ERR-010",
    "errors",
    "A forced 500 is api_error/internal_error; a forced 502 is ehr_error/fhir_error",
    "§2.4",
    needs_control=True,
)
def forced_5xx(ctx: Context) -> None:
    for status, type_, code in (
        (500, "api_error", "internal_error"),
        (502, "ehr_error", "fhir_error"),
    ):
        _fault(ctx, {"status": status})
        envelope(ctx, ctx.api.get("/connections"), status, type_, code)


@check(
    "ERR-011",
    "errors",
    "A call meeting a forced failure changes nothing (documented choice)",
    "§2.4",
    needs_control=True,
)
def forced_changes_nothing(ctx: Context) -> None:
    _fault(ctx, {"status": 500, "method": "POST", "path_prefix": "/patients"})
    pid = unique("fault")
    reply = ctx.api.post("/patients", {"patient_id": pid})
    envelope(ctx, reply, 500, "api_error", "internal_error")
    envelope(ctx, ctx.api.get(f"/patients/{pid}"), 404, "not_found_error", "resource_not_found")


@check(
    "ERR-012",
    "errors",
    "An unknown path is 404 and a wrong method 405 with the envelope (documented choice)",
    "§2.4",
)
def routes(ctx: Context) -> None:
    envelope(ctx, ctx.api.get("/no-such-route"), 404, "not_found_error", "resource_not_found")
    envelope(ctx, ctx.api.call("PATCH", "/patients"), 405, "invalid_request_error", "bad_request")


@check(
    "ERR-013",
    "errors",
    "A second redeliver within 60 s is 429 rate_limit_error/throttled with Retry-After "
    "(documented choice of code)",
    "§2.6",
    needs_control=True,
)
def redeliver_rate_limit(ctx: Context) -> None:
    box = ctx.control.inbox()
    wh = ctx.api.expect("POST", "/webhooks", 200, {"url": box["url"], "events": ["*"]})
    pid = unique("rl")
    ctx.api.expect("POST", "/patients", 200, {"patient_id": pid})
    sources = ctx.api.expect("GET", "/connections", 200, query={"limit": 1})["data"]
    ctx.require(sources != [], "the catalog is empty")
    ctx.api.expect(
        "POST",
        "/_sim/events",
        200,
        {"type": "records.sync.failed", "patient_id": pid, "connection_id": sources[0]["id"]},
    )
    (record,) = ctx.api.expect("GET", f"/webhooks/{wh['id']}/events", 200)["data"]
    ctx.api.expect("POST", f"/events/{record['id']}/redeliver", 200)
    reply = ctx.api.post(f"/events/{record['id']}/redeliver")
    envelope(ctx, reply, 429, "rate_limit_error", "throttled")
    retry = reply.header("Retry-After") or ""
    ctx.require(retry.isdigit() and int(retry) >= 1, f"Retry-After {retry!r}")


def _fault(ctx: Context, body: dict[str, Any]) -> None:
    ctx.control  # noqa: B018 - skips without a control plane
    reply = ctx.api.post("/_sim/api-faults", body)
    if reply.status == 404:
        raise Skipped("the control plane has no /_sim/api-faults")
    ctx.require(reply.status == 200, f"/_sim/api-faults answered {reply.status}")
