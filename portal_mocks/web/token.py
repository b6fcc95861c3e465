"""The token endpoint (authorization_code and refresh_token grants), RFC 6749 JSON errors.

A POST usually never reaches this view: `front.Front` answers it ahead of Flask with the
same `front.token`; the view serves the portal app when it runs without the front, and
Flask's automatic OPTIONS and 405 for the route.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from portal_mocks.web import front
from portal_mocks.web.common import portal, runtime

bp = Blueprint("portal_token", __name__, url_prefix="/<slug>")


@bp.post("/token")
def token() -> Response:
    status, headers, body = front.token(runtime(), portal(), request.environ)
    return Response(body, status=status, headers=headers)
