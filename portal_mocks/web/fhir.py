"""The FHIR R4 API: read and search of the patient in context, bearer tokens checked."""

from __future__ import annotations

from flask import Blueprint, Response, request

from portal_mocks import access, scopes
from portal_mocks.fhir_search import FhirError, category_allowed, read
from portal_mocks.web import front
from portal_mocks.web.common import (
    fhir_error,
    fhir_response,
    portal,
    require_type,
    runtime,
    sleep,
)

bp = Blueprint("portal_fhir", __name__, url_prefix="/<slug>/fhir")


def _supported(resource_type: str) -> None:
    require_type(portal(), resource_type)


@bp.get("/<resource_type>")
def search_type(resource_type: str) -> Response:
    """Usually answered ahead of Flask by `front.Front` with the same `front.search`."""
    return _answered(front.search(runtime(), portal(), resource_type, request.environ))


@bp.post("/<resource_type>/_search")
def search_post(resource_type: str) -> Response:
    params = request.args.to_dict(flat=False)
    for key, values in request.form.to_dict(flat=False).items():
        params.setdefault(key, []).extend(values)
    return _answered(front.search(runtime(), portal(), resource_type, request.environ, params))


def _answered(answer: front.Answer) -> Response:
    status, headers, body = answer
    return Response(body, status=status, headers=headers)


@bp.get("/<resource_type>/<resource_id>")
def read_instance(resource_type: str, resource_id: str) -> Response:
    rt, p = runtime(), portal()
    try:
        _supported(resource_type)
        token, grant, now, faulted = access.bearer(rt, p, request.headers.get("Authorization"))
        access.check_scope(p, token, resource_type, "r")
        plan = access.fault_plan(rt, p, grant, now, any_stored=faulted)
        delay = access.apply_faults(rt, p, token, grant, resource_type, plan)
        record = access.record_for(rt, p, grant, plan, resource_type, resource_id)
        resource = read(record, resource_type, resource_id)
        if not category_allowed(resource, scopes.category_filters(token.scope, resource_type)):
            raise FhirError(
                404, "not-found", f"Resource {resource_type}/{resource_id} is not known"
            )
    except FhirError as err:
        return fhir_error(err)
    sleep(delay)
    return fhir_response(record.encoded(resource))
