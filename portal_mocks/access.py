"""Who may read what at a portal's FHIR API, and the FHIR-side faults (no Flask).

Bearer tokens: none -> 401 with `WWW-Authenticate: Bearer realm=...`; unknown,
expired, revoked or poisoned (`request_*` faults) -> 401 with
`error="invalid_token"`; a resource type outside the granted scopes -> 403
with `error="insufficient_scope"`. Then the faults: slow pages, a revoked
token (`fhir_401`), 429 with Retry-After, seeded 503s (and the flaky
clinic's share of them), 500 for one resource type.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from portal_mocks import faults, grants, personas, records, scopes, uploads
from portal_mocks.fhir_search import FhirError
from portal_mocks.grants import Grant, Token
from portal_mocks.profiles import Portal
from portal_mocks.records import Record
from portal_mocks.tokens import SIM_ERRORS

if TYPE_CHECKING:
    from simulator.core.runtime import Runtime

SCHEMA = """
CREATE TABLE IF NOT EXISTS portal_counters (
    workspace_id TEXT NOT NULL,
    name TEXT NOT NULL,
    value INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, name)
);
"""

FHIR_FAULTS = ["fhir_401", "fhir_429", "fhir_503", "fhir_500"]


def _challenge(
    slug: str, error: str | None = None, description: str | None = None, **extra: str
) -> dict[str, str]:
    parts = [f'realm="{slug}"']
    if error:
        parts.append(f'error="{error}"')
    if description:
        parts.append(f'error_description="{description}"')
    parts.extend(f'{k}="{v}"' for k, v in extra.items())
    return {"WWW-Authenticate": "Bearer " + ", ".join(parts)}


def _invalid_token(slug: str, description: str, code: str = "login") -> FhirError:
    return FhirError(401, code, description, headers=_challenge(slug, "invalid_token", description))


def bearer(
    rt: Runtime, portal: Portal, authorization: str | None
) -> tuple[Token, Grant, int, bool]:
    """The access token of the request, its grant, the instant the request is judged at
    (the workspace's clock, read once: the caller uses it for the rest of the request) and
    whether the workspace has any fault stored at the portal (`fault_plan`); or a 401."""
    header = (authorization or "").strip()
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise FhirError(401, "login", "Authentication is required", headers=_challenge(portal.slug))
    token, grant, faulted = grants.lookup_with_grant(rt, portal.slug, value.strip())
    if token is None or token.kind != grants.ACCESS:
        raise _invalid_token(portal.slug, "The access token is not valid")
    if grant is None:
        raise _invalid_token(portal.slug, "The access token is not valid")
    now = rt.now(token.workspace_id)
    if token.revoked_ms is not None and now >= token.revoked_ms:
        raise _invalid_token(portal.slug, "The access token has been revoked", "security")
    if token.expired(now):
        raise _invalid_token(portal.slug, "The access token has expired", "expired")
    if token.sim_error:
        description = next(d for e, d in SIM_ERRORS.values() if e == token.sim_error)
        raise _invalid_token(portal.slug, description, "security")
    return token, grant, now, faulted


def check_scope(portal: Portal, token: Token, resource_type: str, interaction: str) -> None:
    if not scopes.allowed(token.scope, resource_type, interaction):
        needed = f"patient/{resource_type}.{'rs' if interaction == 's' else 'r'}"
        raise FhirError(
            403,
            "forbidden",
            f"The granted scopes do not allow {'search' if interaction == 's' else 'read'} of"
            f" {resource_type}",
            headers=_challenge(portal.slug, "insufficient_scope", None, scope=needed),
        )


def fault_plan(
    rt: Runtime, portal: Portal, grant: Grant, now: int | None = None, *, any_stored: bool = True
) -> faults.Plan:
    """The faults of one data request (read once; `apply_faults` and `record_for` share it),
    at `now` (the request's instant; the workspace's clock when not given). `any_stored`
    False (from `bearer`): no fault is stored, nothing to read."""
    if now is None:
        now = rt.now(grant.workspace_id)
    return faults.Plan(rt, grant.workspace_id, portal.slug, grant.id, now, any_stored=any_stored)


def apply_faults(
    rt: Runtime,
    portal: Portal,
    token: Token,
    grant: Grant,
    resource_type: str,
    plan: faults.Plan | None = None,
) -> float:
    """FHIR-side faults for one data request; returns a real delay to apply first."""
    ws, slug = grant.workspace_id, portal.slug
    delay = 0.0
    if plan is None:
        plan = fault_plan(rt, portal, grant)
    slow = plan.first_fired(["fhir_slow"])
    if slow is not None:
        delay = float(faults.arg_of(slow, rt.config.http_timeout))
    for fault in plan.candidates(FHIR_FAULTS):
        if fault.name == "fhir_500":
            if faults.arg_of(fault, rt.config.http_timeout) != resource_type:
                continue
        if not faults.fire(rt, fault):
            continue
        if fault.name == "fhir_401":
            grants.revoke_token(rt, token, "fhir_401")
            raise FhirError(
                401,
                "security",
                "The access token has been revoked",
                headers=_challenge(slug, "invalid_token", "The access token has been revoked"),
                delay_s=delay,
            )
        if fault.name == "fhir_429":
            seconds = faults.arg_of(fault, rt.config.http_timeout)
            raise FhirError(
                429,
                "throttled",
                "Too many requests; retry later",
                headers={"Retry-After": str(int(float(seconds)))},
                delay_s=delay,
            )
        if fault.name == "fhir_503":
            raise FhirError(
                503,
                "transient",
                "Service temporarily unavailable",
                headers={"Retry-After": "1"},
                delay_s=delay,
            )
        raise FhirError(
            500, "exception", f"Internal error while reading {resource_type}", delay_s=delay
        )
    if portal.flaky_share and _flaky_draw(rt, ws, slug) < portal.flaky_share:
        raise FhirError(
            503,
            "transient",
            "Service temporarily unavailable",
            headers={"Retry-After": "1"},
            delay_s=delay,
        )
    return delay


def _flaky_draw(rt: Runtime, ws: str, slug: str) -> float:
    """The next draw of the portal's flaky dice for the workspace: the n-th request (the
    counter moved on in the same statement) draws the n-th number of its seeded stream."""
    name = f"flaky:{slug}"
    n = rt.store.scalar(  # one statement, atomic on its own: no transaction around it
        "INSERT INTO portal_counters (workspace_id, name, value) VALUES (?,?,1)"
        " ON CONFLICT (workspace_id, name) DO UPDATE SET value = portal_counters.value + 1"
        " RETURNING value",
        (ws, name),
    )
    return rt.rng(ws, "flaky", slug, int(n) - 1).random()


def record_for(
    rt: Runtime,
    portal: Portal,
    grant: Grant,
    plan: faults.Plan | None = None,
    resource_type: str = "Patient",
    resource_id: str | None = None,
) -> Record:
    """The record behind a grant, shaped by `empty_record` / `large_record` faults.

    An uploaded persona's record holds the Patient and the resources of `resource_type`
    (only `resource_id` of them for a read); `large_record` leaves it as uploaded.
    """
    ws = grant.workspace_id
    if plan is None:
        plan = fault_plan(rt, portal, grant)
    shaped = plan.present(["empty_record", "large_record"])
    persona = personas.get(grant.persona or "")
    if persona is None:
        upload = uploads.at_portal(rt, ws, grant.persona or "", portal.slug)
        if upload is None:
            raise FhirError(404, "not-found", "No record for this grant")
        empty = any(f.name == "empty_record" for f in shaped[:1])
        return uploads.record(rt, upload, resource_type, resource_id, patient_only=empty)
    size = None
    if shaped:
        fault = shaped[0]
        size = 1 if fault.name == "empty_record" else max(1, int(faults.arg_of(fault, 0.0)))
    return records.build(rt.seed_of(ws), portal, persona, size)
