"""Before-request guard shared by the authenticated Connect API blueprints."""

from __future__ import annotations

from flask import request

from simulator.core import api_keys
from simulator.core.webkit import key_permissions
from simulator.domain import api_faults
from simulator.web.http import authenticate, check_version, runtime


def require_api_key() -> None:
    check_version()
    ws_id = authenticate()
    api_keys.check_permission(key_permissions(), request.method)
    api_faults.check(runtime(), ws_id, request.method, request.path)
