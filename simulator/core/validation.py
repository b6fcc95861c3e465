"""Request validation against the JSON Schemas, with Connect-style error messages."""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

from simulator.core.errors import ApiError, invalid
from simulator.core.timeutil import parse_iso

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

FORMATS = FormatChecker(formats=())


@FORMATS.checks("email")
def _is_email(value: object) -> bool:
    return not isinstance(value, str) or bool(EMAIL_RE.match(value)) and len(value) <= 320


@FORMATS.checks("uri")
def _is_uri(value: object) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return bool(parts.scheme and parts.netloc) and " " not in value


@FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    if isinstance(value, str):
        parse_iso(value)
    return True


# A schema names the keywords that only a strict workspace enforces in `x-strict`
# (unknown fields where the provider's schema allows them, the simulator's own limits).
STRICT_ONLY = "x-strict"


def lenient(schema: Any) -> Any:
    """`schema` without its strict-only keywords: what the provider's schema says."""
    if isinstance(schema, list):
        return [lenient(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    dropped = set(schema.get(STRICT_ONLY, ()))
    return {key: lenient(value) for key, value in schema.items() if key not in dropped}


_validators: dict[tuple[int, bool], tuple[dict[str, Any], Draft202012Validator]] = {}


def _validator(schema: dict[str, Any], strict: bool) -> Draft202012Validator:
    key = (id(schema), strict)
    if key not in _validators:  # the schema is kept with it, so its id stays its own
        used = schema if strict else lenient(schema)
        _validators[key] = (schema, Draft202012Validator(used, format_checker=FORMATS))
    return _validators[key][1]


_TYPE_WORDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "object": "an object",
    "array": "an array",
    "boolean": "a boolean",
    "null": "null",
}


def _describe_type(expected: str | list[str]) -> str:
    kinds = [expected] if isinstance(expected, str) else list(expected)
    return " or ".join(_TYPE_WORDS.get(k, k) for k in kinds)


def _param(error: ValidationError) -> str | None:
    parts = [str(p) for p in error.absolute_path]
    return ".".join(parts) if parts else None


def _message(error: ValidationError) -> tuple[str, str | None]:
    param = _param(error)
    name = f"'{param}'" if param else "The request body"
    kind = error.validator
    value = error.validator_value
    # A schema may say in words what its `pattern` or `not` means (`x-message`, with
    # `{name}` for the field); `x-param` names the field a `not` is about.
    explained = value if kind == "not" and isinstance(value, dict) else error.schema
    if kind in ("pattern", "not") and isinstance(explained, dict) and "x-message" in explained:
        param = ".".join(filter(None, [param, explained.get("x-param")])) or None
        name = f"'{param}'" if param else "The request body"
        return explained["x-message"].format(name=name), param
    if kind == "additionalProperties":
        allowed = set(error.schema.get("properties", {}))
        extra = sorted(k for k in error.instance if k not in allowed)
        field = ".".join(filter(None, [param, extra[0] if extra else None]))
        return f"Unknown field '{field}'", field or None
    if kind == "required":
        missing = [k for k in value if k not in error.instance]
        field = ".".join(filter(None, [param, missing[0] if missing else None]))
        return f"Missing required field '{field}'", field or None
    if kind == "type":
        return f"{name} must be {_describe_type(value)}", param
    if kind in ("minimum", "maximum"):
        lo = error.schema.get("minimum")
        hi = error.schema.get("maximum")
        if lo is not None and hi is not None:
            return f"{name} must be between {lo} and {hi}", param
        return f"{name} must be {'at least' if kind == 'minimum' else 'at most'} {value}", param
    if kind in ("minLength", "maxLength"):
        lo = error.schema.get("minLength")
        hi = error.schema.get("maxLength")
        if lo is not None and hi is not None:
            return f"{name} must be between {lo} and {hi} characters long", param
        if kind == "minLength":
            return f"{name} must be at least {value} characters long", param
        return f"{name} must be at most {value} characters long", param
    if kind in ("minItems", "maxItems"):
        lo = error.schema.get("minItems")
        hi = error.schema.get("maxItems")
        if lo is not None and hi is not None:
            return f"{name} must have between {lo} and {hi} items", param
        word = "at least" if kind == "minItems" else "at most"
        return f"{name} must have {word} {value} items", param
    if kind in ("enum", "const"):
        options = value if kind == "enum" else [value]
        shown = ", ".join(repr(o) for o in options)
        return f"{name} must be one of {shown}", param
    if kind == "format":
        what = {
            "email": "a valid email address",
            "uri": "an absolute URL",
            "date-time": "an ISO 8601 date-time",
        }.get(value, value)
        return f"{name} must be {what}", param
    if kind == "pattern":
        return f"{name} has an invalid format", param
    return f"{name} is invalid: {error.message}", param


def _sort_key(error: ValidationError) -> tuple:
    # Report unknown and missing fields first, then the first offending field by name.
    rank = {"additionalProperties": 0, "required": 1}.get(str(error.validator), 2)
    return (rank, [str(p) for p in error.absolute_path], str(error.validator))


def validate(body: Any, schema: dict[str, Any], *, strict: bool = True) -> dict[str, Any]:
    """Validate a decoded JSON body; raise the documented 400 on the first problem.

    Not `strict`: the keywords the schema lists in `x-strict` are not checked.
    """
    if not isinstance(body, dict):
        raise ApiError("bad_request", "The request body must be a JSON object")
    errors = sorted(_validator(schema, strict).iter_errors(body), key=_sort_key)
    if errors:
        message, param = _message(errors[0])
        raise invalid(message, param)
    return body


# Characters on which URL parsers disagree: a browser reads `\\` as `/`, `requests`
# (urllib3) ends the host there, `urllib.parse` does not.
_AMBIGUOUS = re.compile(r"[\\\s\x00-\x1f\x7f]")


def url_host(value: str) -> str | None:
    """The host an http(s) URL is really sent to, or None when clients would disagree.

    The host is checked as `requests` (urllib3) will parse it, and it must be the
    host `urllib.parse` sees too, so a check on one cannot be passed with a URL
    the other sends elsewhere (`http://evil.example\\@localhost/`).
    """
    if _AMBIGUOUS.search(value):
        return None
    parts = urlsplit(value)
    try:
        sent_to = parse_url(value).host
    except (LocationParseError, ValueError):
        return None
    if not parts.hostname or sent_to is None:
        return None
    if sent_to.lower().strip("[]") != parts.hostname.lower():
        return None
    return parts.hostname


def check_return_url(value: str, param: str = "return_url") -> str:
    """An absolute http(s) URL; https unless the host is localhost or a loopback address."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or not parts.hostname:
        raise invalid(f"'{param}' must be an absolute http or https URL", param)
    if url_host(value) is None:
        raise invalid(ambiguous_url(param), param)
    if parts.scheme == "http" and not is_local_host(parts.hostname):
        raise invalid(f"'{param}' must use https (http is allowed for localhost only)", param)
    if parts.fragment:
        raise invalid(f"'{param}' must not contain a fragment", param)
    return value


def ambiguous_url(param: str) -> str:
    return (
        f"'{param}' is not a URL every client reads the same way"
        " (backslashes, spaces and control characters are not allowed)"
    )


def is_local_host(host: str) -> bool:
    """`localhost`, a `*.localhost` name, or a loopback IP address (127.0.0.0/8, ::1)."""
    host = host.lower().strip("[]").rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
