"""Errors: the envelope on every non-2xx (fact sheet §2.4)."""

from __future__ import annotations

from typing import Any

from conformance.http import Reply
from conformance.registry import Context, check

ENVELOPE_FIELDS = ("type", "code", "message", "param", "doc_url", "request_id")


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
