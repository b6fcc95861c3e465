"""The OpenAPI 3.1 document of the simulator, built from the blueprints themselves.

Every blueprint module declares `OPENAPI_PATHS`: OpenAPI path items keyed by
path in OpenAPI syntax (`/patients/{id}`). `build(app)` collects them from
every module that registered a blueprint or a view on the app, then:

- hoists shared JSON Schemas into `components/schemas` (recognised by object
  identity: the object schemas of `simulator/schemas.py` and of any
  `simulator/*/schemas.py`, plus any module's `OPENAPI_SCHEMAS` name table)
  and points at them with `$ref`s;
- adds the error envelope responses each operation can give (400, 401, 403, 404,
  413, 429, 500, 502 as relevant; an operation's own entry wins), the
  `X-Request-Id` header on every response, the Bearer security scheme, the
  optional `Version` header on the Connect API, and any path parameter a
  declaration left out.

An operation is public when it declares `"security": []`; every other one
needs the Bearer API key. Paths under `/_sim` are the control plane.

The helpers at the bottom (`error`, `query_param`, `LIST_PARAMS`) and those of
`simulator.core.webkit` it passes on (`ok`, `request_body`, `path_param`, `PUBLIC`,
shared with the portals' control plane) keep the declarations short.
"""

from __future__ import annotations

import copy
import re
import sys
from collections.abc import Iterable, Mapping
from types import ModuleType
from typing import Any

from flask import Flask

from simulator.core.errors import CATALOGUE
from simulator.core.validation import lenient
from simulator.core.webkit import PUBLIC as PUBLIC  # passed on to the declaring modules
from simulator.core.webkit import RUNTIME_KEY, path_param
from simulator.core.webkit import ok as ok
from simulator.core.webkit import request_body as request_body
from simulator.web import schemas

API_VERSION = "2026-04-25"
OPENAPI_VERSION = "3.1.0"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
CONTROL_PREFIX = "/_sim"
EXTENSION_KEY = "connect_sim_openapi"

# Names of the shared schemas in components/schemas (the provider's names where it has them).
SCHEMA_NAMES: dict[str, str] = {
    "PATIENT_CREATE": "PatientCreateInput",
    "PATIENT_REPLACE": "PatientReplaceInput",
    "PATIENT_SESSION_INIT": "PatientSessionInitInput",
    "PATIENT": "Patient",
    "PATIENT_CONNECTION": "PatientConnection",
    "PATIENT_DETAIL": "PatientDetail",
    "PATIENT_DELETED": "PatientDeleted",
    "SESSION_CONNECTION": "PatientSessionConnection",
    "PATIENT_SESSION": "PatientSession",
    "FHIR_SOURCE": "FhirSource",
    "ERROR": "Error",
    "HEALTH": "Health",
    "CLOCK_STATE": "ClockState",
    "CLOCK_RESULT": "ClockResult",
    "WORKSPACE_CREATE": "WorkspaceCreateInput",
    "WORKSPACE": "Workspace",
    "WORKSPACE_INFO": "WorkspaceInfo",
    "CLOCK_ADVANCE": "ClockAdvanceInput",
    "CLOCK_SET": "ClockSetInput",
    "CLOCK_RUN_UNTIL_IDLE": "ClockRunUntilIdleInput",
    "CLOCK_MODE": "ClockModeInput",
}

_STATUS_TEXT = {
    400: "Invalid request: malformed JSON, a field that fails validation, an unknown field, "
    "a bad query parameter or cursor, or an unsupported `Version`",
    401: "Missing, invalid, revoked or expired API key",
    402: "The workspace's plan does not cover the request (its active-patient quota)",
    403: "The API key may not do this (a read-only key on an operation that changes data)",
    404: "No such object in the caller's workspace (or no such route)",
    409: "Conflict with the current state",
    413: "Request body over 1 MB",
    429: "Rate limited; `Retry-After` tells when to try again",
    500: "Unexpected error; the request id identifies it",
    502: "The upstream EHR, OAuth or storage call failed",
    503: "The simulator's database is unusable (corrupt, truncated, or deleted while serving)",
}
_RESPONSE_NAMES = {
    400: "BadRequest",
    401: "Unauthorized",
    402: "PaymentRequired",
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    413: "PayloadTooLarge",
    429: "TooManyRequests",
    500: "InternalError",
    502: "UpstreamError",
    503: "Unavailable",
}


class OpenApiError(ValueError):
    """Two declarations disagree (same operation twice, one name for two schemas...)."""


# -- collecting -------------------------------------------------------------------


def declaring_modules(app: Flask) -> list[ModuleType]:
    """Modules that registered a blueprint or a view function on `app`, in a stable order."""
    names: list[str] = []
    for bp in app.blueprints.values():
        names.append(bp.import_name)
    for endpoint, view in app.view_functions.items():
        if endpoint != "static":
            names.append(getattr(view, "__module__", "") or "")
    seen: list[ModuleType] = []
    for name in dict.fromkeys(names):
        module = sys.modules.get(name)
        if module is not None and module not in seen:
            seen.append(module)
    return seen


def collect_paths(modules: Iterable[ModuleType]) -> dict[str, dict[str, Any]]:
    """Merge every module's `OPENAPI_PATHS`; one operation may be declared only once."""
    paths: dict[str, dict[str, Any]] = {}
    owners: dict[tuple[str, str], str] = {}
    for module in modules:
        declared = getattr(module, "OPENAPI_PATHS", None)
        if not isinstance(declared, Mapping):
            continue
        for path, item in declared.items():
            target = paths.setdefault(path, {})
            for key, value in item.items():
                if key in METHODS:
                    owner = owners.get((path, key))
                    if owner is not None:
                        raise OpenApiError(
                            f"{key.upper()} {path} is declared by both {owner} and {module.__name__}"
                        )
                    owners[(path, key)] = module.__name__
                    target[key] = value
                elif key == "parameters":
                    target.setdefault("parameters", []).extend(value)
                else:
                    target.setdefault(key, value)
    return dict(sorted(paths.items()))


_CONSTANT = re.compile(r"^[A-Z][A-Z0-9_]*$")


def _pascal(constant: str) -> str:
    return "".join(part.capitalize() for part in constant.split("_"))


def schema_modules() -> list[ModuleType]:
    """`simulator.schemas` and every loaded `simulator.<package>.schemas` module."""
    found = [schemas]
    for name in sorted(sys.modules):
        if name.startswith("simulator.") and name.endswith(".schemas") and name != schemas.__name__:
            module = sys.modules[name]
            if module is not None:
                found.append(module)
    return found


def schema_table(modules: Iterable[ModuleType]) -> dict[int, tuple[str, dict[str, Any]]]:
    """Shared schemas by object identity.

    The object schemas (upper-case constants with `"type": "object"`) of
    `simulator.schemas` and of any `simulator.*.schemas` module, named by
    `SCHEMA_NAMES` or in PascalCase, plus each module's `OPENAPI_SCHEMAS`.
    """
    table: dict[int, tuple[str, dict[str, Any]]] = {}
    by_name: dict[str, int] = {}

    def add(name: str, schema: Any) -> None:
        if not isinstance(schema, dict):
            return
        if name in by_name and by_name[name] != id(schema):
            raise OpenApiError(f"Two different schemas are named '{name}'")
        by_name[name] = id(schema)
        table.setdefault(id(schema), (name, schema))

    for attr, name in SCHEMA_NAMES.items():
        add(name, getattr(schemas, attr, None))
    for module in schema_modules():
        for attr, value in vars(module).items():
            if _CONSTANT.match(attr) and isinstance(value, dict) and value.get("type") == "object":
                if id(value) not in table:
                    add(SCHEMA_NAMES.get(attr) or _pascal(attr), value)
    for module in modules:
        for name, schema in (getattr(module, "OPENAPI_SCHEMAS", None) or {}).items():
            add(name, schema)
    return table


# -- building ---------------------------------------------------------------------------


def _hoist(node: Any, table: dict[int, tuple[str, dict[str, Any]]], used: set[str]) -> Any:
    """A deep copy of `node` with every shared schema replaced by a `$ref`."""
    if isinstance(node, dict):
        hit = table.get(id(node))
        if hit is not None:
            used.add(hit[0])
            return {"$ref": f"#/components/schemas/{hit[0]}"}
        return {k: _hoist(v, table, used) for k, v in node.items()}
    if isinstance(node, list):
        return [_hoist(v, table, used) for v in node]
    return copy.deepcopy(node)


def _components_schemas(
    table: dict[int, tuple[str, dict[str, Any]]], used: set[str]
) -> dict[str, Any]:
    """Every shared schema that is used, each written with `$ref`s to the others."""
    by_name = {name: schema for name, schema in table.values()}
    out: dict[str, Any] = {}
    pending = sorted(used)
    while pending:
        name = pending.pop()
        if name in out:
            continue
        schema = by_name[name]
        inner: set[str] = set()
        out[name] = {k: _hoist(v, table, inner) for k, v in schema.items()}
        pending.extend(n for n in inner if n not in out)
    return dict(sorted(out.items()))


def _error_schema(status: int) -> dict[str, Any]:
    """The envelope, narrowed to the types and codes the catalogue gives this status."""
    types = sorted({t for t, _, s in CATALOGUE if s == status})
    codes = sorted({c for _, c, s in CATALOGUE if s == status})
    narrowed: dict[str, Any] = {"type": "object"}
    if types:
        narrowed["properties"] = {
            "error": {
                "type": "object",
                "properties": {"type": {"enum": types}, "code": {"enum": codes}},
            }
        }
    return {"allOf": [{"$ref": "#/components/schemas/Error"}, narrowed]}


def _error_responses() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for status, name in _RESPONSE_NAMES.items():
        headers: dict[str, Any] = {"X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"}}
        if status == 429:
            headers["Retry-After"] = {
                "description": "Whole seconds to wait before retrying (at least 1).",
                "schema": {"type": "integer", "minimum": 1},
            }
        out[name] = {
            "description": _STATUS_TEXT[status],
            "headers": headers,
            "content": {"application/json": {"schema": _error_schema(status)}},
        }
    return out


# What a path parameter names, by the collection before it, for declarations that leave
# the description out (every input field of the document has one).
PATH_PARAM_TEXT = {
    "connections": "The connection's `conn_` id",
    "events": "The event occurrence's id (from GET /_sim/events)",
    "inboxes": "The inbox's id",
    "patient-sessions": "The session's id (`ps_…`, or an alias generation's `sess_…`/`pf_…`)",
    "patients": "Your app's patient id",
    "webhooks": "The webhook endpoint's id",
    "launch-contexts": "The launch context's id",
    "portals": "The mock portal's slug, e.g. `summit-epic`",
    "faults": "The fault's id",
}


def _describe_path_params(path: str, params: list[dict[str, Any]]) -> None:
    segments = path.strip("/").split("/")
    for param in params:
        if param.get("in") != "path" or param.get("description"):
            continue
        placeholder = "{" + str(param.get("name")) + "}"
        if placeholder in segments and segments.index(placeholder) > 0:
            collection = segments[segments.index(placeholder) - 1]
            if collection in PATH_PARAM_TEXT:
                param["description"] = PATH_PARAM_TEXT[collection]


def _path_params(path: str) -> list[str]:
    return re.findall(r"{([^}]+)}", path)


def _empty_allowed(param: dict[str, Any]) -> dict[str, Any]:
    """A Connect API query parameter: an empty value (`?limit=`) means the parameter is absent.

    That is OpenAPI's `allowEmptyValue` ("a zero-length value in place of a parameter
    that would otherwise be omitted"); the schema describes the non-empty values.
    """
    if param.get("in") != "query":
        return param
    return {**param, "allowEmptyValue": True}


def _complete_operation(path: str, item: dict[str, Any], op: dict[str, Any]) -> None:
    public = op.get("security") == []
    control = path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/")
    params = op.setdefault("parameters", [])
    declared = {(p.get("in"), p.get("name")) for p in [*item.get("parameters", []), *params]}
    for name in _path_params(path):
        if ("path", name) not in declared:
            params.append(path_param(name))
    if not public and not control and ("header", "Version") not in declared:
        params.append({"$ref": "#/components/parameters/Version"})
    if not public and not control:
        params[:] = [_empty_allowed(param) for param in params]
    _describe_path_params(path, [*item.get("parameters", []), *params])
    if not params:
        del op["parameters"]
    op.setdefault("tags", ["Control plane" if control else "Connect API"])

    responses = op.setdefault("responses", {})
    statuses = [500]
    has_input = bool(params) or "requestBody" in op or bool(item.get("parameters"))
    if not public:
        statuses += [400, 401, 404, 429]
        if not control:
            statuses += [403, 502]
    elif has_input:
        statuses.append(400)
    if "requestBody" in op:
        statuses += [400, 413]
    for status in sorted(set(statuses)):
        responses.setdefault(
            str(status), {"$ref": f"#/components/responses/{_RESPONSE_NAMES[status]}"}
        )
    for response in responses.values():
        if "$ref" not in response:
            response.setdefault("headers", {}).setdefault(
                "X-Request-Id", {"$ref": "#/components/headers/X-Request-Id"}
            )
    op["responses"] = dict(sorted(responses.items()))


def build_document(
    modules: Iterable[ModuleType], *, server_url: str | None = None
) -> dict[str, Any]:
    """The OpenAPI document of the given declaring modules."""
    modules = list(modules)
    table = schema_table(modules)
    used: set[str] = {"Error"}
    paths = _hoist(collect_paths(modules), table, used)
    for path, item in paths.items():
        for method in METHODS:
            if method in item:
                _complete_operation(path, item, item[method])
    operation_ids: dict[str, str] = {}
    for path, item in paths.items():
        for method in METHODS:
            op_id = item.get(method, {}).get("operationId")
            if op_id is None:
                continue
            if op_id in operation_ids:
                raise OpenApiError(
                    f"operationId '{op_id}' is used by {operation_ids[op_id]} and"
                    f" {method.upper()} {path}"
                )
            operation_ids[op_id] = f"{method.upper()} {path}"
    doc: dict[str, Any] = {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Medblocks Connect simulator",
            "version": API_VERSION,
            "description": "The Medblocks Connect patient-access API as served by the "
            "simulator, plus its control plane under `/_sim` (workspaces, the virtual "
            "clock and everything else the real service lacks). Every response carries "
            "`X-Request-Id`; every error is the envelope "
            "`{error: {type, code, message, param, doc_url, request_id}}`. A workspace "
            "speaks one naming generation (`naming`: `C`, the provider's document, by "
            "default; the deprecated `B` and `A` paths are served only by workspaces made "
            "with that `naming`) and follows the provider's schemas unless made `strict` "
            "(then the keywords listed in `x-strict` are enforced too).",
        },
        "tags": [
            {"name": "Connect API", "description": "What the real service exposes."},
            {"name": "Control plane", "description": "Simulator controls under `/_sim`."},
            {
                "name": "Hosted pages",
                "description": "The patient's HTML pages behind a session's `url`, and the "
                "portals' redirect back.",
            },
            {"name": "Reference", "description": "This document as a web page."},
        ],
        "paths": paths,
        "components": {
            "schemas": _components_schemas(table, used),
            "responses": _error_responses(),
            "parameters": {
                "Version": {
                    "name": "Version",
                    "in": "header",
                    "required": False,
                    "description": "API version; only `2026-04-25` is supported "
                    "(anything else is 400 `unsupported_api_version`).",
                    "schema": {"type": "string", "enum": [API_VERSION]},
                }
            },
            "headers": {
                "X-Request-Id": {
                    "description": "Identifies the request; equals `error.request_id`.",
                    "schema": {"type": "string"},
                }
            },
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A workspace's API key (`mb_sk_sbx_…`).",
                }
            },
        },
        "security": [{"apiKey": []}],
    }
    if server_url:
        doc["servers"] = [{"url": server_url}]
    # A workspace follows the provider's schemas unless it is strict; `x-strict` still
    # names what a strict workspace checks besides.
    return lenient(doc)


def build(app: Flask) -> dict[str, Any]:
    """The document of everything `app` serves (built once per app)."""
    cached = app.extensions.get(EXTENSION_KEY)
    if cached is None:
        rt = app.extensions.get(RUNTIME_KEY)
        cached = build_document(
            declaring_modules(app), server_url=getattr(rt, "base_url", None) or None
        )
        app.extensions[EXTENSION_KEY] = cached
    return cached


def flask_path(rule: str) -> str:
    """A Werkzeug rule (`/patients/<patient_id>`) in OpenAPI syntax (`/patients/{patient_id}`)."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


# -- helpers for declarations -------------------------------------------------------------


def error(status: int) -> dict[str, Any]:
    """The envelope response for `status` (for statuses not added by default, e.g. 409)."""
    return {"$ref": f"#/components/responses/{_RESPONSE_NAMES[status]}"}


def query_param(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


LIST_PARAMS: list[dict[str, Any]] = [
    query_param(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
        "Page size, 1-100.",
    ),
    query_param(
        "starting_after",
        {"type": "string", "minLength": 1},
        "The `next_cursor` of the previous page of the same list.",
    ),
]
