"""RFC 7009 token revocation: 200 even for unknown tokens; a refresh token ends its grant."""

from __future__ import annotations

from flask import Blueprint, Response, request

from portal_mocks import tokens
from portal_mocks.oauth_errors import OAuthError
from portal_mocks.web.common import form_body, no_store, oauth_error, portal, runtime

bp = Blueprint("portal_revocation", __name__, url_prefix="/<slug>")


@bp.post("/revoke")
def revoke() -> Response:
    try:
        tokens.revoke(runtime(), portal(), form_body(), request.headers.get("Authorization"))
    except OAuthError as err:
        return oauth_error(err)
    return no_store(Response("", status=200))
