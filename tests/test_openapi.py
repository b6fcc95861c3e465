"""The OpenAPI document: valid 3.1, documents every route, and real responses match it."""

from __future__ import annotations

import json
import re
import types
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_spec

from simulator.testing import Api, Sim
from simulator.web import openapi

HTTP_METHODS = {"get", "put", "post", "delete", "patch"}
RETURN_URL = "https://app.example/done"


def app_of(sim: Sim):
    return sim.wsgi.app  # the simulator's Flask app inside the portal dispatcher


@pytest.fixture
def doc(sim: Sim) -> dict[str, Any]:
    resp = sim.client.get("/openapi.json")
    assert resp.status_code == 200
    return resp.json


def operations(doc: dict[str, Any]):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in HTTP_METHODS:
                yield path, method, op


def normalize(path: str) -> str:
    return re.sub(r"{[^}]+}", "{}", path)


def pointer(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def resolve(doc: dict[str, Any], node: Any) -> Any:
    """`node` with every local `$ref` replaced by what it points at."""
    if isinstance(node, dict):
        if set(node) == {"$ref"}:
            return resolve(doc, pointer(doc, node["$ref"]))
        return {k: resolve(doc, v) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve(doc, v) for v in node]
    return node


def all_refs(node: Any):
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from all_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from all_refs(value)


# -- (a) a valid OpenAPI 3.1 document -----------------------------------------------------------

KEY_PARTS = {
    "type": "object",
    "required": ["openapi", "info", "paths", "components", "security"],
    "properties": {
        "openapi": {"type": "string", "pattern": r"^3\.1\.\d+$"},
        "info": {
            "type": "object",
            "required": ["title", "version"],
            "properties": {"version": {"const": "2026-04-25"}},
        },
        "paths": {
            "type": "object",
            "minProperties": 10,
            "propertyNames": {"pattern": "^/"},
            "additionalProperties": {
                "type": "object",
                "properties": {
                    m: {
                        "type": "object",
                        "required": ["operationId", "summary", "responses"],
                        "properties": {
                            "responses": {
                                "type": "object",
                                "minProperties": 1,
                                "propertyNames": {"pattern": "^[1-5][0-9][0-9]$|^default$"},
                            }
                        },
                    }
                    for m in HTTP_METHODS
                },
            },
        },
        "components": {
            "type": "object",
            "required": ["schemas", "responses", "securitySchemes"],
            "properties": {
                "securitySchemes": {
                    "type": "object",
                    "required": ["apiKey"],
                    "properties": {
                        "apiKey": {
                            "type": "object",
                            "properties": {
                                "type": {"const": "http"},
                                "scheme": {"const": "bearer"},
                            },
                        }
                    },
                }
            },
        },
        "security": {"const": [{"apiKey": []}]},
    },
}


def test_document_is_valid_openapi_3_1(doc: dict[str, Any]) -> None:
    validate_spec(doc)  # raises with the offending part
    errors = sorted(Draft202012Validator(KEY_PARTS).iter_errors(doc), key=str)
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]


def test_every_ref_resolves_and_every_schema_is_valid_json_schema(doc: dict[str, Any]) -> None:
    for ref in set(all_refs(doc)):
        pointer(doc, ref)
    for name, schema in doc["components"]["schemas"].items():
        Draft202012Validator.check_schema(resolve(doc, schema)), name
    for path, method, op in operations(doc):
        for status, response in op["responses"].items():
            response = resolve(doc, response)
            for media in response.get("content", {}).values():
                Draft202012Validator.check_schema(media["schema"])
            assert "X-Request-Id" in response.get("headers", {}), (method, path, status)


def test_operation_ids_are_unique(doc: dict[str, Any]) -> None:
    ids = [op["operationId"] for _, _, op in operations(doc)]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


def test_security_and_errors_per_operation(doc: dict[str, Any]) -> None:
    public = {(p, m) for p, m, op in operations(doc) if op.get("security") == []}
    assert {("/health", "get"), ("/openapi.json", "get"), ("/_sim/workspaces", "post")} <= public
    for path, method, op in operations(doc):
        if (path, method) in public:
            continue
        assert {"401", "404", "429", "500"} <= set(op["responses"]), (method, path)
        connect_api = not path.startswith("/_sim")
        has_version = any(p.get("$ref", "").endswith("/Version") for p in op.get("parameters", []))
        assert has_version == connect_api, (method, path)
        if "requestBody" in op:
            assert {"400", "413"} <= set(op["responses"]), (method, path)
    assert "409" in doc["paths"]["/patients"]["post"]["responses"]


def test_shared_schemas_are_hoisted(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    for name in (
        "Patient",
        "PatientDetail",
        "PatientSession",
        "FhirSource",
        "Error",
        "ClockResult",
    ):
        assert name in schemas
    post = doc["paths"]["/patients"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PatientCreateInput"
    }
    text = json.dumps(doc["paths"])
    assert '"patient_session_id"' not in text  # PatientConnection is only in components
    assert doc["info"]["version"] == "2026-04-25"


def test_served_document_is_the_built_one(sim: Sim, doc: dict[str, Any]) -> None:
    assert doc == json.loads(json.dumps(openapi.build(app_of(sim))))
    assert doc["servers"] == [{"url": sim.base_url}]


# -- (b) every route is documented ---------------------------------------------------------------


def routes(sim: Sim) -> set[tuple[str, str]]:
    found = set()
    for rule in app_of(sim).url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            found.add((method.lower(), openapi.flask_path(rule.rule)))
    return found


def test_every_route_is_documented(sim: Sim, doc: dict[str, Any]) -> None:
    documented = {(m, normalize(p)) for p, m, _ in operations(doc)}
    missing = sorted(
        f"{m.upper()} {path}" for m, path in routes(sim) if (m, normalize(path)) not in documented
    )
    assert not missing, "undocumented routes (add them to their module's OPENAPI_PATHS): " + (
        ", ".join(missing)
    )


def test_every_documented_operation_exists(sim: Sim, doc: dict[str, Any]) -> None:
    served = {(m, normalize(p)) for m, p in routes(sim)}
    phantom = sorted(
        f"{m.upper()} {p}" for p, m, _ in operations(doc) if (m, normalize(p)) not in served
    )
    assert not phantom, "documented but not served: " + ", ".join(phantom)


# -- the generator itself -------------------------------------------------------------------------


def module(name: str, **attrs: Any) -> types.ModuleType:
    mod = types.ModuleType(name)
    for key, value in attrs.items():
        setattr(mod, key, value)
    return mod


def test_generator_refuses_one_operation_declared_twice() -> None:
    op = {"operationId": "x", "summary": "x", "responses": openapi.ok({"type": "object"})}
    one = module("one", OPENAPI_PATHS={"/x": {"get": op}})
    two = module("two", OPENAPI_PATHS={"/x": {"get": {**op, "operationId": "y"}}})
    with pytest.raises(openapi.OpenApiError, match="GET /x is declared by both one and two"):
        openapi.build_document([one, two])


def test_generator_merges_methods_adds_path_params_and_hoists_module_schemas() -> None:
    thing = {"type": "object", "properties": {"id": {"type": "string"}}}
    get = {"operationId": "getThing", "summary": "g", "responses": openapi.ok(thing)}
    delete = {"operationId": "delThing", "summary": "d", "responses": openapi.ok(thing)}
    built = openapi.build_document(
        [
            module(
                "a", OPENAPI_PATHS={"/things/{id}": {"get": get}}, OPENAPI_SCHEMAS={"Thing": thing}
            ),
            module("b", OPENAPI_PATHS={"/things/{id}": {"delete": delete}}),
        ]
    )
    validate_spec(built)
    item = built["paths"]["/things/{id}"]
    assert set(item) == {"get", "delete"}
    assert {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}} in item[
        "get"
    ]["parameters"]
    assert item["delete"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Thing"
    }
    assert built["components"]["schemas"]["Thing"] == thing


def test_generator_refuses_one_name_for_two_schemas() -> None:
    one = module("one", OPENAPI_SCHEMAS={"Patient": {"type": "object"}})
    with pytest.raises(openapi.OpenApiError, match="Patient"):
        openapi.build_document([one])


# -- (c) real responses match the documented schemas -----------------------------------------------


FOUNDATION_OPERATIONS = {
    "api.health",
    "sim.openapi",
    "api.createPatient",
    "api.listPatients",
    "api.getPatient",
    "api.updatePatient",
    "api.deletePatient",
    "api.initPatientSession",
    "api.retrievePatientSession",
    "api.listPatientSessionsForPatient",
    "api.createSession",
    "api.getSession",
    "api.listPatientSessionsA",
    "api.initPatientFlow",
    "api.retrievePatientFlow",
    "api.listPatientFlows",
    "api.listFhirSources",
    "api.getFhirSource",
    "sim.createWorkspace",
    "sim.getWorkspace",
    "sim.resetWorkspace",
    "sim.getClock",
    "sim.advanceClock",
    "sim.setClock",
    "sim.runUntilIdle",
    "sim.setClockMode",
}


class Checker:
    """Validates each real response against the operation and status the document gives it."""

    def __init__(self, sim: Sim, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.adapter = app_of(sim).url_map.bind("sim.test")
        self.paths = {normalize(p): p for p in doc["paths"]}
        self.seen: set[tuple[str, str, str]] = set()
        self.operation_ids: set[str] = set()

    def __call__(self, method: str, path: str, resp) -> Any:
        rule, _ = self.adapter.match(path.split("?")[0], method=method.upper(), return_rule=True)
        doc_path = self.paths[normalize(openapi.flask_path(rule.rule))]
        op = self.doc["paths"][doc_path][method.lower()]
        status = str(resp.status_code)
        assert status in op["responses"], f"{method} {doc_path} answered undocumented {status}"
        response = resolve(self.doc, op["responses"][status])
        for header in response.get("headers", {}):
            assert header in resp.headers, (method, path, header)
        schema = response["content"]["application/json"]["schema"]
        body = resp.json
        errors = sorted(Draft202012Validator(schema).iter_errors(body), key=str)
        assert not errors, f"{method} {path} {status}: " + "; ".join(
            f"{list(e.absolute_path)}: {e.message}" for e in errors[:3]
        )
        self.seen.add((method.lower(), doc_path, status))
        self.operation_ids.add(op["operationId"])
        return body


def test_a_scripted_walk_matches_the_document(sim: Sim, doc: dict[str, Any]) -> None:
    check = Checker(sim, doc)
    client = sim.client

    def call(api: Api | None, method: str, path: str, body: Any = None, **kw: Any) -> Any:
        if api is None:
            resp = client.open(path, method=method.upper(), json=body, **kw)
        elif method == "get":
            resp = api.get(path, **kw)
        else:
            resp = (
                getattr(api, method)(path, body, **kw)
                if body is not None
                else getattr(api, method)(path, **kw)
            )
        return check(method, path, resp)

    call(None, "get", "/health")
    call(None, "get", "/openapi.json")
    created = call(None, "post", "/_sim/workspaces", {"seed": 5, "clock": "manual", "name": "w"})
    call(None, "post", "/_sim/workspaces")
    api = sim.api(created["api_key"])

    call(api, "get", "/_sim/workspace")
    call(api, "get", "/_sim/clock")
    call(api, "post", "/_sim/clock/advance", {"seconds": 1.5})
    now = call(api, "get", "/_sim/clock")["now"]
    call(api, "post", "/_sim/clock/set", {"now": now})
    call(api, "post", "/_sim/clock/set", {"now": "2001-01-01T00:00:00Z"})  # 400 backwards

    call(
        api,
        "post",
        "/patients",
        {"patient_id": "p1", "email": "p@example.com", "metadata": {"a": 1}},
    )
    call(api, "post", "/patients", {"patient_id": "p1"})  # 409
    call(api, "post", "/patients", {"patient_id": "p2", "name": 5})  # 400
    call(api, "get", "/patients")
    call(api, "get", "/patients", limit="1", patient_id="p1")
    call(api, "get", "/patients", limit="0")  # 400
    call(api, "put", "/patients/p1", {"patient_id": "p1", "name": "P One"})
    call(api, "get", "/patients/p1")
    call(api, "get", "/patients/ghost")  # 404

    sources = call(api, "get", "/connections", limit="2")
    call(api, "get", "/connections", starting_after=sources["next_cursor"], limit="2")
    call(api, "get", "/connections", starting_after="junk")  # 400
    source = sources["data"][0]["id"]
    call(api, "get", f"/connections/{source}")
    call(api, "get", "/connections/fhirsrc_missing")  # 404

    body = {"patient_id": "p1", "return_url": RETURN_URL, "expires_in": 60}
    direct = call(api, "post", "/patient-sessions", {**body, "connection_id": source})
    picker = call(
        api, "post", "/patient-sessions", {**body, "recommended_connection_ids": [source]}
    )
    # the A and B paths answer in workspaces of their generation
    in_a = sim.api(call(None, "post", "/_sim/workspaces", {"seed": 5, "naming": "A"})["api_key"])
    in_b = sim.api(call(None, "post", "/_sim/workspaces", {"seed": 5, "naming": "B"})["api_key"])
    alias_a = call(in_a, "post", "/sessions", body)
    alias_b = call(in_b, "post", "/patient-flows", body)
    call(api, "post", "/patient-sessions", {**body, "expires_in": 10})  # 400
    call(in_a, "post", "/sessions", {**body, "connection_id": "fhirsrc_missing"})  # 404
    call(api, "post", "/sessions", body)  # 404: no such route in a C workspace
    for client_of, prefix, made in (
        (api, "/patient-sessions", direct),
        (api, "/patient-sessions", picker),
        (in_a, "/sessions", alias_a),
        (in_b, "/patient-flows", alias_b),
    ):
        call(client_of, "get", f"{prefix}/{made['id']}")
    for client_of, list_path in (
        (api, "patient-sessions"),
        (in_a, "sessions"),
        (in_b, "patient-flows"),
    ):
        call(client_of, "get", f"/patients/p1/{list_path}", limit="2")
        call(client_of, "get", f"/patients/p1/{list_path}", status="bogus")  # 400
    call(api, "post", "/_sim/clock/run-until-idle", {"max_seconds": 120})
    call(api, "post", "/_sim/clock/run-until-idle")
    call(api, "get", f"/patient-sessions/{direct['id']}")  # expired
    call(api, "post", "/_sim/clock/mode", {"mode": "real"})
    call(api, "post", "/_sim/clock/mode", {"mode": "manual"})

    call(api, "get", "/patients", headers={"Version": "1999-01-01"})  # 400 version
    call(None, "get", "/patients")  # 401
    call(None, "get", "/patients", headers={"Authorization": "Bearer mb_sk_sbx_nope"})  # 401
    too_big = client.post(
        "/patients",
        data=json.dumps({"patient_id": "x", "metadata": {"b": "x" * 1_100_000}}),
        headers={"Authorization": f"Bearer {api.api_key}", "Content-Type": "application/json"},
    )
    check("post", "/patients", too_big)  # 413
    call(api, "delete", "/patients/p1")
    call(api, "delete", "/patients/p1")  # 404
    call(api, "post", "/_sim/reset")

    statuses = {status for _, _, status in check.seen}
    assert {"200", "400", "401", "404", "409", "413"} <= statuses
    assert FOUNDATION_OPERATIONS - check.operation_ids == set()
