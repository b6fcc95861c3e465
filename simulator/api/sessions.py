"""Patient sessions, served under the three naming generations (C canonical, A and B aliases)."""

from __future__ import annotations

from flask import Blueprint, request

from .. import patients, schemas, sessions
from ..http import json_body, runtime, workspace_id
from ..pagination import page
from .guard import require_api_key

bp = Blueprint("sessions", __name__)
bp.before_request(require_api_key)


def _create(gen: sessions.Generation):
    body = json_body(schemas.PATIENT_SESSION_INIT)
    rt, ws = runtime(), workspace_id()
    row = sessions.create(rt, ws, body, gen)
    return sessions.to_api(rt, ws, row, gen)


def _retrieve(gen: sessions.Generation, session_id: str):
    rt, ws = runtime(), workspace_id()
    return sessions.to_api(rt, ws, sessions.get_row(rt.store, ws, session_id), gen)


def _list_for_patient(gen: sessions.Generation, patient_id: str):
    rt, ws = runtime(), workspace_id()
    patients.get_row(rt.store, ws, patient_id)
    where, params = sessions.list_where(request.args.get("status"))
    return page(
        rt.store,
        kind=f"sessions.{patient_id}",
        table="patient_sessions",
        where="workspace_id = ? AND patient_id = ?" + where,
        params=(ws, patient_id, *params),
        args=request.args,
        render=lambda row: sessions.to_api(rt, ws, row, gen),
    )


for _gen in sessions.GENERATIONS.values():
    bp.add_url_rule(
        f"/{_gen.path}",
        f"create_{_gen.name}",
        lambda gen=_gen: _create(gen),
        methods=["POST"],
    )
    bp.add_url_rule(
        f"/{_gen.path}/<session_id>",
        f"retrieve_{_gen.name}",
        lambda session_id, gen=_gen: _retrieve(gen, session_id),
        methods=["GET"],
    )
    bp.add_url_rule(
        f"/patients/<patient_id>/{_gen.list_path}",
        f"list_{_gen.name}",
        lambda patient_id, gen=_gen: _list_for_patient(gen, patient_id),
        methods=["GET"],
    )
