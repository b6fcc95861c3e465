"""Patients: create, list, retrieve, replace, delete."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from simulator.core.errors import invalid
from simulator.domain import patients
from simulator.web import schemas
from simulator.web.api.guard import require_api_key
from simulator.web.http import json_body, runtime, workspace_id
from simulator.web.openapi import LIST_PARAMS, error, ok, path_param, query_param, request_body

bp = Blueprint("patients", __name__)
bp.before_request(require_api_key)


@bp.post("/patients")
def create_patient() -> dict[str, Any]:
    body = json_body(schemas.PATIENT_CREATE)
    rt, ws = runtime(), workspace_id()
    with rt.store.tx():  # a rejected create rolls back the sequence number too
        _, seq = rt.new_id(ws, "pat_")
        patient = patients.create(
            rt.store,
            ws,
            seq=seq,
            now_ms=rt.now(ws),
            patient_id=body["patient_id"],
            email=body.get("email"),
            name=body.get("name"),
            metadata=body.get("metadata"),
        )
    return patients.render(patient)


@bp.get("/patients")
def list_patients() -> dict[str, Any]:
    rt, ws = runtime(), workspace_id()
    args = request.args
    return patients.list_page(
        rt.store, ws, args, patient_id=args.get("patient_id"), email=args.get("email")
    )


@bp.get("/patients/<patient_id>")
def get_patient(patient_id: str) -> dict[str, Any]:
    rt, ws = runtime(), workspace_id()
    return patients.render_detail(rt.store, ws, patients.get_row(rt.store, ws, patient_id))


@bp.put("/patients/<patient_id>")
def replace_patient(patient_id: str) -> dict[str, Any]:
    body = json_body(schemas.PATIENT_REPLACE)
    if body["patient_id"] != patient_id:
        raise invalid(
            "'patient_id' in the body must equal the id in the URL (patient ids are immutable)",
            "patient_id",
        )
    rt, ws = runtime(), workspace_id()
    patient = patients.replace(
        rt.store,
        ws,
        patient_id,
        email=body.get("email"),
        name=body.get("name"),
        metadata=body.get("metadata"),
    )
    return patients.render(patient)


@bp.delete("/patients/<patient_id>")
def delete_patient(patient_id: str) -> dict[str, Any]:
    rt, ws = runtime(), workspace_id()
    patients.delete(rt.store, ws, patient_id)
    return {"id": patient_id, "resource_type": "patient", "deleted": True}


_PATIENT_ID = path_param("patient_id", "The developer's own patient id.")

OPENAPI_PATHS = {
    "/patients": {
        "post": {
            "operationId": "api.createPatient",
            "description": "Creates the patient record for your own `patient_id`; 409 when it exists. A session for an unknown `patient_id` creates the patient too.",
            "summary": "Create a patient",
            "requestBody": request_body(schemas.PATIENT_CREATE),
            "responses": {
                **ok(schemas.PATIENT, "The patient"),
                "402": error(402),
                "409": error(409),
            },
        },
        "get": {
            "operationId": "api.listPatients",
            "description": "Every patient of the workspace, newest first, paginated with `starting_after` / `ending_before` cursors.",
            "summary": "List patients, newest first",
            "parameters": [
                *LIST_PARAMS,
                query_param("patient_id", {"type": "string"}, "Exact patient id."),
                query_param("email", {"type": "string"}, "Exact email."),
            ],
            "responses": ok(schemas.list_of(schemas.PATIENT), "A page of patients"),
        },
    },
    "/patients/{patient_id}": {
        "parameters": [_PATIENT_ID],
        "get": {
            "operationId": "api.getPatient",
            "description": "The patient with every connection (active, failed attempts, refresh_failed, disconnected), most recent first.",
            "summary": "Retrieve a patient with all their connections",
            "responses": ok(schemas.PATIENT_DETAIL, "The patient"),
        },
        "put": {
            "operationId": "api.updatePatient",
            "description": "Replaces `email`, `name` and `metadata`; the body's `patient_id` must equal the URL's.",
            "summary": "Replace a patient (patient_id must equal the URL id)",
            "requestBody": request_body(schemas.PATIENT_REPLACE),
            "responses": ok(schemas.PATIENT, "The patient"),
        },
        "delete": {
            "operationId": "api.deletePatient",
            "description": "Deletes the patient, their sessions, connections (grants revoked at the portals) and records.",
            "summary": "Delete a patient and everything that belongs to them",
            "responses": ok(schemas.PATIENT_DELETED, "Tombstone"),
        },
    },
}
