"""The Connect error envelope and the documented error catalogue.

Every non-2xx response of the Connect API and the control plane is built by
`envelope()`: `{"error": {type, code, message, param, doc_url, request_id}}`.
"""

from __future__ import annotations

from typing import Any

DOC_URL = "https://medblocks.com/docs/reference/errors"

# (type, code, status) of every documented code, in the fact sheet's order (36). A code
# is unique within its type: `quota_exceeded` is both a 429 `rate_limit_error` (an API
# key's quota) and a 402 `billing_error` (the plan's active patients).
CATALOGUE: tuple[tuple[str, str, int], ...] = (
    ("authentication_error", "not_authenticated", 401),
    ("authentication_error", "invalid_credentials", 401),
    ("authentication_error", "session_expired", 401),
    ("authentication_error", "missing_api_key", 401),
    ("authentication_error", "invalid_api_key", 401),
    ("authentication_error", "expired_api_key", 401),
    ("permission_error", "forbidden", 403),
    ("permission_error", "org_access_denied", 403),
    ("permission_error", "role_insufficient", 403),
    ("permission_error", "patient_access_denied", 403),
    ("permission_error", "scope_violation", 403),
    ("permission_error", "insufficient_scope", 403),
    ("invalid_request_error", "bad_request", 400),
    ("invalid_request_error", "invalid_data", 400),
    ("invalid_request_error", "payload_too_large", 413),
    ("invalid_request_error", "invalid_image", 400),
    ("invalid_request_error", "unsupported_api_version", 400),
    ("invalid_request_error", "oauth_state_expired", 400),
    ("not_found_error", "resource_not_found", 404),
    ("conflict_error", "resource_conflict", 409),
    ("conflict_error", "already_linked", 409),
    ("conflict_error", "external_id_already_exists", 409),
    ("rate_limit_error", "throttled", 429),
    ("rate_limit_error", "quota_exceeded", 429),
    ("rate_limit_error", "api_key_limit_exceeded", 429),
    ("billing_error", "feature_not_enabled", 402),
    ("billing_error", "quota_exceeded", 402),
    ("ehr_error", "fhir_error", 502),
    ("ehr_error", "oauth_error", 502),
    ("ehr_error", "email_error", 502),
    ("ehr_error", "token_exchange_failed", 502),
    ("ehr_error", "token_unavailable", 502),
    ("ehr_error", "storage_error", 502),
    ("api_error", "internal_error", 500),
    ("api_error", "db_error", 500),
    ("api_error", "config_missing", 500),
)

# code -> (type, status) of its first entry in the catalogue (a code's usual meaning).
CODES: dict[str, tuple[str, int]] = {
    code: (type_, status) for type_, code, status in reversed(CATALOGUE)
}

# (type, code) -> status: the whole catalogue, `quota_exceeded` twice.
STATUS_OF: dict[tuple[str, str], int] = {(t, c): s for t, c, s in CATALOGUE}


class ApiError(Exception):
    """An error that becomes the documented envelope with its status."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        param: str | None = None,
        status: int | None = None,
        type_: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        default_type, default_status = CODES.get(code, ("api_error", 500))
        if type_ is not None:
            default_status = STATUS_OF.get((type_, code), default_status)
        self.code = code
        self.message = message
        self.param = param
        self.status = status or default_status
        self.type = type_ or default_type
        self.headers = headers or {}


class ConnectionDrop(Exception):
    """The call gets no answer at all: the server closes the connection (a forced fault)."""


def invalid(message: str, param: str | None = None) -> ApiError:
    return ApiError("invalid_data", message, param=param)


def not_found(what: str, ident: str, param: str | None = None) -> ApiError:
    return ApiError("resource_not_found", f"No such {what}: '{ident}'", param=param)


def envelope(
    *, type_: str, code: str, message: str, param: str | None, request_id: str
) -> dict[str, Any]:
    return {
        "error": {
            "type": type_,
            "code": code,
            "message": message,
            "param": param,
            "doc_url": DOC_URL,
            "request_id": request_id,
        }
    }
