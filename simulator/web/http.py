"""What every Connect API and control-plane handler shares.

The plumbing every app of the process shares (the runtime, request ids, the
error envelope, API-key authentication, JSON bodies) is `simulator.core.webkit`;
this module adds what only the Connect API has: the `Version` header.
"""

from __future__ import annotations

from flask import request
from werkzeug.exceptions import NotFound

from simulator.core import naming
from simulator.core.errors import ApiError

# Passed on to the handlers (and the app factory), which import them from here.
from simulator.core.webkit import RUNTIME_KEY as RUNTIME_KEY
from simulator.core.webkit import acting_for as acting_for
from simulator.core.webkit import authenticate as authenticate
from simulator.core.webkit import install_error_handling as install_error_handling
from simulator.core.webkit import json_body as json_body
from simulator.core.webkit import runtime as runtime
from simulator.core.webkit import workspace as workspace
from simulator.core.webkit import workspace_id as workspace_id

SUPPORTED_VERSIONS = ("2026-04-25",)


def generation() -> naming.Generation:
    """The naming generation of the caller's workspace."""
    return naming.generation(workspace().naming)


def require_generation(gen: naming.Generation) -> None:
    """A route of another generation than the workspace's does not exist for it."""
    if generation() is not gen:
        raise NotFound()  # the envelope of any unknown route


def check_version() -> None:
    version = request.headers.get("Version")
    if version is not None and version.strip() not in SUPPORTED_VERSIONS:
        raise ApiError(
            "unsupported_api_version",
            f"API version '{version}' is not supported; supported: {', '.join(SUPPORTED_VERSIONS)}",
        )
