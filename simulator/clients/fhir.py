"""FHIR R4 reads for the background pull: capability, patient-scoped search, paging.

No store here; callers must not hold a store transaction while these run.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from simulator.core import transport
from simulator.core.query import urlencode

FHIR_JSON = "application/fhir+json"

# What a patient-access pull asks for, in this order, when the server supports it.
PULL_TYPES = (
    "Patient",
    "AllergyIntolerance",
    "Condition",
    "Observation",
    "MedicationRequest",
    "Immunization",
    "Procedure",
    "Encounter",
    "DiagnosticReport",
    "DocumentReference",
    "CarePlan",
    "CareTeam",
    "Goal",
    "Device",
    "MedicationDispense",
    "Coverage",
    "ExplanationOfBenefit",
)


class FhirError(Exception):
    """A FHIR call that did not answer 200: `status` (0 for no answer) and `retry_after` seconds."""

    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after

    @property
    def transient(self) -> bool:
        return self.status == 0 or self.status == 429 or self.status >= 500


@dataclass
class Page:
    resources: list[dict[str, Any]]
    next_url: str | None


def _retry_after(value: str | None, now_ms: int) -> int | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0, int(when.timestamp() - now_ms / 1000))


def get_json(
    http: requests.Session, url: str, token: str | None, timeout: float, now_ms: int
) -> dict[str, Any]:
    return _get(http, url, token, timeout, now_ms)[0]


@dataclass(frozen=True)
class Capability:
    """What a pull needs of a CapabilityStatement, and how long it may be kept.

    `types`: the resource types a patient-access pull asks for (`PULL_TYPES` order);
    `incremental`: every one of them lists `_lastUpdated`; `max_age_s`: the answer's
    `Cache-Control: max-age` (None: it may not be kept).
    """

    types: list[str]
    incremental: bool
    max_age_s: int | None


def read_capability(
    http: requests.Session, base_url: str, timeout: float, now_ms: int, incremental_param: str
) -> Capability:
    """GET `[base]/metadata` and read it as a `Capability`."""
    body, resp = _get(http, base_url + "/metadata", None, timeout, now_ms)
    types = supported_types(body)
    return Capability(
        types,
        all(supports_search_param(body, t, incremental_param) for t in types),
        max_age(resp.headers.get("Cache-Control")),
    )


def max_age(cache_control: str | None) -> int | None:
    """Seconds an answer may be kept by its `Cache-Control` (RFC 9111 5.2.2): `max-age`,
    unless `no-store` or `no-cache` says it may not be reused without asking again."""
    seconds = None
    for directive in (cache_control or "").split(","):
        name, _, value = directive.strip().partition("=")
        name = name.strip().lower()
        if name in ("no-store", "no-cache"):
            return None
        if name == "max-age":
            value = value.strip().strip('"')
            if not value.isdigit():
                return None
            seconds = int(value)
    return seconds


def _get(
    http: requests.Session, url: str, token: str | None, timeout: float, now_ms: int
) -> tuple[dict[str, Any], requests.Response | transport.Reply]:
    """A FHIR GET answered 200 with a JSON object: the object and the answer."""
    headers = {"Accept": FHIR_JSON}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        resp = transport.call(http, "GET", url, headers=headers, timeout=timeout)
    except requests.Timeout:
        raise FhirError(0, f"GET {url} timed out") from None
    except requests.RequestException as exc:
        raise FhirError(0, f"GET {url} failed: {exc}") from None
    if resp.status_code != 200:
        raise FhirError(
            resp.status_code,
            f"GET {urlsplit(url).path} answered {resp.status_code}: {_diagnostics(resp)}",
            _retry_after(resp.headers.get("Retry-After"), now_ms),
        )
    try:
        body = resp.json()
    except ValueError:
        raise FhirError(502, f"GET {urlsplit(url).path} did not answer JSON") from None
    if not isinstance(body, dict):
        raise FhirError(502, f"GET {urlsplit(url).path} did not answer a JSON object")
    return body, resp


def _diagnostics(resp: requests.Response | transport.Reply) -> str:
    try:
        body = resp.json()
        issues = body.get("issue") or []
        if issues:
            issue = issues[0]
            return str(issue.get("diagnostics") or issue.get("details", {}).get("text") or "")
    except (ValueError, AttributeError):
        pass
    return resp.reason or ""


def supported_types(capability: dict[str, Any]) -> list[str]:
    """Resource types of the CapabilityStatement that a patient-access pull asks for."""
    offered: set[str] = set()
    for rest in capability.get("rest") or []:
        for resource in rest.get("resource") or []:
            if isinstance(resource, dict) and resource.get("type"):
                offered.add(str(resource["type"]))
    return [t for t in PULL_TYPES if t in offered]


def first_page_url(
    base_url: str, resource_type: str, patient: str, count: int, since: str | None = None
) -> str:
    """The first search page of a type for the patient; `since` (an instant) asks only for
    what changed from then on (`_lastUpdated=ge<since>`)."""
    base = base_url.rstrip("/")
    query: dict[str, Any] = (
        {"_id": patient} if resource_type == "Patient" else {"patient": patient, "_count": count}
    )
    if since is not None:
        query["_lastUpdated"] = f"ge{since}"
    return f"{base}/{resource_type}?{urlencode(query)}"


def supports_search_param(capability: dict[str, Any], resource_type: str, name: str) -> bool:
    """True when the CapabilityStatement lists search parameter `name` for the type."""
    for rest in capability.get("rest") or []:
        for resource in rest.get("resource") or []:
            if isinstance(resource, dict) and resource.get("type") == resource_type:
                params = resource.get("searchParam") or []
                if any(isinstance(p, dict) and p.get("name") == name for p in params):
                    return True
    return False


def read_page(body: dict[str, Any], base_url: str) -> Page:
    """Entries with `search.mode` match (or none given) and the `next` link of a searchset."""
    if body.get("resourceType") != "Bundle":
        raise FhirError(502, "the search answer is not a Bundle")
    resources = []
    for entry in body.get("entry") or []:
        mode = (entry.get("search") or {}).get("mode", "match")
        resource = entry.get("resource")
        if mode == "match" and isinstance(resource, dict) and resource.get("resourceType"):
            resources.append(resource)
    next_url = None
    for link in body.get("link") or []:
        if link.get("relation") == "next" and link.get("url"):
            next_url = link["url"]
    if next_url is not None and not _same_origin(next_url, base_url):
        raise FhirError(502, f"the next link {next_url} leaves the FHIR server")
    return Page(resources, next_url)


def _same_origin(url: str, base_url: str) -> bool:
    a, b = urlsplit(url), urlsplit(base_url)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)
