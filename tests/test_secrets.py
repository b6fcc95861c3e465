"""Secrets never follow from the workspace seed: ids repeat across runs, secrets do not."""

from __future__ import annotations

from simulator.testing import Sim


def _story(sim: Sim) -> tuple[str, str, list[str]]:
    api, _ = sim.new_workspace(seed=0)
    api.post("/patients", {"patient_id": "p1"})
    session = api.post(
        "/patient-sessions", {"patient_id": "p1", "return_url": "https://app.example/done"}
    ).json
    endpoint = api.post("/webhooks", {"url": "https://hooks.example/in", "events": ["*"]}).json
    return session["url"], endpoint["secret"], [session["id"], endpoint["id"]]


def test_two_runs_with_the_same_seed_share_ids_but_not_links_or_webhook_secrets() -> None:
    first, second = _story(Sim()), _story(Sim())
    assert first[2] == second[2]  # ids are seeded: the same calls give the same ids
    assert first[0] != second[0]  # the hosted link is the key to a patient's page
    assert first[1] != second[1]  # a webhook secret that follows from the seed is forgeable
    token = first[0].rsplit("/", 1)[-1]
    assert len(token) == 32 and int(token, 16) >= 0
    assert first[1].startswith("whsec_") and len(first[1]) == len("whsec_") + 40


def test_rotation_gives_a_fresh_unrelated_secret() -> None:
    sim = Sim()
    api, _ = sim.new_workspace(seed=0)
    endpoint = api.post("/webhooks", {"url": "https://hooks.example/in", "events": ["*"]}).json
    rotated = api.post(f"/webhooks/{endpoint['id']}/rotate-secret").json
    assert rotated["secret"] != endpoint["secret"] and rotated["secret"].startswith("whsec_")
