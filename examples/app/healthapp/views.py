"""HealthApp's pages: patients, connecting a portal, the return URL, the webhook receiver."""

from __future__ import annotations

import sqlite3
from collections import Counter
from typing import Any

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from healthapp import events, signatures, store
from healthapp.connect import ConnectClient, ConnectError

bp = Blueprint("healthapp", __name__)

NEEDS_PATIENT = ("failed", "expired", "refresh_failed")


def client() -> ConnectClient:
    return current_app.extensions["healthapp.connect"]


def _source_names() -> dict[str, str]:
    return {s["id"]: s["name"] for s in client().sources()}


@bp.get("/")
def index() -> str:
    return render_template("index.html")


@bp.post("/patients")
def create_patient() -> Response:
    patient_id = request.form.get("patient_id", "").strip()
    if not patient_id:
        abort(400, "patient_id is required")
    try:
        client().create_patient(patient_id, request.form.get("name"), request.form.get("email"))
    except ConnectError as exc:
        if exc.code != "external_id_already_exists":  # an existing patient is fine
            raise
    return redirect(url_for("healthapp.patient_page", patient_id=patient_id), 303)


def patient_summary(patient_id: str) -> dict[str, Any]:
    """Connection status and records of a patient, as Connect reports them now."""
    try:
        patient = client().patient(patient_id)
    except ConnectError as exc:
        if exc.status == 404:
            abort(404)
        raise
    names = _source_names()
    connections = [
        {
            "id": c["id"],
            "source": names.get(c["connection_id"], c["connection_id"]),
            "status": c["status"],
            "failure_code": c["failure_code"],
        }
        for c in patient["connections"]
    ]
    for row in store.sessions_of(patient_id):  # an open link may have expired since
        if row["status"] == "open":
            store.set_session(row["id"], client().session(row["id"])["status"])
    page = client().records(patient_id)
    types = Counter(item["resource"]["resourceType"] for item in page["data"])
    newest_by_source: dict[str, str] = {}
    for c in patient["connections"]:  # most recent first: the first seen is the current one
        newest_by_source.setdefault(c["connection_id"], c["status"])
    return {
        "patient_id": patient_id,
        "name": patient["name"],
        "connections": connections,
        "connected": sorted(
            names.get(s, s) for s, st in newest_by_source.items() if st == "active"
        ),
        "reconnect": sorted(
            names.get(s, s) for s, st in newest_by_source.items() if st in ("refresh_failed",)
        ),
        "records": {"count": len(page["data"]), "more": page["has_more"], "types": dict(types)},
        "events": [row["type"] for row in store.events_of(patient_id)],
        "sessions": [dict(row) for row in store.sessions_of(patient_id)],
    }


@bp.get("/patients/<patient_id>")
def patient_page(patient_id: str) -> str:
    return render_template(
        "patient.html", summary=patient_summary(patient_id), sources=client().sources()
    )


@bp.get("/patients/<patient_id>/status")
def patient_status(patient_id: str) -> dict[str, Any]:
    return patient_summary(patient_id)


@bp.post("/patients/<patient_id>/sessions")
def start_session(patient_id: str) -> Response:
    """Send the patient to Connect: the picker, or straight to one portal (Direct mode)."""
    source_id = request.form.get("source") or None
    return_url = current_app.config["PUBLIC_URL"].rstrip("/") + url_for("healthapp.returned")
    session = client().create_session(patient_id, return_url, source_id)
    store.add_session(session["id"], patient_id, "direct" if source_id else "picker", source_id)
    return redirect(session["url"], 303)


@bp.get("/return")
def returned() -> tuple[str, int] | str:
    """Where Connect sends the patient back. The query is a hand-off, not proof: the
    outcome shown is what `GET /patient-sessions/{id}` says."""
    patient_id = request.args.get("patient_id")
    session_id = request.args.get("patient_session_id")
    ours = store.get_session(session_id) if session_id else None
    if ours is None or ours["patient_id"] != patient_id:
        return render_template("return.html", outcome="invalid"), 400
    session = client().session(session_id)
    attempts = session["connections"]
    for item in attempts:
        store.upsert_connection(item, patient_id)
    names = _source_names()
    error = None
    if "success" in request.args:  # Direct mode
        active = any(
            c["status"] == "active" and c["connection_id"] == ours["source_id"] for c in attempts
        )
        if request.args["success"] == "true":
            outcome = "connected" if active else "unconfirmed"
        else:
            error = request.args.get("error", "unknown")
            outcome = "declined" if error == "user_denied" else "failed"
        connected = [names.get(ours["source_id"], ours["source_id"])] if active else []
    else:  # Picker mode: no success flag; the session lists every attempt
        connected = [
            names.get(c["connection_id"], "?") for c in attempts if c["status"] == "active"
        ]
        failures = [c["failure_code"] for c in attempts if c["status"] in NEEDS_PATIENT]
        outcome = "connected" if connected else ("failed" if failures else "nothing")
        error = failures[0] if failures and not connected else None
    store.set_session(session_id, session["status"], outcome)
    return render_template(
        "return.html",
        outcome=outcome,
        error=error,
        connected=connected,
        patient_id=patient_id,
        session_status=session["status"],
    )


@bp.post("/webhooks")
def webhook() -> tuple[dict[str, Any], int]:
    """Verify the signature over the raw body, store the event once, answer 2xx.

    A storage failure answers 500, so Connect delivers the event again later."""
    raw = request.get_data()
    try:
        secret = store.get_setting("webhook_secret") or current_app.config["WEBHOOK_SECRET"]
        if not secret:
            return {"error": "webhook secret not configured"}, 503
        try:
            event = signatures.verify(
                raw,
                request.headers.get("Medblocks-Signature"),
                secret,
                now=current_app.config["CLOCK"],
            )
        except signatures.SignatureError as exc:
            return {"error": exc.reason}, 400
        first_time = events.handle(event)
    except sqlite3.Error:
        current_app.logger.exception("storing webhook")
        return {"error": "storage unavailable, retry later"}, 500
    return {"received": True, "duplicate": not first_time}, 200


@bp.errorhandler(ConnectError)
def connect_failed(exc: ConnectError) -> tuple[str, int]:
    current_app.logger.warning("Connect call failed: %s (request %s)", exc, exc.request_id)
    return render_template("error.html", error=exc), 502
