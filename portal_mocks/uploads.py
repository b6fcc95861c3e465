"""Personas a workspace brings: a FHIR R4 Bundle served to one login at the portals.

`store(rt, ws, username, bundle, portals)` checks the Bundle (type `collection`,
`transaction` or `batch`; every entry a resource of an R4 type with a well-formed
id; exactly one Patient; every reference well-formed and every `urn:uuid:` one
naming an entry of the Bundle), assigns the ids a FHIR server would (a transaction's
`POST` entries get new ids from the workspace seed, `PUT Type/id` keeps `id`) and
rewrites the references to entries (`urn:uuid:...` → `Type/id`), then keeps one
row per resource. The first bad resource fails the whole upload with
`BundleError`, which names it by entry index and `Type/id`.

A login with that username (and any password the built-in personas accept) at a
portal of the upload then reads those resources: `record(rt, ws, username,
resource_type)` answers a `Record` of the Patient plus the resources of one type,
so a search pages and filters exactly as for a built-in persona. Resource types
no chosen portal serves are left out (and counted in `skipped`).
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from portal_mocks import personas, profiles
from portal_mocks.records import Record
from simulator.core import ids, workspaces
from simulator.core.store import dumps, loads
from simulator.core.timeutil import iso, parse_iso

if TYPE_CHECKING:
    from simulator.core.runtime import Runtime

SCHEMA = """
CREATE TABLE IF NOT EXISTS portal_uploads (
    workspace_id TEXT NOT NULL,
    username TEXT NOT NULL,
    patient_id TEXT NOT NULL,
    portals TEXT,
    counts TEXT NOT NULL,
    skipped TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, username)
);
CREATE TABLE IF NOT EXISTS portal_upload_resources (
    workspace_id TEXT NOT NULL,
    username TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (workspace_id, username, resource_type, resource_id)
);
CREATE INDEX IF NOT EXISTS portal_upload_resources_order
    ON portal_upload_resources (workspace_id, username, resource_type, position);
"""

BUNDLE_TYPES = ("collection", "transaction", "batch")
MAX_ENTRIES = 50_000
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
FHIR_ID = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")

# Every resource type of FHIR R4 (4.0.1).
R4_TYPES = frozenset(
    """Account ActivityDefinition AdverseEvent AllergyIntolerance Appointment
    AppointmentResponse AuditEvent Basic Binary BiologicallyDerivedProduct BodyStructure
    Bundle CapabilityStatement CarePlan CareTeam CatalogEntry ChargeItem
    ChargeItemDefinition Claim ClaimResponse ClinicalImpression CodeSystem Communication
    CommunicationRequest CompartmentDefinition Composition ConceptMap Condition Consent
    Contract Coverage CoverageEligibilityRequest CoverageEligibilityResponse DetectedIssue
    Device DeviceDefinition DeviceMetric DeviceRequest DeviceUseStatement DiagnosticReport
    DocumentManifest DocumentReference EffectEvidenceSynthesis Encounter Endpoint
    EnrollmentRequest EnrollmentResponse EpisodeOfCare EventDefinition Evidence
    EvidenceVariable ExampleScenario ExplanationOfBenefit FamilyMemberHistory Flag Goal
    GraphDefinition Group GuidanceResponse HealthcareService ImagingStudy Immunization
    ImmunizationEvaluation ImmunizationRecommendation ImplementationGuide InsurancePlan
    Invoice Library Linkage List Location Measure MeasureReport Media Medication
    MedicationAdministration MedicationDispense MedicationKnowledge MedicationRequest
    MedicationStatement MedicinalProduct MedicinalProductAuthorization
    MedicinalProductContraindication MedicinalProductIndication MedicinalProductIngredient
    MedicinalProductInteraction MedicinalProductManufactured MedicinalProductPackaged
    MedicinalProductPharmaceutical MedicinalProductUndesirableEffect MessageDefinition
    MessageHeader MolecularSequence NamingSystem NutritionOrder Observation
    ObservationDefinition OperationDefinition OperationOutcome Organization
    OrganizationAffiliation Parameters Patient PaymentNotice PaymentReconciliation Person
    PlanDefinition Practitioner PractitionerRole Procedure Provenance Questionnaire
    QuestionnaireResponse RelatedPerson RequestGroup ResearchDefinition
    ResearchElementDefinition ResearchStudy ResearchSubject RiskAssessment RiskEvidenceSynthesis
    Schedule SearchParameter ServiceRequest Slot Specimen SpecimenDefinition StructureDefinition
    StructureMap Subscription Substance SubstanceNucleicAcid SubstancePolymer SubstanceProtein
    SubstanceReferenceInformation SubstanceSourceMaterial SubstanceSpecification SupplyDelivery
    SupplyRequest Task TerminologyCapabilities TestReport TestScript ValueSet
    VerificationResult VisionPrescription""".split()
)
_RELATIVE = re.compile(
    r"^(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})(/_history/[A-Za-z0-9\-.]{1,64})?$"
)
_CONDITIONAL = re.compile(r"^(?P<type>[A-Z][A-Za-z]+)\?\S+$")
_ABSOLUTE = re.compile(r"^https?://\S+$")


class BundleError(ValueError):
    """The first thing wrong with an uploaded Bundle; `param` says where."""

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param


class UsernameError(ValueError):
    pass


@dataclass(frozen=True)
class Upload:
    workspace_id: str
    username: str
    patient_id: str
    portals: str | None
    counts: str
    skipped: str
    created_ms: int

    def portal_slugs(self) -> list[str]:
        chosen = loads(self.portals)
        return list(profiles.PORTALS) if chosen is None else list(chosen)

    def serves(self, slug: str) -> bool:
        return slug in self.portal_slugs()

    def to_api(self) -> dict[str, Any]:
        counts = loads(self.counts, {})
        return {
            "object": "persona",
            "username": self.username,
            "patient_id": self.patient_id,
            "portals": self.portal_slugs(),
            "resources": sum(counts.values()),
            "counts": counts,
            "skipped": loads(self.skipped, {}),
            "created_at": iso(self.created_ms),
        }


# -- checking -------------------------------------------------------------------------------


def check_username(username: str) -> str:
    name = username.strip().lower()
    if not USERNAME.match(name):
        raise UsernameError(
            "username must be 1 to 64 characters: lowercase letters, digits, '.', '_' or '-',"
            " starting with a letter or digit"
        )
    if personas.get(name) is not None:
        raise UsernameError(f"'{name}' is a built-in persona; choose another username")
    return name


def _where(index: int, resource: Any) -> str:
    if isinstance(resource, dict):
        rtype = resource.get("resourceType")
        rid = resource.get("id")
        if isinstance(rtype, str) and isinstance(rid, str):
            return f"entry[{index}] ({rtype}/{rid})"
        if isinstance(rtype, str):
            return f"entry[{index}] ({rtype})"
    return f"entry[{index}]"


def _fail(index: int, resource: Any, problem: str) -> BundleError:
    return BundleError(f"{_where(index, resource)}: {problem}", f"bundle.entry[{index}]")


def _new_id(seed: int, username: str, index: int) -> str:
    return str(uuid.UUID(bytes=ids.seeded_bytes(seed, "upload", username, index, size=16)))


def _assign_ids(
    bundle_type: str, entries: list[Any], seed: int, username: str
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Each entry's resource with its final id, and fullUrl -> `Type/id` of every entry."""
    resources: list[dict[str, Any]] = []
    full_urls: dict[str, str] = {}
    seen: set[tuple[str, str]] = set()
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise _fail(index, None, "an entry must be a JSON object")
        resource = entry.get("resource")
        if not isinstance(resource, dict):
            raise _fail(index, None, "the entry has no resource object")
        rtype = resource.get("resourceType")
        if not isinstance(rtype, str) or not rtype:
            raise _fail(index, resource, "the resource has no resourceType")
        if rtype not in R4_TYPES or rtype == "Bundle":
            raise _fail(index, resource, f"'{rtype}' is not a FHIR R4 resource type")
        rid = resource.get("id")
        if rid is not None and (not isinstance(rid, str) or not FHIR_ID.match(rid)):
            raise _fail(index, resource, "id must be 1 to 64 letters, digits, '-' or '.'")
        request = entry.get("request")
        if request is not None and not isinstance(request, dict):
            raise _fail(index, resource, "request must be a JSON object")
        method = str((request or {}).get("method", "")).upper()
        if bundle_type in ("transaction", "batch") and method not in ("POST", "PUT"):
            raise _fail(index, resource, "a transaction entry needs request.method POST or PUT")
        if method == "PUT":
            url = str((request or {}).get("url", ""))
            match = _RELATIVE.match(url)
            if match is None or match["type"] != rtype:
                raise _fail(index, resource, f"request.url must be '{rtype}/<id>' for a PUT")
            rid = match["id"]
        elif method == "POST" or rid is None:
            rid = _new_id(seed, username, index)
        key = (rtype, rid)
        if key in seen:
            raise _fail(index, resource, f"{rtype}/{rid} appears twice in the Bundle")
        seen.add(key)
        full_url = entry.get("fullUrl")
        if full_url is not None:
            if not isinstance(full_url, str) or not full_url:
                raise _fail(index, resource, "fullUrl must be a non-empty string")
            if full_url in full_urls:
                raise _fail(index, resource, f"fullUrl '{full_url}' appears twice in the Bundle")
            full_urls[full_url] = f"{rtype}/{rid}"
        resources.append(dict(resource, id=rid))
    return resources, full_urls


def _rewrite(value: Any, full_urls: dict[str, str], fail: Any) -> Any:
    """`value` with every reference to an entry rewritten; a malformed one raises via `fail`."""
    if isinstance(value, list):
        return [_rewrite(v, full_urls, fail) for v in value]
    if not isinstance(value, dict):
        return value
    out = {}
    for key, item in value.items():
        if key == "reference" and isinstance(item, str):
            out[key] = _reference(item, full_urls, fail)
        else:
            out[key] = _rewrite(item, full_urls, fail)
    return out


def _reference(ref: str, full_urls: dict[str, str], fail: Any) -> str:
    if ref in full_urls:
        return full_urls[ref]
    if ref.startswith("urn:"):
        raise fail(f"reference '{ref}' does not name the fullUrl of any entry")
    if ref.startswith("#") and len(ref) > 1:
        return ref
    if _ABSOLUTE.match(ref):
        return ref
    for pattern in (_RELATIVE, _CONDITIONAL):
        match = pattern.match(ref)
        if match is not None:
            if match["type"] not in R4_TYPES:
                raise fail(f"reference '{ref}' names '{match['type']}', not an R4 resource type")
            return ref
    raise fail(f"reference '{ref}' is not a well-formed FHIR reference")


def prepare(
    bundle: Any, *, seed: int, username: str, now_ms: int, served: set[str]
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The resources to keep (ids assigned, references rewritten, meta filled) and the
    counts of those left out because no chosen portal serves their type."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise BundleError("bundle must be a FHIR Bundle (resourceType 'Bundle')", "bundle")
    bundle_type = bundle.get("type")
    if bundle_type not in BUNDLE_TYPES:
        raise BundleError(
            f"bundle.type must be one of {', '.join(BUNDLE_TYPES)} (got {bundle_type!r})",
            "bundle.type",
        )
    entries = bundle.get("entry")
    if not isinstance(entries, list) or not entries:
        raise BundleError("bundle.entry must be a non-empty array", "bundle.entry")
    if len(entries) > MAX_ENTRIES:
        raise BundleError(f"bundle.entry has more than {MAX_ENTRIES} entries", "bundle.entry")
    resources, full_urls = _assign_ids(bundle_type, entries, seed, username)
    kept: list[dict[str, Any]] = []
    skipped: Counter[str] = Counter()
    patients: list[int] = []
    for index, resource in enumerate(resources):

        def fail(problem: str, index: int = index, resource: dict = resource) -> BundleError:
            return _fail(index, resource, problem)

        try:
            resource = _rewrite(resource, full_urls, fail)
        except RecursionError:
            raise fail("the resource is nested too deeply") from None
        meta = resource.get("meta")
        if meta is not None and not isinstance(meta, dict):
            raise fail("meta must be a JSON object")
        meta = dict(meta or {})
        updated = meta.get("lastUpdated")
        if updated is not None:
            try:
                parse_iso(str(updated))
            except ValueError:
                raise fail(f"meta.lastUpdated '{updated}' is not a FHIR instant") from None
        else:
            meta["lastUpdated"] = iso(now_ms)
        meta.setdefault("versionId", "1")
        resource["meta"] = meta
        if resource["resourceType"] == "Patient":
            patients.append(index)
            if len(patients) > 1:
                raise fail("the Bundle has a second Patient; a persona is one patient")
        if resource["resourceType"] in served:
            kept.append(resource)
        else:
            skipped[resource["resourceType"]] += 1
    if not patients:
        raise BundleError("the Bundle has no Patient resource", "bundle.entry")
    return kept, dict(sorted(skipped.items()))


# -- storage ----------------------------------------------------------------------------------


def _row(row: Any) -> Upload:
    return Upload(**{k: row[k] for k in row.keys()})


def store(
    rt: Runtime, ws_id: str, username: str, bundle: Any, portals: list[str] | None = None
) -> tuple[Upload, bool]:
    """Check and keep an uploaded persona (replacing one of the same username).

    Answers the stored persona and whether it replaced an earlier upload.
    """
    name = check_username(username)
    chosen = None if portals is None else list(dict.fromkeys(portals))
    slugs = list(profiles.PORTALS) if chosen is None else chosen
    served = {t for slug in slugs for t in profiles.PORTALS[slug].resource_types}
    now = rt.now(ws_id)
    seed = workspaces.get(rt.store, ws_id).seed
    kept, skipped = prepare(bundle, seed=seed, username=name, now_ms=now, served=served)
    patient_id = next(r["id"] for r in kept if r["resourceType"] == "Patient")
    counts = Counter(r["resourceType"] for r in kept)
    key = (ws_id, name)
    with rt.store.tx():
        replaced = (
            rt.store.scalar(
                "SELECT 1 FROM portal_uploads WHERE workspace_id = ? AND username = ?", key
            )
            is not None
        )
        rt.store.execute(
            "DELETE FROM portal_upload_resources WHERE workspace_id = ? AND username = ?", key
        )
        rt.store.execute(
            "INSERT INTO portal_uploads (workspace_id, username, patient_id, portals, counts,"
            " skipped, created_ms) VALUES (?,?,?,?,?,?,?)"
            " ON CONFLICT (workspace_id, username) DO UPDATE SET patient_id = excluded.patient_id,"
            " portals = excluded.portals, counts = excluded.counts, skipped = excluded.skipped,"
            " created_ms = excluded.created_ms",
            (
                ws_id,
                name,
                patient_id,
                None if chosen is None else dumps(chosen),
                dumps(dict(sorted(counts.items()))),
                dumps(skipped),
                now,
            ),
        )
        rt.store.executemany(
            "INSERT INTO portal_upload_resources (workspace_id, username, resource_type,"
            " resource_id, position, body) VALUES (?,?,?,?,?,?)",
            [(ws_id, name, r["resourceType"], r["id"], i, dumps(r)) for i, r in enumerate(kept)],
        )
    found = get(rt, ws_id, name)
    assert found is not None
    return found, replaced


def get(rt: Runtime, ws_id: str, username: str) -> Upload | None:
    row = rt.store.one(
        "SELECT * FROM portal_uploads WHERE workspace_id = ? AND username = ?",
        (ws_id, username.strip().lower()),
    )
    return None if row is None else _row(row)


def at_portal(rt: Runtime, ws_id: str, username: str, slug: str) -> Upload | None:
    """The workspace's upload for this login, if it is served at the portal."""
    found = get(rt, ws_id, username)
    return found if found is not None and found.serves(slug) else None


def list_all(rt: Runtime, ws_id: str) -> list[Upload]:
    rows = rt.store.all(
        "SELECT * FROM portal_uploads WHERE workspace_id = ? ORDER BY username", (ws_id,)
    )
    return [_row(r) for r in rows]


def delete(rt: Runtime, ws_id: str, username: str) -> bool:
    key = (ws_id, username.strip().lower())
    with rt.store.tx():
        rt.store.execute(
            "DELETE FROM portal_upload_resources WHERE workspace_id = ? AND username = ?", key
        )
        gone = rt.store.execute(
            "DELETE FROM portal_uploads WHERE workspace_id = ? AND username = ?", key
        ).rowcount
    return bool(gone)


def record(
    rt: Runtime,
    upload: Upload,
    resource_type: str,
    resource_id: str | None = None,
    *,
    patient_only: bool = False,
) -> Record:
    """The Patient plus the uploaded resources of one type (one of them for a read),
    in upload order; only the Patient when `patient_only` (the `empty_record` fault)."""
    sql = (
        "SELECT resource_type, body FROM portal_upload_resources WHERE workspace_id = ?"
        " AND username = ? AND (resource_type = 'Patient' OR (resource_type = ? AND ? = 0"
    )
    params: list[Any] = [upload.workspace_id, upload.username, resource_type, int(patient_only)]
    if resource_id is not None:
        sql += " AND resource_id = ?"
        params.append(resource_id)
    sql += ")) ORDER BY position"
    found = Record(patient_id=upload.patient_id)
    for row in rt.store.all(sql, tuple(params)):
        found.add(json.loads(row["body"]))
    return found
