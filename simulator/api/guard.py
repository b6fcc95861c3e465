"""Before-request guard shared by the authenticated Connect API blueprints."""

from __future__ import annotations

from ..http import authenticate, check_version


def require_api_key() -> None:
    check_version()
    authenticate()
