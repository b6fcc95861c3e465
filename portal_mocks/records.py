"""Synthetic FHIR R4 records from a seed (Faker for people and places, seeded codes for the rest).

`build(seed, slug, persona, size)` returns the whole record of one persona at
one portal: the same seed gives the same bytes. Records are built lazily and
cached in memory per (seed, portal, persona, size), most recently used first and
bounded by a total resource count, so a 3,000-resource record costs its build
once per process. A cached record also keeps the wire JSON of each resource it
has sent (about the size of the resource's JSON), so that cost is paid once too.

Dates are placed before a fixed anchor (2026-01-01) so that a record does not
depend on when it is built.
"""

from __future__ import annotations

import base64
import hashlib
import random
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from portal_mocks import wire
from portal_mocks.personas import Persona
from portal_mocks.profiles import Portal

ANCHOR = datetime(2026, 1, 1, tzinfo=UTC)
# The cache keeps the most recently used records up to this many resources in all.
CACHE_RESOURCES = 250_000

T = TypeVar("T")

# -- code tables ------------------------------------------------------------------

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CVX = "http://hl7.org/fhir/sid/cvx"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
UCUM = "http://unitsofmeasure.org"
OBS_CAT = "http://terminology.hl7.org/CodeSystem/observation-category"
COND_CAT = "http://terminology.hl7.org/CodeSystem/condition-category"
COND_CLIN = "http://terminology.hl7.org/CodeSystem/condition-clinical"
COND_VER = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"
C4BB = "http://hl7.org/fhir/us/carin-bb/StructureDefinition/"

# (loinc, display, unit, low, high, decimals, category)
VITALS = [
    ("8867-4", "Heart rate", "/min", 55, 100, 0),
    ("9279-1", "Respiratory rate", "/min", 12, 20, 0),
    ("8310-5", "Body temperature", "Cel", 36.1, 37.6, 1),
    ("29463-7", "Body weight", "kg", 52, 110, 1),
    ("8302-2", "Body height", "cm", 150, 192, 1),
    ("39156-5", "Body mass index (BMI) [Ratio]", "kg/m2", 19, 34, 1),
    ("2708-6", "Oxygen saturation in Arterial blood", "%", 94, 100, 0),
]
LABS_COMMON = [
    ("2345-7", "Glucose [Mass/volume] in Serum or Plasma", "mg/dL", 70, 130, 0),
    ("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", 11.5, 16.5, 1),
    ("6690-2", "Leukocytes [#/volume] in Blood by Automated count", "10*3/uL", 4, 10.5, 1),
    ("777-3", "Platelets [#/volume] in Blood by Automated count", "10*3/uL", 150, 400, 0),
    ("2951-2", "Sodium [Moles/volume] in Serum or Plasma", "mmol/L", 135, 145, 0),
    ("2823-3", "Potassium [Moles/volume] in Serum or Plasma", "mmol/L", 3.5, 5.1, 1),
    ("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "mg/dL", 140, 240, 0),
]
LABS_CHRONIC = [
    ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", 6.2, 9.5, 1),
    ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", 1.1, 2.2, 2),
    ("33914-3", "Glomerular filtration rate/1.73 sq M.predicted", "mL/min/{1.73_m2}", 32, 58, 0),
    (
        "13457-7",
        "Cholesterol in LDL [Mass/volume] in Serum or Plasma by calculation",
        "mg/dL",
        90,
        180,
        0,
    ),
    ("2571-8", "Triglyceride [Mass/volume] in Serum or Plasma", "mg/dL", 120, 320, 0),
]
CONDITIONS_ACUTE = [
    ("367498001", "Seasonal allergic rhinitis", "J30.2"),
    ("36971009", "Sinusitis", "J32.9"),
    ("44465007", "Sprain of ankle", "S93.409A"),
    ("37796009", "Migraine", "G43.909"),
    ("235595009", "Gastroesophageal reflux disease", "K21.9"),
    ("10509002", "Acute bronchitis", "J20.9"),
    ("1532007", "Viral pharyngitis", "J02.9"),
]
CONDITIONS_CHRONIC = [
    ("44054006", "Diabetes mellitus type 2", "E11.9"),
    ("59621000", "Essential hypertension", "I10"),
    ("55822004", "Hyperlipidemia", "E78.5"),
    ("433144002", "Chronic kidney disease stage 3", "N18.30"),
    ("414916001", "Obesity", "E66.9"),
    ("239873007", "Osteoarthritis of knee", "M17.9"),
    ("53741008", "Coronary arteriosclerosis", "I25.10"),
    ("49436004", "Atrial fibrillation", "I48.91"),
    ("84114007", "Heart failure", "I50.9"),
    ("13645005", "Chronic obstructive lung disease", "J44.9"),
    ("40930008", "Hypothyroidism", "E03.9"),
    ("35489007", "Depressive disorder", "F32.9"),
]
MEDICATIONS = [
    (
        "860975",
        "24 HR metformin hydrochloride 500 MG Extended Release Oral Tablet",
        "Take 1 tablet by mouth daily with dinner",
    ),
    ("314076", "lisinopril 10 MG Oral Tablet", "Take 1 tablet by mouth daily"),
    ("617310", "atorvastatin 20 MG Oral Tablet", "Take 1 tablet by mouth at bedtime"),
    ("197361", "amlodipine 5 MG Oral Tablet", "Take 1 tablet by mouth daily"),
    ("966222", "levothyroxine sodium 0.05 MG Oral Tablet", "Take 1 tablet by mouth every morning"),
    (
        "198053",
        "omeprazole 20 MG Delayed Release Oral Capsule",
        "Take 1 capsule by mouth before breakfast",
    ),
    (
        "308191",
        "amoxicillin 500 MG Oral Capsule",
        "Take 1 capsule by mouth 3 times daily for 10 days",
    ),
    ("310965", "ibuprofen 200 MG Oral Tablet", "Take 1-2 tablets by mouth every 6 hours as needed"),
    (
        "745679",
        "200 ACTUAT albuterol 0.09 MG/ACTUAT Metered Dose Inhaler",
        "Inhale 2 puffs every 4 hours as needed",
    ),
    ("312940", "sertraline 50 MG Oral Tablet", "Take 1 tablet by mouth daily"),
    ("313988", "furosemide 40 MG Oral Tablet", "Take 1 tablet by mouth every morning"),
    (
        "855332",
        "warfarin sodium 5 MG Oral Tablet",
        "Take as directed by the anticoagulation clinic",
    ),
]
ALLERGIES = [
    ("7980", RXNORM, "Penicillin G", "medication", ("271807003", "Eruption of skin")),
    ("256349002", SNOMED, "Peanut (substance)", "food", ("39579001", "Anaphylaxis")),
    ("111088007", SNOMED, "Latex (substance)", "environment", ("247472004", "Wheal")),
    ("10171", RXNORM, "Sulfamethoxazole", "medication", ("271807003", "Eruption of skin")),
    ("227037002", SNOMED, "Fish (substance)", "food", ("418290006", "Itching")),
    ("288328004", SNOMED, "Bee venom (substance)", "environment", ("267038008", "Edema")),
]
VACCINES = [
    ("140", "Influenza, seasonal, injectable, preservative free"),
    ("208", "COVID-19, mRNA, LNP-S, PF, 30 mcg/0.3 mL dose"),
    ("115", "Tdap"),
    ("133", "Pneumococcal conjugate PCV 13"),
    ("187", "zoster vaccine recombinant"),
    ("43", "Hep B, adult"),
]
ENCOUNTER_TYPES = [
    ("185349003", "Encounter for check up (procedure)", "AMB", "ambulatory"),
    ("185345009", "Encounter for symptom (procedure)", "AMB", "ambulatory"),
    ("390906007", "Follow-up encounter (procedure)", "AMB", "ambulatory"),
    ("50849002", "Emergency room admission (procedure)", "EMER", "emergency"),
    ("32485007", "Hospital admission (procedure)", "IMP", "inpatient encounter"),
]
PROCEDURES = [
    ("430193006", "Medication reconciliation (procedure)"),
    ("171207006", "Depression screening (procedure)"),
    ("73761001", "Colonoscopy (procedure)"),
    ("71651007", "Mammography (procedure)"),
    ("76601001", "Intramuscular injection (procedure)"),
    ("710824005", "Assessment of health and social care needs (procedure)"),
    ("29303009", "Electrocardiographic procedure (procedure)"),
]
REPORTS = [
    ("24323-8", "Comprehensive metabolic 2000 panel - Serum or Plasma"),
    ("58410-2", "CBC panel - Blood by Automated count"),
    ("57698-3", "Lipid panel with direct LDL - Serum or Plasma"),
]
NOTES = [
    ("11506-3", "Progress note"),
    ("34117-2", "History and physical note"),
    ("11488-4", "Consult note"),
    ("18842-5", "Discharge summary"),
]
NOTE_LINES = [
    "Patient seen for routine follow-up.",
    "Reports feeling well overall; no new complaints.",
    "Vital signs reviewed and within expected range.",
    "Medication list reconciled with the patient.",
    "Plan: continue current therapy and return in 3 months.",
    "Labs ordered; results to be reviewed at the next visit.",
    "Counselled on diet, exercise and smoking avoidance.",
]
CLAIM_ITEMS = [
    ("99213", "Office or other outpatient visit, established patient, low complexity", 110.0),
    ("99214", "Office or other outpatient visit, established patient, moderate complexity", 165.0),
    ("80053", "Comprehensive metabolic panel", 38.0),
    ("85025", "Complete blood count with automated differential", 22.0),
    ("93000", "Electrocardiogram, complete", 45.0),
    ("36415", "Collection of venous blood by venipuncture", 9.0),
    ("71046", "Radiologic examination, chest, 2 views", 60.0),
]
NDC_DRUGS = [
    ("00093105801", "Metformin HCl 500 mg tablet", 12.0),
    ("68180051301", "Lisinopril 10 mg tablet", 9.5),
    ("00378395277", "Atorvastatin 20 mg tablet", 15.0),
    ("59762153001", "Amlodipine 5 mg tablet", 8.0),
]

HOSPITAL_WEIGHTS = {
    "Observation": 0.55,
    "Encounter": 0.10,
    "DiagnosticReport": 0.08,
    "MedicationRequest": 0.07,
    "Condition": 0.05,
    "Immunization": 0.05,
    "Procedure": 0.05,
    "DocumentReference": 0.03,
    "AllergyIntolerance": 0.02,
}


# -- the record -------------------------------------------------------------------


@dataclass
class Record:
    """One persona's resources at one portal, by type and by (type, id); never changed once built.

    What is worked out from a resource (its wire JSON above all) is worked out on
    first use and kept with the record (`derived`), so the Bundle pages and reads
    that send the resource again reuse it.
    """

    patient_id: str
    by_type: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    by_id: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    _derived: dict[tuple[Callable[..., Any], str, str], Any] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def add(self, resource: dict[str, Any]) -> None:
        self.by_type.setdefault(resource["resourceType"], []).append(resource)
        self.by_id[(resource["resourceType"], resource["id"])] = resource

    def count(self) -> int:
        return len(self.by_id)

    def resources(self, resource_type: str) -> list[dict[str, Any]]:
        return self.by_type.get(resource_type, [])

    def derived(self, resource: dict[str, Any], compute: Callable[[dict[str, Any]], T]) -> T:
        """`compute(resource)` for a resource of this record, computed once and kept.

        `compute` is a module-level function of the resource alone (it is part of the key).
        """
        key = (compute, resource["resourceType"], resource["id"])
        try:
            return self._derived[key]
        except KeyError:
            return self._derived.setdefault(key, compute(resource))

    def encoded(self, resource: dict[str, Any]) -> bytes:
        """A resource of this record as wire JSON (`wire.encode`), encoded once."""
        return self.derived(resource, wire.encode)


_cache: OrderedDict[tuple, Record] = OrderedDict()
_lock = threading.Lock()
_faker: Any = None


def _get_faker() -> Any:
    """One Faker for the process (made on first use; reseeded for every build, under `_lock`)."""
    global _faker
    if _faker is None:
        from faker import Faker

        _faker = Faker("en_US")
    return _faker


def build(seed: int, portal: Portal, persona: Persona, size: int | None = None) -> Record:
    """The record of `persona` at `portal` for a workspace seed (cached)."""
    total = persona.size if size is None else size
    key = (seed, portal.slug, persona.username, total)
    with _lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found
        record = _Builder(seed, portal, persona, total).build()
        _cache[key] = record
        held = sum(r.count() for r in _cache.values())
        while held > CACHE_RESOURCES and len(_cache) > 1:
            _, dropped = _cache.popitem(last=False)
            held -= dropped.count()
        return record


def patient_id(seed: int, portal: Portal, persona: Persona) -> str:
    rng = _rng(seed, portal.slug, persona.username, "patient-id")
    return _patient_id(rng, portal.patient_id_style)


def _rng(*labels: object) -> random.Random:
    digest = hashlib.sha256(":".join(str(x) for x in labels).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _patient_id(rng: random.Random, style: str) -> str:
    if style == "epic":
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        return "e" + "".join(rng.choice(alphabet) for _ in range(22)) + "3"
    if style == "cerner":
        return str(rng.randint(10_000_000, 99_999_999))
    if style == "athena":
        return f"a-{rng.randint(1000, 29999)}.E-{rng.randint(1000, 99999)}"
    if style == "bluebutton":
        return f"-1999{rng.randint(0, 10**10 - 1):010d}"
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _date(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%d")


def _cc(system: str, code: str, display: str, text: str | None = None) -> dict[str, Any]:
    return {
        "coding": [{"system": system, "code": code, "display": display}],
        "text": text or display,
    }


def _split_counts(total: int, weights: dict[str, float]) -> dict[str, int]:
    """Largest-remainder split of `total` by `weights`, at least one each when room allows."""
    if total <= 0:
        return dict.fromkeys(weights, 0)
    raw = {k: total * w for k, w in weights.items()}
    counts = {k: int(v) for k, v in raw.items()}
    if total >= len(weights):
        for k in counts:
            counts[k] = max(counts[k], 1)
    rest = total - sum(counts.values())
    order = sorted(weights, key=lambda k: raw[k] - int(raw[k]), reverse=True)
    i = 0
    while rest > 0:
        counts[order[i % len(order)]] += 1
        rest -= 1
        i += 1
    while rest < 0:
        biggest = max(counts, key=lambda k: counts[k])
        counts[biggest] -= 1
        rest += 1
    return counts


class _Builder:
    def __init__(self, seed: int, portal: Portal, persona: Persona, total: int) -> None:
        self.portal = portal
        self.persona = persona
        self.total = max(1, total)
        self.rng = _rng(seed, portal.slug, persona.username, self.total, "record")
        self.patient_id = patient_id(seed, portal, persona)
        self.record = Record(self.patient_id)
        self.patient_ref = {"reference": f"Patient/{self.patient_id}"}
        fake = _get_faker()
        fake.seed_instance(
            int.from_bytes(
                hashlib.sha256(f"{seed}:{persona.username}".encode()).digest()[:8], "big"
            )
        )
        self.family = fake.last_name()
        self.address = {
            "line": [fake.street_address()],
            "city": fake.city(),
            "state": fake.state_abbr(include_territories=False),
            "postalCode": fake.zipcode(),
            "country": "US",
        }
        self.phone = fake.numerify("###-###-####")
        self.clinicians = [f"Dr. {fake.first_name()} {fake.last_name()}" for _ in range(6)]
        self.years = 3 if self.total <= 60 else (8 if self.total <= 600 else 20)
        self.counter = 0

    # -- helpers --------------------------------------------------------------

    def new_id(self, kind: str) -> str:
        self.counter += 1
        style = self.portal.patient_id_style
        if style == "epic":
            alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
            return "e" + "".join(self.rng.choice(alphabet) for _ in range(22)) + "3"
        if style == "cerner":
            prefix = {"Observation": "L-", "Condition": "p"}.get(kind, "")
            return f"{prefix}{self.rng.randint(100_000_000, 999_999_999)}"
        if style == "athena":
            return f"a-{self.rng.randint(1000, 29999)}.{kind.lower()[:4]}-{self.counter}"
        if style == "bluebutton":
            return f"{kind.lower()}--{self.rng.randint(10**13, 10**14 - 1)}"
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def when(self) -> datetime:
        seconds = self.rng.randint(0, self.years * 365 * 86400)
        return (ANCHOR - timedelta(days=1, seconds=seconds)).replace(microsecond=0)

    def meta(self, when: datetime, profile: str) -> dict[str, Any]:
        updated = min(when + timedelta(hours=self.rng.randint(1, 72)), ANCHOR - timedelta(hours=1))
        return {"versionId": "1", "lastUpdated": _iso(updated), "profile": [profile]}

    def add(self, resource: dict[str, Any]) -> dict[str, Any]:
        self.record.add(resource)
        return resource

    def clinician(self) -> dict[str, str]:
        return {"display": self.rng.choice(self.clinicians)}

    # -- build ----------------------------------------------------------------

    def build(self) -> Record:
        self.add(self.patient())
        rest = self.total - 1
        if self.portal.is_payer:
            self.payer(rest)
        else:
            self.clinical(rest)
        return self.record

    def patient(self) -> dict[str, Any]:
        p = self.persona
        birth = ANCHOR.replace(year=ANCHOR.year - p.age) - timedelta(days=self.rng.randint(30, 330))
        if self.portal.is_payer:
            identifier = [
                {
                    "type": _cc(
                        "http://terminology.hl7.org/CodeSystem/v2-0203", "MB", "Member Number"
                    ),
                    "system": "http://hl7.org/fhir/sid/us-mbi",
                    "value": "".join(
                        self.rng.choice("ACDEFGHJKMNPQRTUVWXY0123456789") for _ in range(11)
                    ),
                }
            ]
            profile = C4BB + "C4BB-Patient"
        else:
            identifier = [
                {
                    "use": "usual",
                    "type": _cc(
                        "http://terminology.hl7.org/CodeSystem/v2-0203",
                        "MR",
                        "Medical Record Number",
                    ),
                    "system": f"urn:oid:2.16.840.1.113883.3.{self.rng.randint(100, 999)}.{self.portal.slug}",
                    "value": str(self.rng.randint(10_000_000, 99_999_999)),
                }
            ]
            profile = US_CORE + "us-core-patient"
        return {
            "resourceType": "Patient",
            "id": self.patient_id,
            "meta": {
                "versionId": "1",
                "lastUpdated": _iso(ANCHOR - timedelta(days=2)),
                "profile": [profile],
            },
            "identifier": identifier,
            "active": True,
            "name": [{"use": "official", "family": self.family, "given": [p.given]}],
            "telecom": [
                {"system": "phone", "value": self.phone, "use": "home"},
                {"system": "email", "value": f"{p.username}.{self.family.lower()}@example.com"},
            ],
            "gender": p.gender,
            "birthDate": _date(birth),
            "address": [{"use": "home", **self.address}],
        }

    def clinical(self, n: int) -> None:
        counts = _split_counts(n, HOSPITAL_WEIGHTS)
        encounters = [self.encounter() for _ in range(counts["Encounter"])]
        chronic = self.persona.profile in ("chronic", "complex")
        for _ in range(counts["Condition"]):
            self.condition(chronic)
        labs: list[dict[str, Any]] = []
        for i in range(counts["Observation"]):
            obs = self.observation(i, chronic, encounters)
            if obs["category"][0]["coding"][0]["code"] == "laboratory":
                labs.append(obs)
        for _ in range(counts["DiagnosticReport"]):
            self.report(labs)
        for _ in range(counts["MedicationRequest"]):
            self.medication(chronic)
        for i in range(counts["AllergyIntolerance"]):
            self.allergy(i)
        for _ in range(counts["Immunization"]):
            self.immunization()
        for _ in range(counts["Procedure"]):
            self.procedure(encounters)
        for _ in range(counts["DocumentReference"]):
            self.document(encounters)

    def encounter(self) -> dict[str, Any]:
        code, display, cls, cls_display = self.rng.choice(
            ENCOUNTER_TYPES[:3] * 6 + ENCOUNTER_TYPES[3:]
        )
        start = self.when()
        hours = 1 if cls == "AMB" else (6 if cls == "EMER" else 24 * self.rng.randint(2, 6))
        return self.add(
            {
                "resourceType": "Encounter",
                "id": self.new_id("Encounter"),
                "meta": self.meta(start, US_CORE + "us-core-encounter"),
                "status": "finished",
                "class": {"system": ACT_CODE, "code": cls, "display": cls_display},
                "type": [_cc(SNOMED, code, display)],
                "subject": self.patient_ref,
                "participant": [{"individual": self.clinician()}],
                "period": {"start": _iso(start), "end": _iso(start + timedelta(hours=hours))},
                "serviceProvider": {"display": self.portal.display_name},
            }
        )

    def condition(self, chronic: bool) -> dict[str, Any]:
        pool = CONDITIONS_CHRONIC if chronic and self.rng.random() < 0.7 else CONDITIONS_ACUTE
        code, display, icd = self.rng.choice(pool)
        onset = self.when()
        active = pool is CONDITIONS_CHRONIC or self.rng.random() < 0.3
        cat = "problem-list-item" if active else "encounter-diagnosis"
        res: dict[str, Any] = {
            "resourceType": "Condition",
            "id": self.new_id("Condition"),
            "meta": self.meta(onset, US_CORE + "us-core-condition-problems-health-concerns"),
            "clinicalStatus": _cc(
                COND_CLIN, "active" if active else "resolved", "Active" if active else "Resolved"
            ),
            "verificationStatus": _cc(COND_VER, "confirmed", "Confirmed"),
            "category": [
                _cc(COND_CAT, cat, "Problem List Item" if active else "Encounter Diagnosis")
            ],
            "code": {
                "coding": [
                    {"system": SNOMED, "code": code, "display": display},
                    {"system": ICD10, "code": icd, "display": display},
                ],
                "text": display,
            },
            "subject": self.patient_ref,
            "onsetDateTime": _iso(onset),
            "recordedDate": _iso(onset + timedelta(hours=2)),
        }
        if not active:
            res["abatementDateTime"] = _iso(onset + timedelta(days=self.rng.randint(5, 30)))
        return self.add(res)

    def observation(
        self, i: int, chronic: bool, encounters: list[dict[str, Any]]
    ) -> dict[str, Any]:
        roll = self.rng.random()
        when = self.when()
        base: dict[str, Any] = {
            "resourceType": "Observation",
            "id": self.new_id("Observation"),
            "status": "final",
        }
        if i == 0:
            base.update(
                {
                    "meta": self.meta(when, US_CORE + "us-core-smokingstatus"),
                    "category": [_cc(OBS_CAT, "social-history", "Social History")],
                    "code": _cc(LOINC, "72166-2", "Tobacco smoking status"),
                    "subject": self.patient_ref,
                    "effectiveDateTime": _iso(when),
                    "valueCodeableConcept": _cc(SNOMED, "266919005", "Never smoker"),
                }
            )
            return self.add(base)
        if roll < 0.12:
            systolic = self.rng.randint(118, 165 if chronic else 135)
            base.update(
                {
                    "meta": self.meta(when, US_CORE + "us-core-blood-pressure"),
                    "category": [_cc(OBS_CAT, "vital-signs", "Vital Signs")],
                    "code": _cc(
                        LOINC, "85354-9", "Blood pressure panel with all children optional"
                    ),
                    "subject": self.patient_ref,
                    "effectiveDateTime": _iso(when),
                    "component": [
                        {
                            "code": _cc(LOINC, "8480-6", "Systolic blood pressure"),
                            "valueQuantity": _qty(systolic, "mm[Hg]"),
                        },
                        {
                            "code": _cc(LOINC, "8462-4", "Diastolic blood pressure"),
                            "valueQuantity": _qty(
                                self.rng.randint(68, 98 if chronic else 88), "mm[Hg]"
                            ),
                        },
                    ],
                }
            )
        else:
            vital = roll < 0.45
            pool = VITALS if vital else LABS_COMMON + (LABS_CHRONIC * 2 if chronic else [])
            code, display, unit, low, high, decimals = self.rng.choice(pool)
            value = round(self.rng.uniform(low * 0.9, high * 1.05), decimals)
            if decimals == 0:
                value = int(value)
            cat = ("vital-signs", "Vital Signs") if vital else ("laboratory", "Laboratory")
            profile = "us-core-vital-signs" if vital else "us-core-observation-lab"
            base.update(
                {
                    "meta": self.meta(when, US_CORE + profile),
                    "category": [_cc(OBS_CAT, *cat)],
                    "code": _cc(LOINC, code, display),
                    "subject": self.patient_ref,
                    "effectiveDateTime": _iso(when),
                    "issued": _iso(when + timedelta(hours=3)),
                    "valueQuantity": _qty(value, unit),
                }
            )
            if not vital:
                base["referenceRange"] = [{"low": _qty(low, unit), "high": _qty(high, unit)}]
        if encounters:
            base["encounter"] = {"reference": f"Encounter/{self.rng.choice(encounters)['id']}"}
        return self.add(base)

    def report(self, labs: list[dict[str, Any]]) -> dict[str, Any]:
        code, display = self.rng.choice(REPORTS)
        when = self.when()
        res: dict[str, Any] = {
            "resourceType": "DiagnosticReport",
            "id": self.new_id("DiagnosticReport"),
            "meta": self.meta(when, US_CORE + "us-core-diagnosticreport-lab"),
            "status": "final",
            "category": [_cc("http://terminology.hl7.org/CodeSystem/v2-0074", "LAB", "Laboratory")],
            "code": _cc(LOINC, code, display),
            "subject": self.patient_ref,
            "effectiveDateTime": _iso(when),
            "issued": _iso(when + timedelta(hours=5)),
            "performer": [{"display": f"{self.portal.display_name} Laboratory"}],
        }
        if labs:
            picked = self.rng.sample(labs, min(3, len(labs)))
            res["result"] = [{"reference": f"Observation/{o['id']}"} for o in picked]
        return self.add(res)

    def medication(self, chronic: bool) -> dict[str, Any]:
        code, display, sig = self.rng.choice(
            MEDICATIONS if chronic else MEDICATIONS[5:9] + MEDICATIONS[:2]
        )
        when = self.when()
        active = self.rng.random() < (0.6 if chronic else 0.3)
        return self.add(
            {
                "resourceType": "MedicationRequest",
                "id": self.new_id("MedicationRequest"),
                "meta": self.meta(when, US_CORE + "us-core-medicationrequest"),
                "status": "active" if active else "completed",
                "intent": "order",
                "medicationCodeableConcept": _cc(RXNORM, code, display),
                "subject": self.patient_ref,
                "authoredOn": _iso(when),
                "requester": self.clinician(),
                "dosageInstruction": [{"text": sig}],
            }
        )

    def allergy(self, i: int) -> dict[str, Any]:
        code, system, display, category, (rcode, rdisplay) = ALLERGIES[
            (i + self.rng.randint(0, len(ALLERGIES) - 1)) % len(ALLERGIES)
        ]
        when = self.when()
        return self.add(
            {
                "resourceType": "AllergyIntolerance",
                "id": self.new_id("AllergyIntolerance"),
                "meta": self.meta(when, US_CORE + "us-core-allergyintolerance"),
                "clinicalStatus": _cc(
                    "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                    "active",
                    "Active",
                ),
                "verificationStatus": _cc(
                    "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
                    "confirmed",
                    "Confirmed",
                ),
                "type": "allergy",
                "category": [category],
                "criticality": self.rng.choice(["low", "high"]),
                "code": _cc(system, code, display),
                "patient": self.patient_ref,
                "recordedDate": _iso(when),
                "reaction": [
                    {
                        "manifestation": [_cc(SNOMED, rcode, rdisplay)],
                        "severity": self.rng.choice(["mild", "moderate", "severe"]),
                    }
                ],
            }
        )

    def immunization(self) -> dict[str, Any]:
        code, display = self.rng.choice(VACCINES)
        when = self.when()
        return self.add(
            {
                "resourceType": "Immunization",
                "id": self.new_id("Immunization"),
                "meta": self.meta(when, US_CORE + "us-core-immunization"),
                "status": "completed",
                "vaccineCode": _cc(CVX, code, display),
                "patient": self.patient_ref,
                "occurrenceDateTime": _iso(when),
                "primarySource": True,
                "lotNumber": f"{self.rng.choice('ABCDEFGH')}{self.rng.randint(1000, 9999)}",
            }
        )

    def procedure(self, encounters: list[dict[str, Any]]) -> dict[str, Any]:
        code, display = self.rng.choice(PROCEDURES)
        when = self.when()
        res: dict[str, Any] = {
            "resourceType": "Procedure",
            "id": self.new_id("Procedure"),
            "meta": self.meta(when, US_CORE + "us-core-procedure"),
            "status": "completed",
            "code": _cc(SNOMED, code, display),
            "subject": self.patient_ref,
            "performedDateTime": _iso(when),
            "performer": [{"actor": self.clinician()}],
        }
        if encounters:
            res["encounter"] = {"reference": f"Encounter/{self.rng.choice(encounters)['id']}"}
        return self.add(res)

    def document(self, encounters: list[dict[str, Any]]) -> dict[str, Any]:
        code, display = self.rng.choice(NOTES)
        when = self.when()
        author = self.clinician()
        text = "\n".join(
            [
                f"{display} - {self.persona.given} {self.family}",
                *self.rng.sample(NOTE_LINES, 3),
                author["display"],
            ]
        )
        res: dict[str, Any] = {
            "resourceType": "DocumentReference",
            "id": self.new_id("DocumentReference"),
            "meta": self.meta(when, US_CORE + "us-core-documentreference"),
            "status": "current",
            "type": _cc(LOINC, code, display),
            "category": [
                _cc(
                    "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category",
                    "clinical-note",
                    "Clinical Note",
                )
            ],
            "subject": self.patient_ref,
            "date": _iso(when),
            "author": [author],
            "content": [
                {
                    "attachment": {
                        "contentType": "text/plain",
                        "data": base64.b64encode(text.encode()).decode(),
                        "title": display,
                        "creation": _iso(when),
                    }
                }
            ],
        }
        if encounters:
            res["context"] = {
                "encounter": [{"reference": f"Encounter/{self.rng.choice(encounters)['id']}"}]
            }
        return self.add(res)

    # -- payer ----------------------------------------------------------------

    def payer(self, n: int) -> None:
        parts = [("Part A", "part-a"), ("Part B", "part-b"), ("Part D", "part-d")]
        coverages = []
        for label, slug in parts[: min(3, n)]:
            coverages.append(self.coverage(label, slug))
        for _ in range(max(0, n - len(coverages))):
            self.eob(coverages)

    def coverage(self, label: str, slug: str) -> dict[str, Any]:
        start = (
            ANCHOR.replace(year=ANCHOR.year - max(1, self.persona.age - 65))
            if self.persona.age > 65
            else ANCHOR.replace(year=ANCHOR.year - 2)
        )
        return self.add(
            {
                "resourceType": "Coverage",
                "id": f"{slug}-{self.patient_id}",
                "meta": {
                    "versionId": "1",
                    "lastUpdated": _iso(ANCHOR - timedelta(days=3)),
                    "profile": [C4BB + "C4BB-Coverage"],
                },
                "status": "active",
                "type": _cc(
                    "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "SUBSIDIZ",
                    "subsidized health program",
                ),
                "subscriberId": self.patient_id.lstrip("-"),
                "beneficiary": self.patient_ref,
                "relationship": _cc(
                    "http://terminology.hl7.org/CodeSystem/subscriber-relationship", "self", "Self"
                ),
                "period": {"start": _date(start)},
                "payor": [
                    {
                        "identifier": {"value": "CMS"},
                        "display": "Centers for Medicare and Medicaid Services",
                    }
                ],
                "class": [
                    {
                        "type": _cc(
                            "http://terminology.hl7.org/CodeSystem/coverage-class", "plan", "Plan"
                        ),
                        "value": label,
                        "name": f"Medicare {label}",
                    }
                ],
            }
        )

    def eob(self, coverages: list[dict[str, Any]]) -> dict[str, Any]:
        roll = self.rng.random()
        if roll < 0.6:
            kind, prefix, prof = (
                "professional",
                "carrier",
                "C4BB-ExplanationOfBenefit-Professional-NonClinician",
            )
            lines = self.rng.sample(CLAIM_ITEMS, self.rng.randint(1, 3))
            system = "https://bluebutton.cms.gov/resources/codesystem/hcpcs"
            cov = next((c for c in coverages if c["id"].startswith("part-b")), None)
        elif roll < 0.85:
            kind, prefix, prof = "pharmacy", "pde", "C4BB-ExplanationOfBenefit-Pharmacy"
            lines = [self.rng.choice(NDC_DRUGS)]
            system = "http://hl7.org/fhir/sid/ndc"
            cov = next((c for c in coverages if c["id"].startswith("part-d")), None)
        else:
            kind, prefix, prof = (
                "institutional",
                "outpatient",
                "C4BB-ExplanationOfBenefit-Outpatient-Institutional",
            )
            lines = self.rng.sample(CLAIM_ITEMS, self.rng.randint(2, 4))
            system = "https://bluebutton.cms.gov/resources/codesystem/hcpcs"
            cov = next((c for c in coverages if c["id"].startswith("part-a")), None)
        cov = cov or (coverages[0] if coverages else None)
        when = self.when()
        items = []
        total = 0.0
        for seq, (code, display, price) in enumerate(lines, start=1):
            charge = round(price * self.rng.uniform(0.9, 1.6), 2)
            paid = round(charge * 0.8, 2)
            total += charge
            items.append(
                {
                    "sequence": seq,
                    "productOrService": _cc(system, code, display),
                    "servicedDate": _date(when),
                    "adjudication": [
                        {
                            "category": _cc(
                                "http://terminology.hl7.org/CodeSystem/adjudication",
                                "submitted",
                                "Submitted Amount",
                            ),
                            "amount": _usd(charge),
                        },
                        {
                            "category": _cc(
                                "http://terminology.hl7.org/CodeSystem/adjudication",
                                "benefit",
                                "Benefit Amount",
                            ),
                            "amount": _usd(paid),
                        },
                    ],
                }
            )
        claim_id = str(self.rng.randint(10**13, 10**14 - 1))
        res: dict[str, Any] = {
            "resourceType": "ExplanationOfBenefit",
            "id": f"{prefix}--{claim_id}",
            "meta": self.meta(when, C4BB + prof),
            "identifier": [
                {
                    "system": "https://bluebutton.cms.gov/resources/variables/clm_id",
                    "value": claim_id,
                }
            ],
            "status": "active",
            "type": _cc(
                "http://terminology.hl7.org/CodeSystem/claim-type", kind, kind.capitalize()
            ),
            "use": "claim",
            "patient": self.patient_ref,
            "billablePeriod": {
                "start": _date(when),
                "end": _date(when + timedelta(days=1 if kind != "institutional" else 3)),
            },
            "created": _iso(when + timedelta(days=14)),
            "insurer": {
                "identifier": {"value": "CMS"},
                "display": "Centers for Medicare and Medicaid Services",
            },
            "provider": {"display": self.rng.choice(self.clinicians)},
            "outcome": "complete",
            "item": items,
            "total": [
                {
                    "category": _cc(
                        "http://terminology.hl7.org/CodeSystem/adjudication",
                        "submitted",
                        "Submitted Amount",
                    ),
                    "amount": _usd(round(total, 2)),
                }
            ],
            "payment": {"amount": _usd(round(total * 0.8, 2))},
        }
        res["insurance"] = [
            {
                "focal": True,
                "coverage": {"reference": f"Coverage/{cov['id']}"}
                if cov
                else {"display": "Medicare"},
            }
        ]
        return self.add(res)


def _qty(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def _usd(value: float) -> dict[str, Any]:
    return {"value": value, "currency": "USD"}
