"""What the hosted pages say: human labels for catalog entries, sentences for failure
codes and attempt states, the app's name and the return button's text.

Plain functions of their inputs, so the pages and their tests share one wording.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from simulator.core.sources import Source

# The catalog's `type` (an EHR vendor slug) as a patient would read it.
VENDORS = {
    "epic": "Epic MyChart",
    "cerner": "Oracle Health",
    "athena": "athenahealth",
    "eclinicalworks": "eClinicalWorks",
    "meditech": "MEDITECH",
    "nextgen": "NextGen",
    "allscripts": "Veradigm",
    "cms_bluebutton": "Medicare Blue Button",
}

# The catalog's `kind`.
KINDS = {"hospital": "Hospital", "clinic": "Clinic", "payer": "Health plan"}

# One logo per vendor family, then one per kind for a vendor without its own; the files
# live in `simulator/web/static/`.
VENDOR_LOGOS = {
    "epic": "logo-epic.svg",
    "cerner": "logo-cerner.svg",
    "athena": "logo-athena.svg",
    "eclinicalworks": "logo-eclinicalworks.svg",
    "cms_bluebutton": "logo-cms.svg",
}
KIND_LOGOS = {
    "hospital": "logo-hospital.svg",
    "clinic": "logo-clinic.svg",
    "payer": "logo-payer.svg",
}

# OAuth and flow failure codes, as the sentence the patient reads (the code stays visible).
FAILURES = {
    "access_denied": "You chose not to share your records, or the sign-in was cancelled.",
    "user_denied": "You chose not to share your records, or the sign-in was cancelled.",
    "invalid_scope": "The portal could not grant the access this app asks for.",
    "invalid_request": "The portal did not accept the sign-in request.",
    "unauthorized_client": "The portal does not allow this app to connect right now.",
    "unsupported_response_type": "The portal did not accept the sign-in request.",
    "server_error": "The portal had a problem on its side.",
    "temporarily_unavailable": "The portal is busy right now. Please try again in a few minutes.",
    "oauth_state_expired": "The sign-in took too long and timed out.",
    "oauth_callback_failed": "The portal sent back an answer that could not be used.",
    "token_exchange_failed": "You signed in, but the portal did not finish granting access.",
}
FALLBACK_FAILURE = "Connecting did not work this time."

# Why an attempt could not start (no attempt is recorded), naming the source.
START_FAILURES = {
    "portal_unavailable": "{source} cannot be reached right now. Please try again in a few minutes.",
    "registration_failed": "{source} is not accepting connections from this app right now.",
}

# An attempt's status on the completion screen.
STATUSES = {
    "active": "Connected",
    "failed": "Not connected",
    "pending": "Sign-in not finished",
    "expired": "Not connected",
    "refresh_failed": "Access lapsed",
    "disconnected": "Disconnected",
}

# Why an attempt is not connected, for the states other than `failed` (whose code says).
STATUS_REASONS = {
    "pending": "The sign-in was left before it finished.",
    "expired": "The sign-in was left before it finished, or access has run out.",
    "refresh_failed": "Access stopped working. Connect again to restore it.",
    "disconnected": "This connection was ended.",
}

# A `return_button_label` starting with one of these words is already a whole phrase
# ("Back to HealthApp", "Continue"); any other label is a name to return to.
_PHRASE_WORDS = frozenset(
    "back return go continue done finish open take close exit proceed next resume view "
    "see get".split()
)


def vendor_label(source: Source) -> str | None:
    if source.type is None:
        return None
    return VENDORS.get(source.type, source.type.replace("_", " ").title())


def source_label(source: Source) -> str:
    """ "Clinic · eClinicalWorks": the kind of place, then the system it runs."""
    kind = KINDS.get(source.kind, source.kind.replace("_", " ").capitalize())
    vendor = vendor_label(source)
    return f"{kind} · {vendor}" if vendor else kind


def logo_file(source: Source) -> str:
    return VENDOR_LOGOS.get(source.type or "") or KIND_LOGOS.get(source.kind, "logo-hospital.svg")


def failure_text(code: str | None) -> str:
    return FAILURES.get(code or "", FALLBACK_FAILURE)


def start_failure_text(code: str, source_name: str, fallback: str) -> str:
    """The error page's sentence when an attempt at `source_name` could not start."""
    sentence = START_FAILURES.get(code)
    return sentence.format(source=source_name) if sentence else fallback


def reason_text(status: str, code: str | None) -> str:
    """Why an attempt is not connected, as a sentence."""
    if status == "failed":
        return failure_text(code)
    return STATUS_REASONS.get(status, FALLBACK_FAILURE)


def status_text(status: str) -> str:
    return STATUSES.get(status, status.replace("_", " ").capitalize())


def app_name(workspace_app_name: str | None, return_url: str) -> str:
    """The workspace's app name, else the host of the return URL, else "the app"."""
    if workspace_app_name:
        return workspace_app_name
    return urlsplit(return_url).hostname or "the app"


def return_button_text(label: str | None, app: str) -> str:
    """The completion screen's button, reading naturally whatever the label says.

    No label: "Return to {app}". A label that is a phrase of its own ("Back to
    HealthApp"): the label as it is. A name ("Acme Health"): "Done — return to {label}".
    """
    label = (label or "").strip()
    if not label:
        return f"Return to {app}"
    first = label.split()[0].strip(",.:;!—-").lower()
    if first in _PHRASE_WORDS:
        return label
    return f"Done — return to {label}"
