"""The mock portals and their vendor flavour (plain data, no Flask).

Each portal is a SMART authorization server plus a FHIR R4 server under
`/portals/<slug>/`. The numbers come from the SMART/FHIR fact sheet:

* `summit-epic` (Epic-like hospital): PKCE S256 only, 3600 s access tokens,
  refresh tokens not rotated, Epic-shaped patient ids.
* `lakeside-cerner` (Oracle Health / Cerner-like hospital): 570 s access
  tokens, refresh tokens rotated and re-issued for a fresh 90 days, error
  redirects carry an `error_uri` on authorization.cerner.com and no
  `error_description`, numeric patient ids.
* `maple-athena` (athenahealth-like clinic): discovery leaves out
  `code_challenge_methods_supported` (a real athenahealth quirk) while PKCE
  S256 is still required; `a-<practice>.E-<n>` patient ids.
* `harbor-clinic` (small clinic, flaky): a seeded share (15 %) of FHIR data
  requests answer 503 with `Retry-After: 1`.
* `bluebutton` (CMS Blue Button 2.0-like payer): PKCE required; Patient,
  Coverage and ExplanationOfBenefit only; negative patient ids; explicit
  per-type scopes granted for `patient/*`; a 13-month grant (refresh tokens,
  rotated) or a 10-hour one-time grant (no refresh token); access tokens of
  10 h before 2026-05-18 and 1 h from then on; `access_grant_expiration`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

HOSPITAL_TYPES: tuple[str, ...] = (
    "Patient",
    "AllergyIntolerance",
    "Condition",
    "DiagnosticReport",
    "DocumentReference",
    "Encounter",
    "Immunization",
    "MedicationRequest",
    "Observation",
    "Procedure",
)
PAYER_TYPES: tuple[str, ...] = ("Patient", "Coverage", "ExplanationOfBenefit")

DAY_S = 86_400
# Blue Button 2.0 moved its default access-token lifetime from 10 h to 1 h on this date.
BB_SHORT_TOKENS_FROM_MS = int(datetime(2026, 5, 18, tzinfo=UTC).timestamp() * 1000)


@dataclass(frozen=True)
class Portal:
    slug: str
    vendor: str
    kind: str  # hospital | clinic | payer
    display_name: str
    resource_types: tuple[str, ...]
    access_token_ttl_s: int = 3600
    refresh_token_ttl_s: int = 365 * DAY_S
    rotate_refresh_tokens: bool = False
    code_ttl_s: int = 60
    # How long a started sign-in (login + consent) stays usable.
    login_ttl_s: int = 1800
    advertise_pkce_methods: bool = True
    error_style: str = "rfc"  # rfc | cerner
    patient_id_style: str = "uuid"  # epic | cerner | athena | uuid | bluebutton
    flaky_share: float = 0.0
    explicit_type_scopes: bool = False
    page_size_default: int = 50
    page_size_max: int = 100
    colour: str = "#2b5797"
    extra_capabilities: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_payer(self) -> bool:
        return self.kind == "payer"


PORTALS: dict[str, Portal] = {
    p.slug: p
    for p in (
        Portal(
            slug="summit-epic",
            vendor="epic",
            kind="hospital",
            display_name="Summit Valley Health MyChart",
            resource_types=HOSPITAL_TYPES,
            access_token_ttl_s=3600,
            patient_id_style="epic",
            colour="#c8102e",
        ),
        Portal(
            slug="lakeside-cerner",
            vendor="cerner",
            kind="hospital",
            display_name="Lakeside Medical Center Patient Portal",
            resource_types=HOSPITAL_TYPES,
            access_token_ttl_s=570,
            refresh_token_ttl_s=90 * DAY_S,
            rotate_refresh_tokens=True,
            error_style="cerner",
            patient_id_style="cerner",
            colour="#c74634",
        ),
        Portal(
            slug="maple-athena",
            vendor="athena",
            kind="clinic",
            display_name="Maple Street Family Practice (athenaPatient)",
            resource_types=HOSPITAL_TYPES,
            access_token_ttl_s=3600,
            advertise_pkce_methods=False,
            patient_id_style="athena",
            colour="#5a2d82",
        ),
        Portal(
            slug="harbor-clinic",
            vendor="eclinicalworks",
            kind="clinic",
            display_name="Harbor Community Clinic healow",
            resource_types=HOSPITAL_TYPES,
            access_token_ttl_s=3600,
            patient_id_style="uuid",
            flaky_share=0.15,
            colour="#007a87",
        ),
        Portal(
            slug="bluebutton",
            vendor="cms_bluebutton",
            kind="payer",
            display_name="Medicare Blue Button 2.0",
            resource_types=PAYER_TYPES,
            access_token_ttl_s=36_000,
            rotate_refresh_tokens=True,
            patient_id_style="bluebutton",
            explicit_type_scopes=True,
            colour="#0071bc",
        ),
    )
}

# Blue Button data-access grant kinds (BB2 application setting `data_access_type`).
ONE_TIME = "ONE_TIME"
THIRTEEN_MONTH = "THIRTEEN_MONTH"
RESEARCH_STUDY = "RESEARCH_STUDY"
DATA_ACCESS_TYPES = (ONE_TIME, THIRTEEN_MONTH, RESEARCH_STUDY)
ONE_TIME_GRANT_S = 10 * 3600


def get(slug: str) -> Portal | None:
    return PORTALS.get(slug)


def access_token_ttl_s(portal: Portal, now_ms: int) -> int:
    """Access-token lifetime at `now_ms` (Blue Button shortened its tokens in 2026)."""
    if portal.slug == "bluebutton" and now_ms >= BB_SHORT_TOKENS_FROM_MS:
        return 3600
    return portal.access_token_ttl_s


def add_months(ms: int, months: int) -> int:
    """`ms` plus calendar months (day clamped to the month's end)."""
    dt = datetime.fromtimestamp(ms / 1000, UTC)
    month0 = dt.month - 1 + months
    year, month = dt.year + month0 // 12, month0 % 12 + 1
    for day in (dt.day, 30, 29, 28):
        try:
            moved = dt.replace(year=year, month=month, day=day)
            break
        except ValueError:
            continue
    return int(moved.timestamp() * 1000)
