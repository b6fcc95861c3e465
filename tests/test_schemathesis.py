"""Schemathesis over the served OpenAPI document: every operation, bounded examples,
positive and negative.

No server error; no status code, content type, header or body the document does not
declare; no schema-violating request accepted; no schema-valid request rejected (except
where the only reason is a value no schema can describe, listed in KNOWN).
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import checks
from schemathesis.generation import GenerationMode

from simulator.testing import DEFAULT_TEST_KEY, Sim

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
    checks.negative_data_rejection,
    checks.positive_data_acceptance,
]
EXAMPLES = 6
CURSORS = ("starting_after", "ending_before")
# Where a schema-valid value can still be refused for a reason no schema can say:
KNOWN = {
    "POST /_sim/clock/set": "the clock only moves forward; a valid instant may be in its past",
    "GET /oauth/callback": "a state is valid only while its sign-in is in progress",
    "PUT /patients/{patient_id}": "the body's patient_id must equal the id in the path",
    "POST /_sim/api-faults": "status, type and code must be one row of the error catalogue",
    "POST /_sim/api-keys": "expires_at must be after the workspace clock's now",
    "POST /_sim/personas": "a Bundle's entries, ids and references are checked as FHIR says",
    "POST /_sim/sources": "the URL's host must read alike in every client, https unless local",
}
CURSOR_REASON = "a cursor is valid only as the server issued it (it carries a MAC)"


def _unchecked_acceptance(operation) -> str | None:  # noqa: ANN001
    """Why `positive_data_acceptance` does not apply to this operation, if it does not."""
    if operation.label in KNOWN:
        return KNOWN[operation.label]
    if any(param.name in CURSORS for param in operation.query):
        return CURSOR_REASON
    return None


def _failures_of(operation, mode: GenerationMode) -> list[str]:  # noqa: ANN001
    seen: list[str] = []
    used = CHECKS
    if _unchecked_acceptance(operation) is not None:
        used = [check for check in CHECKS if check is not checks.positive_data_acceptance]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate],
    )
    def run(case) -> None:  # noqa: ANN001
        try:
            case.call_and_validate(
                headers={"Authorization": f"Bearer {DEFAULT_TEST_KEY}"}, checks=used
            )
        except (AssertionError, BaseExceptionGroup) as failure:  # the checks that failed
            seen.append(f"{operation.label} [{mode.value}]: {str(failure)[:600]}")

    try:
        run()
    except Unsatisfiable:  # no negative example exists for this operation (nothing to send)
        assert mode is GenerationMode.NEGATIVE, operation.label
    return seen


def test_every_operation_answers_what_the_document_says() -> None:
    with Sim() as sim:
        document = schemathesis.openapi.from_wsgi("/openapi.json", sim.wsgi)
        failures: list[str] = []
        operations = [result.ok() for result in document.get_all_operations()]
        assert len(operations) > 60
        for operation in operations:
            for mode in GenerationMode:
                failures += _failures_of(operation, mode)
    assert failures == [], f"{len(failures)} failures:\n\n" + "\n\n".join(failures)
