"""The copy-paste verifiers of docs/webhook-signatures.md (Python, Node, Go, each with only
its standard library) accept real deliveries made after a 30-day advance, on the real
clock with the 300 s tolerance, and refuse tampered, stale and wrongly keyed ones."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from webhooks_support import fire_sync_failed, inbox_endpoint, received

from simulator.domain.webhooks.signature import signature_header
from simulator.testing import Api

ROOT = Path(__file__).resolve().parent.parent
VERIFIERS = ROOT / "examples" / "verifiers"
COMMANDS = {
    "python": [sys.executable, str(VERIFIERS / "verify.py")],
    "node": ["node", str(VERIFIERS / "verify.js")],
    "go": ["go", "run", str(VERIFIERS / "verify.go")],
}


def _verify(language: str, body: bytes, header: str, secret: str, tmp: Path) -> str:
    if shutil.which(COMMANDS[language][0]) is None:
        pytest.skip(f"{language} is not installed (make test installs it)")
    path = tmp / "body.json"
    path.write_bytes(body)
    env = {
        **os.environ,
        "MEDBLOCKS_SIGNATURE": header,
        "MEDBLOCKS_WEBHOOK_SECRET": secret,
        "GOCACHE": str(tmp / "gocache"),
        "GOPATH": str(tmp / "gopath"),
        "GOFLAGS": "-mod=mod",
        "GO111MODULE": "off",
    }
    done = subprocess.run(
        [*COMMANDS[language], str(path)], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.stderr == "" or language == "go", done.stderr
    return done.stdout.strip()


@pytest.fixture(scope="module")
def delivery() -> tuple[bytes, str, str]:
    from simulator.testing import Sim

    with Sim() as sim:
        api: Api = sim.api()
        box, wh = inbox_endpoint(api)
        api.advance(30 * 86400)
        fire_sync_failed(api)
        request = received(api, box["id"])[-1]
        return request["body"].encode(), request["headers"]["Medblocks-Signature"], wh["secret"]


@pytest.mark.parametrize("language", list(COMMANDS))
def test_a_real_delivery_after_30_days_verifies(language, delivery, tmp_path) -> None:
    body, header, secret = delivery
    assert _verify(language, body, header, secret, tmp_path) == "ok"


@pytest.mark.parametrize("language", list(COMMANDS))
def test_forged_deliveries_are_refused(language, delivery, tmp_path) -> None:
    body, header, secret = delivery
    tampered = body.replace(b"records.sync.failed", b"records.sync.passed")
    assert _verify(language, tampered, header, secret, tmp_path) == "invalid: no_matching_signature"
    wrong_key = _verify(language, body, header, "whsec_" + "1" * 40, tmp_path)
    assert wrong_key == "invalid: no_matching_signature"
    stale = signature_header(body, [secret], int(time.time()) - 301)
    assert (
        _verify(language, body, stale, secret, tmp_path) == "invalid: timestamp_outside_tolerance"
    )
    fresh = signature_header(body, [secret], int(time.time()) - 250)
    assert _verify(language, body, fresh, secret, tmp_path) == "ok"
    assert _verify(language, body, "v1=abc", secret, tmp_path) == "invalid: malformed_header"


def test_the_guide_shows_exactly_the_tested_verifiers() -> None:
    guide = (ROOT / "docs" / "webhook-signatures.md").read_text()
    for name in ("verify.py", "verify.js", "verify.go"):
        assert (VERIFIERS / name).read_text().strip() in guide, name
