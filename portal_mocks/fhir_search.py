"""FHIR R4 read and search over a synthetic record: filters, paging, Bundles (no Flask).

Search parameters: `patient` (also `subject`, `beneficiary` for Coverage;
`Patient/<id>` or a bare id; must be the patient in context), `_id`,
`_lastUpdated` (prefixes eq, gt, ge, lt, le; repeatable), `category`
(token, `system|code` or `code`), `_count` (page size hint; capped),
`_offset` (set by `next` links). Other parameters are ignored, as a lenient
FHIR server does, and left out of the `self` link.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from portal_mocks import wire
from portal_mocks.profiles import Portal
from portal_mocks.records import Record
from simulator.core.query import urlencode
from simulator.core.timeutil import iso, parse_iso

PATIENT_PARAMS = ("patient", "subject", "beneficiary")
DATE_PREFIXES = ("eq", "ne", "gt", "ge", "lt", "le", "sa", "eb")


class FhirError(Exception):
    """A FHIR error: HTTP status and an OperationOutcome issue."""

    def __init__(
        self,
        status: int,
        code: str,
        diagnostics: str,
        *,
        headers: dict[str, str] | None = None,
        severity: str = "error",
        delay_s: float = 0.0,
    ) -> None:
        super().__init__(diagnostics)
        self.delay_s = delay_s
        self.status = status
        self.code = code
        self.diagnostics = diagnostics
        self.headers = headers or {}
        self.severity = severity

    def outcome(self) -> dict[str, Any]:
        return operation_outcome(self.code, self.diagnostics, self.severity)


def operation_outcome(code: str, diagnostics: str, severity: str = "error") -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": severity,
                "code": code,
                "details": {"text": diagnostics},
                "diagnostics": diagnostics,
            }
        ],
    }


@dataclass(frozen=True)
class Bundle:
    """A searchset page: the Bundle's own members (`head`) and the resources of its entries.

    `as_dict` is the Bundle as a JSON value; `encode` is the same Bundle as wire
    JSON, spliced from the head and each resource's bytes as the record keeps them.
    """

    head: dict[str, Any]
    type_url: str
    page: list[dict[str, Any]]
    record: Record

    def as_dict(self) -> dict[str, Any]:
        body = dict(self.head)
        if self.page:
            body["entry"] = [
                {"fullUrl": self.full_url(r), "resource": r, "search": _search_match()}
                for r in self.page
            ]
        return body

    def encode(self) -> bytes:
        """`as_dict` as wire JSON, each resource spliced in as the record keeps its bytes."""
        head = wire.encode(self.head)
        if not self.page:
            return head
        # Each entry: {"fullUrl":"<type_url>/<id>","resource":<resource>,"search":<match>}
        url_start = b'{"fullUrl":' + wire.encode(f"{self.type_url}/")[:-1]
        resource_start = b',"resource":'
        entry_end = b',"search":' + wire.encode(_search_match()) + b"}"
        parts = [head[:-1], b',"entry":[']
        for r in self.page:
            parts += (
                url_start,
                self.record.derived(r, _id_tail),
                resource_start,
                self.record.encoded(r),
                entry_end,
                b",",
            )
        parts[-1] = b"]}"
        return b"".join(parts)

    def full_url(self, resource: dict[str, Any]) -> str:
        return f"{self.type_url}/{resource['id']}"


def _id_tail(resource: dict[str, Any]) -> bytes:
    """The resource's id as a JSON string without its opening quote (it ends a fullUrl)."""
    return wire.encode(resource["id"])[1:]


def _search_match() -> dict[str, str]:
    return {"mode": "match"}


def read(record: Record, resource_type: str, resource_id: str) -> dict[str, Any]:
    found = record.by_id.get((resource_type, resource_id))
    if found is None:
        raise FhirError(404, "not-found", f"Resource {resource_type}/{resource_id} is not known")
    return found


def _bare_patient(value: str) -> str:
    value = value.strip()
    if "/" in value:
        value = value.rstrip("/").rsplit("/", 1)[-1]
    return value


def _date_range(value: str) -> tuple[str, int, int]:
    prefix = value[:2] if value[:2] in DATE_PREFIXES else "eq"
    text = value[2:] if value[:2] in DATE_PREFIXES else value
    try:
        lo = parse_iso(text)
    except ValueError:
        raise FhirError(400, "invalid", f"Invalid _lastUpdated value '{value}'") from None
    hi = lo + (1000 if "T" in text else 86_400_000)
    return prefix, lo, hi


def _matches_date(ms: int, prefix: str, lo: int, hi: int) -> bool:
    if prefix in ("eq",):
        return lo <= ms < hi
    if prefix == "ne":
        return not lo <= ms < hi
    if prefix in ("gt", "sa"):
        return ms >= hi
    if prefix == "ge":
        return ms >= lo
    if prefix in ("lt", "eb"):
        return ms < lo
    return ms < hi  # le


def _updated_ms(resource: dict[str, Any]) -> int:
    return parse_iso(resource["meta"]["lastUpdated"])


def _categories(resource: dict[str, Any]) -> frozenset[str]:
    out: set[str] = set()
    for cc in resource.get("category", []):
        if isinstance(cc, dict):
            for coding in cc.get("coding", []):
                out.add(coding.get("code", ""))
                out.add(f"{coding.get('system', '')}|{coding.get('code', '')}")
        elif isinstance(cc, str):
            out.add(cc)
    return frozenset(out)


def _in_categories(
    record: Record, items: list[dict[str, Any]], wanted: set[str]
) -> list[dict[str, Any]]:
    """The resources with a category token in `wanted` (each resource's tokens worked out once)."""
    return [r for r in items if record.derived(r, _categories) & wanted]


def category_allowed(resource: dict[str, Any], limits: list[str] | None) -> bool:
    """Granular scopes (`?category=...`): None means the whole type is granted."""
    if limits is None:
        return True
    return bool(_categories(resource) & set(limits))


def search(
    record: Record,
    portal: Portal,
    resource_type: str,
    params: Mapping[str, Sequence[str]],
    *,
    fhir_base: str,
    now_ms: int,
    category_limits: list[str] | None = None,
) -> Bundle:
    """A searchset Bundle page with absolute `self` / `next` / `previous` links."""
    used: list[tuple[str, str]] = []
    for name in PATIENT_PARAMS:
        for value in params.get(name, []):
            if _bare_patient(value) != record.patient_id:
                raise FhirError(
                    403, "forbidden", "The patient parameter is not the patient in context"
                )
            used.append((name, value))
    items = record.resources(resource_type)
    for value in params.get("_id", []):
        wanted = set(value.split(","))
        items = [r for r in items if r["id"] in wanted]
        used.append(("_id", value))
    for value in params.get("_lastUpdated", []):
        prefix, lo, hi = _date_range(value)
        items = [r for r in items if _matches_date(record.derived(r, _updated_ms), prefix, lo, hi)]
        used.append(("_lastUpdated", value))
    for value in params.get("category", []):
        items = _in_categories(record, items, set(value.split(",")))
        used.append(("category", value))
    if category_limits is not None:
        items = _in_categories(record, items, set(category_limits))
    count = _int_param(params, "_count", portal.page_size_default)
    count = max(0, min(count, portal.page_size_max))
    offset = max(0, _int_param(params, "_offset", 0))
    page = items[offset : offset + count] if count else []
    type_url = f"{fhir_base}/{resource_type}"
    used_query = urlencode(used)  # encoded once for every link (the numbers need no quoting)

    def link(relation: str, at: int) -> dict[str, str]:
        paging = f"_count={count}&_offset={at}"
        query = f"{used_query}&{paging}" if used_query else paging
        return {"relation": relation, "url": f"{type_url}?{query}"}

    links = [link("self", offset)]
    if count and offset + count < len(items):
        links.append(link("next", offset + count))
    if offset > 0 and count:
        links.append(link("previous", max(0, offset - count)))
    bundle_id = hashlib.sha256(
        f"{resource_type}?{used_query}&{offset}&{count}".encode()
    ).hexdigest()[:32]
    head: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": bundle_id,
        "meta": {"lastUpdated": iso(now_ms)},
        "type": "searchset",
        "total": len(items),
        "link": links,
    }
    return Bundle(head, type_url, page, record)


def _int_param(params: Mapping[str, Sequence[str]], name: str, default: int) -> int:
    values = params.get(name)
    if not values:
        return default
    try:
        return int(values[-1])
    except ValueError:
        raise FhirError(400, "invalid", f"{name} must be a whole number") from None
