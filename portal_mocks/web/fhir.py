"""The FHIR R4 API: read and search of the patient in context, bearer tokens checked."""

from __future__ import annotations

from flask import Blueprint, Response, request

from portal_mocks import access, scopes
from portal_mocks.fhir_search import FhirError, category_allowed, read, search
from portal_mocks.web.common import (
    fhir_base,
    fhir_error,
    fhir_response,
    portal,
    runtime,
    seeds,
    sleep,
)

bp = Blueprint("portal_fhir", __name__, url_prefix="/<slug>/fhir")


def _supported(resource_type: str) -> None:
    if resource_type not in portal().resource_types:
        raise FhirError(
            404, "not-supported", f"Resource type {resource_type} is not supported here"
        )


@bp.get("/<resource_type>")
def search_type(resource_type: str) -> Response:
    return _search(resource_type, request.args.to_dict(flat=False))


@bp.post("/<resource_type>/_search")
def search_post(resource_type: str) -> Response:
    params = request.args.to_dict(flat=False)
    for key, values in request.form.to_dict(flat=False).items():
        params.setdefault(key, []).extend(values)
    return _search(resource_type, params)


def _search(resource_type: str, params: dict[str, list[str]]) -> Response:
    rt, p = runtime(), portal()
    try:
        _supported(resource_type)
        token, grant, now, faulted = access.bearer(rt, p, request.headers.get("Authorization"))
        access.check_scope(p, token, resource_type, "s")
        plan = access.fault_plan(rt, p, grant, now, any_stored=faulted)
        delay = access.apply_faults(rt, p, token, grant, resource_type, plan)
        record = access.record_for(rt, p, grant, plan, resource_type, seeds=seeds())
        bundle = search(
            record,
            p,
            resource_type,
            params,
            fhir_base=fhir_base(),
            now_ms=now,
            category_limits=scopes.category_filters(token.scope, resource_type),
        )
    except FhirError as err:
        return fhir_error(err)
    sleep(delay)
    return fhir_response(bundle.encode())


@bp.get("/<resource_type>/<resource_id>")
def read_instance(resource_type: str, resource_id: str) -> Response:
    rt, p = runtime(), portal()
    try:
        _supported(resource_type)
        token, grant, now, faulted = access.bearer(rt, p, request.headers.get("Authorization"))
        access.check_scope(p, token, resource_type, "r")
        plan = access.fault_plan(rt, p, grant, now, any_stored=faulted)
        delay = access.apply_faults(rt, p, token, grant, resource_type, plan)
        record = access.record_for(rt, p, grant, plan, resource_type, resource_id, seeds=seeds())
        resource = read(record, resource_type, resource_id)
        if not category_allowed(resource, scopes.category_filters(token.scope, resource_type)):
            raise FhirError(
                404, "not-found", f"Resource {resource_type}/{resource_id} is not known"
            )
    except FhirError as err:
        return fhir_error(err)
    sleep(delay)
    return fhir_response(record.encoded(resource))
