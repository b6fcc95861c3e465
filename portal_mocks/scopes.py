"""SMART scopes: v1 and v2 syntax, negotiation at a patient portal, and access checks.

v1: `patient/Observation.read`, `patient/*.read`, `.write`, `.*`.
v2: `patient/Observation.rs`, `patient/*.cruds`, granular
`patient/Observation.rs?category=<system>|<code>`.

A patient portal grants only `patient/` scopes and only read access: `.read`
for v1 requests, `.rs` (or the read letters requested) for v2 requests. A
request for `patient/` scopes without `launch/patient` is treated as if
`launch/patient` had been asked for. Unknown scopes are dropped; a request
with nothing grantable is `invalid_scope`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import parse_qsl

from portal_mocks.profiles import Portal

IDENTITY = ("openid", "fhirUser", "profile")
REFRESH = ("offline_access", "online_access")
CONTEXT = ("launch/patient",)
PERMISSION_LETTERS = "cruds"
V1_PERMISSIONS = {"read": "rs", "write": "cud", "*": "cruds"}


@dataclass(frozen=True)
class ResourceScope:
    raw: str
    context: str  # patient | user | system
    resource_type: str  # a type or "*"
    permissions: str  # subset of "cruds", in order
    version: int  # 1 or 2
    query: tuple[tuple[str, str], ...] = ()

    def covers(self, resource_type: str, interaction: str) -> bool:
        return self.resource_type in ("*", resource_type) and interaction in self.permissions


@functools.lru_cache(maxsize=4096)
def parse_resource_scope(raw: str) -> ResourceScope | None:
    """A `context/Type.permissions[?query]` scope, or None when it is not one (a pure
    function of the text, so its answers are kept: every request checks its token's scopes)."""
    head, _, query = raw.partition("?")
    context, slash, rest = head.partition("/")
    if not slash or context not in ("patient", "user", "system"):
        return None
    rtype, dot, perms = rest.rpartition(".")
    if not dot or not rtype or not (rtype == "*" or rtype[:1].isupper() and rtype.isalpha()):
        return None
    if perms in V1_PERMISSIONS:
        if query:
            return None
        return ResourceScope(raw, context, rtype, V1_PERMISSIONS[perms], 1)
    if not perms or not _in_order(perms):
        return None
    pairs = tuple(parse_qsl(query, keep_blank_values=True)) if query else ()
    return ResourceScope(raw, context, rtype, perms, 2, pairs)


def _in_order(perms: str) -> bool:
    pos = -1
    for letter in perms:
        idx = PERMISSION_LETTERS.find(letter)
        if idx <= pos:
            return False
        pos = idx
    return True


def split(scope: str | None) -> list[str]:
    seen: list[str] = []
    for item in (scope or "").split():
        if item not in seen:
            seen.append(item)
    return seen


def negotiate(requested: Iterable[str], portal: Portal) -> list[str]:
    """The scopes a patient portal grants for a request (may be empty)."""
    requested = list(requested)
    granted: list[str] = []
    clinical: list[str] = []
    for raw in requested:
        if raw in IDENTITY or raw in REFRESH:
            granted.append(raw)
            continue
        rs = parse_resource_scope(raw)
        if rs is None or rs.context != "patient":
            continue
        clinical.extend(_grant_resource_scope(rs, portal))
    if clinical:
        granted = ["launch/patient", *granted]
    elif "launch/patient" in requested:
        granted = ["launch/patient", *granted]
    out: list[str] = []
    for item in granted + clinical:
        if item not in out:
            out.append(item)
    return out


def _grant_resource_scope(rs: ResourceScope, portal: Portal) -> list[str]:
    readable = "".join(p for p in rs.permissions if p in "rs")
    if not readable:
        return []
    suffix = "read" if rs.version == 1 else readable
    query = ("?" + "&".join(f"{k}={v}" for k, v in rs.query)) if rs.query else ""
    if rs.resource_type == "*":
        if portal.explicit_type_scopes:
            return [f"patient/{t}.{suffix}" for t in portal.resource_types]
        return [f"patient/*.{suffix}{query}"]
    if rs.resource_type not in portal.resource_types:
        return []
    return [f"patient/{rs.resource_type}.{suffix}{query}"]


def is_grantable(requested: Iterable[str], portal: Portal) -> bool:
    """Whether a request yields any scope at all (else `invalid_scope`)."""
    return bool(negotiate(requested, portal))


def subset(asked: Iterable[str], granted: Iterable[str]) -> bool:
    """Refresh with `scope`: every asked scope must be within the original grant."""
    granted = list(granted)
    parsed_granted = [s for s in (parse_resource_scope(g) for g in granted) if s is not None]
    for item in asked:
        if item in granted:
            continue
        rs = parse_resource_scope(item)
        if rs is None:
            return False
        if not any(
            g.context == rs.context
            and g.resource_type in ("*", rs.resource_type)
            and set(rs.permissions) <= set(g.permissions)
            and (not g.query or g.query == rs.query)
            for g in parsed_granted
        ):
            return False
    return True


def resource_scopes(granted: Iterable[str]) -> list[ResourceScope]:
    return [s for s in (parse_resource_scope(g) for g in granted) if s is not None]


def allowed(granted: Iterable[str], resource_type: str, interaction: str) -> bool:
    """Does the grant allow `interaction` ('r' read, 's' search) on `resource_type`?"""
    return any(
        rs.context == "patient" and rs.covers(resource_type, interaction)
        for rs in resource_scopes(granted)
    )


def category_filters(granted: Iterable[str], resource_type: str) -> list[str] | None:
    """Granular category limits for a type: None when some scope covers the whole type."""
    limits: list[str] = []
    for rs in resource_scopes(granted):
        if rs.context != "patient" or rs.resource_type not in ("*", resource_type):
            continue
        if not rs.query:
            return None
        for key, value in rs.query:
            if key == "category":
                limits.append(value)
    return limits


def describe(scope: str) -> str:
    """Plain words for the consent page."""
    fixed = {
        "openid": "confirm who you are",
        "fhirUser": "know which patient record is yours",
        "profile": "see your basic profile",
        "launch/patient": "know which patient record you picked",
        "offline_access": "keep access when you are not using the app",
        "online_access": "keep access while you are signed in",
    }
    if scope in fixed:
        return fixed[scope]
    rs = parse_resource_scope(scope)
    if rs is None:
        return "an access the portal does not recognise"
    what = (
        "all of your health record" if rs.resource_type == "*" else f"your {rs.resource_type} data"
    )
    limit = " (limited to some categories)" if rs.query else ""
    return f"read {what}{limit}"


def narrow(
    asked: Iterable[str], requested: Iterable[str], granted: Iterable[str], portal: Portal
) -> list[str] | None:
    """The scopes a refresh with `scope` gets, or None when one exceeds the original grant.

    A scope of the original request stands for what it was granted as (so a
    client that sends its original scope string back gets its grant again,
    even where the portal granted `patient/*.read` as explicit types).
    """
    requested, granted = list(requested), list(granted)
    out: list[str] = []
    for item in asked:
        if item in granted or subset([item], granted):
            picked = [item]
        elif item in requested:
            picked = [s for s in negotiate([item], portal) if s in granted]
        else:
            return None
        out.extend(s for s in picked if s not in out)
    return out
