"""RFC 7662 token introspection (SMART: active, scope, client_id, exp, patient...)."""

from __future__ import annotations

from flask import Blueprint, Response, request

from portal_mocks import tokens
from portal_mocks.oauth_errors import OAuthError
from portal_mocks.web.common import form_body, json_response, oauth_error, portal, runtime

bp = Blueprint("portal_introspection", __name__, url_prefix="/<slug>")


@bp.post("/introspect")
def introspect() -> Response:
    try:
        form = form_body()
        tokens.caller_for_introspection(
            runtime(), portal(), form, request.headers.get("Authorization")
        )
        return json_response(tokens.introspect(runtime(), portal(), form.get("token")))
    except OAuthError as err:
        return oauth_error(err)
