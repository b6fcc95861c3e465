"""Discovery: SMART configuration, OpenID configuration, JWKS, CapabilityStatement, home page.

None of these needs authentication and all are CORS-open.
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template

from portal_mocks import capability, keys
from portal_mocks.web.common import (
    display_name,
    fhir_base,
    fhir_response,
    json_response,
    portal,
    portal_url,
    runtime,
)

bp = Blueprint("portal_discovery", __name__, url_prefix="/<slug>")


@bp.get("/fhir/.well-known/smart-configuration")
def smart_configuration() -> Response:
    doc = capability.smart_configuration(portal(), portal_url(), fhir_base())
    resp = json_response(doc)
    resp.headers["Cache-Control"] = "public, max-age=60"
    del resp.headers["Pragma"]
    return resp


@bp.get("/fhir/.well-known/openid-configuration")
def openid_configuration() -> Response:
    return json_response(capability.openid_configuration(portal(), portal_url(), fhir_base()))


@bp.get("/jwks")
def jwks() -> Response:
    return json_response(keys.jwks(runtime(), portal().slug))


@bp.get("/fhir/metadata")
def metadata() -> Response:
    return fhir_response(
        capability.capability_statement(portal(), portal_url(), fhir_base(), display_name())
    )


@bp.get("/")
def home() -> Response:
    html = render_template(
        "home.html", portal_name=display_name(), colour=portal().colour, fhir_base=fhir_base()
    )
    return Response(html, mimetype="text/html")
