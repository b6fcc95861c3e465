from __future__ import annotations

from flask import Blueprint

from ..http import runtime
from ..timeutil import iso

bp = Blueprint("health", __name__)


@bp.get("/health")
def health():
    return {"ok": True, "server_time": iso(runtime().wall())}
