"""Discovery: SMART configuration, OpenID configuration, JWKS, CapabilityStatement, home page.

None of these needs authentication and all are CORS-open. Their bodies depend
only on the portal, the base URL and the runtime, so each is built and encoded
once per portal app (`common.documents`) and sent as kept from then on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, render_template

from portal_mocks import capability, keys
from portal_mocks.web.common import (
    display_name,
    documents,
    fhir_base,
    fhir_response,
    json_response,
    portal,
    portal_url,
    runtime,
)

bp = Blueprint("portal_discovery", __name__, url_prefix="/<slug>")

# The discovery documents never change while the portal app runs; a client may keep
# them this long (the simulator's pulls keep the CapabilityStatement that long).
DOCUMENT_MAX_AGE = "public, max-age=60"


def _document(name: str, build: Callable[[], Any]) -> bytes:
    """One discovery body of the portal of the URL, built on first use."""
    return documents().body((name, portal().slug, runtime().base_url), build)


@bp.get("/fhir/.well-known/smart-configuration")
def smart_configuration() -> Response:
    doc = _document(
        "smart-configuration",
        lambda: capability.smart_configuration(portal(), portal_url(), fhir_base()),
    )
    resp = json_response(doc)
    resp.headers["Cache-Control"] = DOCUMENT_MAX_AGE
    del resp.headers["Pragma"]
    return resp


@bp.get("/fhir/.well-known/openid-configuration")
def openid_configuration() -> Response:
    return json_response(
        _document(
            "openid-configuration",
            lambda: capability.openid_configuration(portal(), portal_url(), fhir_base()),
        )
    )


@bp.get("/jwks")
def jwks() -> Response:
    return json_response(_document("jwks", lambda: keys.jwks(runtime(), portal().slug)))


@bp.get("/fhir/metadata")
def metadata() -> Response:
    resp = fhir_response(
        _document(
            "metadata",
            lambda: capability.capability_statement(
                portal(), portal_url(), fhir_base(), display_name()
            ),
        )
    )
    resp.headers["Cache-Control"] = DOCUMENT_MAX_AGE
    return resp


@bp.get("/")
def home() -> Response:
    html = render_template(
        "home.html",
        portal_name=display_name(),
        colour=portal().colour,
        fhir_base=fhir_base(),
        advertises_pkce=portal().advertise_pkce_methods,
    )
    return Response(html, mimetype="text/html")
