"""The token endpoint (authorization_code and refresh_token grants), RFC 6749 JSON errors."""

from __future__ import annotations

from flask import Blueprint, Response, request

from portal_mocks import tokens
from portal_mocks.oauth_errors import OAuthError
from portal_mocks.web.common import json_response, oauth_error, portal, runtime, single_form, sleep

bp = Blueprint("portal_token", __name__, url_prefix="/<slug>")


def form_body() -> dict[str, str]:
    if request.mimetype != "application/x-www-form-urlencoded":
        raise OAuthError("invalid_request", "The body must be application/x-www-form-urlencoded")
    return single_form()


@bp.post("/token")
def token() -> Response:
    try:
        result = tokens.handle(
            runtime(), portal(), form_body(), request.headers.get("Authorization")
        )
    except OAuthError as err:
        return oauth_error(err)
    sleep(result.delay_s)
    return json_response(result.body, result.status, result.headers)
