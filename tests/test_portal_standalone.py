"""`connect-sim portals`: the portals alone, with the same URLs and the fault control plane."""

from __future__ import annotations

from click.testing import CliRunner
from werkzeug.test import Client

from portal_mocks.server import build
from simulator.cli import main
from simulator.core.config import Config


def test_standalone_portals_serve_the_same_urls() -> None:
    rt, wsgi = build(Config(base_url="http://portals.test", default_api_key="mb_sk_sbx_alone"))
    try:
        client = Client(wsgi)
        conf = client.get("/portals/bluebutton/fhir/.well-known/smart-configuration").json
        assert conf["token_endpoint"] == "http://portals.test/portals/bluebutton/token"
        assert client.get("/portals/summit-epic/fhir/metadata").status_code == 200
        assert client.get("/_sim/faults/catalog").status_code == 200
        headers = {"Authorization": "Bearer mb_sk_sbx_alone"}
        added = client.post(
            "/_sim/portals/harbor-clinic/faults", json={"fault": "fhir_429"}, headers=headers
        )
        assert added.status_code == 200 and added.json["fault"] == "fhir_429"
        assert client.get("/patients", headers=headers).status_code == 404  # no Connect API here
        missing = client.get("/portals/nowhere/fhir/metadata")
        assert missing.status_code == 404 and missing.json["resourceType"] == "OperationOutcome"
    finally:
        rt.close()


def test_cli_has_a_portals_command() -> None:
    result = CliRunner().invoke(main, ["portals", "--help"])
    assert result.exit_code == 0 and "mock SMART portals" in result.output
