"""Which catalog faults the exploration uses, and what the model predicts for each.

The catalog (`GET /_sim/faults/catalog`) names each fault and the site where it
fires. The prediction follows from the site and the fact sheet (§3.2): a fault
at the consent page, the authorize endpoint or the code exchange ends the
attempt `failed`; one on FHIR reads or the record leaves the connection
`active`; one on refresh (or on the refresh token's lifetime) lets an active
connection lapse to `refresh_failed` later; a one-time grant lets it lapse to
`expired` (docs/decisions.md "No refresh token"). Faults that cost real time
(timeouts, slow pages, very large records) or whose outcome the contract does
not fix (FHIR requests refused with every token) are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

FAILING_SITES = ("consent", "authorize", "token", "exchange")
HARMLESS_SITES = ("fhir", "record")
LAPSE_SITES = {"refresh": "refresh_failed", "issue": "refresh_failed", "grant": "expired"}
# Sites a portal-level fault (`POST /_sim/portals/{slug}/faults`) is injected at: a token-site
# fault there would also meet the next refresh of any grant, so its outcome is not fixed.
PORTAL_SITES = ("consent", "authorize", "exchange", "fhir", "record", "refresh", "issue")
SLOW_OR_OPEN = frozenset(
    {
        "exchange_timeout",
        "refresh_timeout",
        "fhir_slow",
        "large_record",
        "request_invalid_token",
        "request_expired_token",
    }
)
# docs/decisions.md "Failure codes": a denial is access_denied, a portal error keeps the
# portal's OAuth code, a refused code exchange is token_exchange_failed.
OAUTH_CODES = frozenset({"invalid_scope", "server_error", "temporarily_unavailable"})
UNKNOWN = "?"  # a failure code the model does not fix (any non-empty string)

# how far an attempt gets: the sites it passes, in order
APPROVE_PATH = ("authorize", "consent", "token", "exchange")
DENY_PATH = ("authorize", "consent")


@dataclass(frozen=True)
class Fault:
    name: str
    site: str
    portals: tuple[str, ...] | None  # None: every portal

    def applies_at(self, slug: str) -> bool:
        return self.portals is None or slug in self.portals

    @property
    def fails(self) -> bool:
        return self.site in FAILING_SITES

    @property
    def lapse(self) -> str | None:
        return LAPSE_SITES.get(self.site)

    @property
    def failure_code(self) -> str:
        if self.site == "consent":
            return "access_denied"
        if self.site in ("token", "exchange"):
            return "token_exchange_failed"
        return self.name if self.name in OAUTH_CODES else UNKNOWN


def usable_faults(catalog: Any) -> list[Fault]:
    """The catalog's faults whose outcome the model predicts, by name."""
    entries = catalog.get("data", []) if isinstance(catalog, dict) else catalog
    found = []
    for entry in entries or []:
        name, site = entry.get("name"), entry.get("site")
        known = site in FAILING_SITES or site in HARMLESS_SITES or site in LAPSE_SITES
        if not name or name in SLOW_OR_OPEN or not known:
            continue
        portals = entry.get("portals")
        found.append(Fault(name, site, None if portals == "all" else tuple(portals or ())))
    return sorted(found, key=lambda f: f.name)


def portal_faults(faults: list[Fault]) -> list[Fault]:
    return [f for f in faults if f.site in PORTAL_SITES]


@dataclass(frozen=True)
class Outcome:
    status: str  # active or failed
    failure_code: str | None
    lapse: str | None  # a status an active connection may lapse to later
    consumed: bool  # the pending portal fault fired


def predict(consent: str, login_fault: Fault | None, portal_fault: Fault | None) -> Outcome:
    """What one attempt ends as: the first fault on its path fires (§3.2).

    A portal-level authorize fault fires at the authorize request, before the
    login; a login-chosen one after the login form (docs/decisions.md "Mock
    portals", Faults); at the same later site the grant's own (login-chosen)
    fault fires first. The exploration avoids mixing the two on one attempt.
    """
    path = APPROVE_PATH if consent == "approve" else DENY_PATH
    for site in path:
        if site == "consent" and consent == "deny":
            # the patient's own denial decides; a consent fault only turns an approval
            # into a denial, so it stays pending for the next attempt
            return Outcome("failed", "access_denied", None, False)
        login_here = login_fault is not None and login_fault.fails and login_fault.site == site
        if portal_fault is not None and portal_fault.fails and portal_fault.site == site:
            if site == "authorize" or not login_here:
                return Outcome("failed", portal_fault.failure_code, None, True)
        if login_fault is not None and login_here:
            return Outcome("failed", login_fault.failure_code, None, False)
    lapse = login_fault.lapse if login_fault is not None else None
    return Outcome("active", None, lapse, False)
