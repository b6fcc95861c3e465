"""The Connect error envelope and the documented error catalogue.

Every non-2xx response of the Connect API and the control plane is built by
`envelope()`: `{"error": {type, code, message, param, doc_url, request_id}}`.
"""

from __future__ import annotations

from typing import Any

DOC_URL = "https://medblocks.com/docs/reference/errors"

# code -> (type, status), copied from the fact sheet.
CODES: dict[str, tuple[str, int]] = {
    "not_authenticated": ("authentication_error", 401),
    "invalid_credentials": ("authentication_error", 401),
    "session_expired": ("authentication_error", 401),
    "missing_api_key": ("authentication_error", 401),
    "invalid_api_key": ("authentication_error", 401),
    "expired_api_key": ("authentication_error", 401),
    "forbidden": ("permission_error", 403),
    "org_access_denied": ("permission_error", 403),
    "role_insufficient": ("permission_error", 403),
    "patient_access_denied": ("permission_error", 403),
    "scope_violation": ("permission_error", 403),
    "insufficient_scope": ("permission_error", 403),
    "bad_request": ("invalid_request_error", 400),
    "invalid_data": ("invalid_request_error", 400),
    "payload_too_large": ("invalid_request_error", 413),
    "invalid_image": ("invalid_request_error", 400),
    "unsupported_api_version": ("invalid_request_error", 400),
    "oauth_state_expired": ("invalid_request_error", 400),
    "resource_not_found": ("not_found_error", 404),
    "resource_conflict": ("conflict_error", 409),
    "already_linked": ("conflict_error", 409),
    "external_id_already_exists": ("conflict_error", 409),
    "throttled": ("rate_limit_error", 429),
    "quota_exceeded": ("rate_limit_error", 429),
    "api_key_limit_exceeded": ("rate_limit_error", 429),
    "feature_not_enabled": ("billing_error", 402),
    "fhir_error": ("ehr_error", 502),
    "oauth_error": ("ehr_error", 502),
    "email_error": ("ehr_error", 502),
    "token_exchange_failed": ("ehr_error", 502),
    "token_unavailable": ("ehr_error", 502),
    "storage_error": ("ehr_error", 502),
    "internal_error": ("api_error", 500),
    "db_error": ("api_error", 500),
    "config_missing": ("api_error", 500),
}


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
        self.code = code
        self.message = message
        self.param = param
        self.status = status or default_status
        self.type = type_ or default_type
        self.headers = headers or {}


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
