"""Configuration passed to the application factory (no global state)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Config:
    db_path: str = ":memory:"
    # Other processes use the same SQLite file at once (`serve --workers`).
    shared_db: bool = False
    base_url: str = "http://127.0.0.1:8700"
    default_seed: int = 0
    # Clock mode for the default workspace and for workspaces created without one.
    default_clock: str = "real"
    # Fixed API key for the default workspace when it is first created (random otherwise).
    default_api_key: str | None = None
    # Background ticker for workspaces whose clock is in `real` mode.
    start_ticker: bool = False
    tick_interval: float = 0.2
    catalog_path: str | None = None
    # Outbound HTTP timeout in seconds (portals, webhook receivers).
    http_timeout: float = 5.0
    max_body_bytes: int = 1024 * 1024
    # Refresh access tokens this long before they expire (half their lifetime when shorter).
    refresh_lead_s: int = 300
    # "ahead": keep every access token fresh (a refresh before each expiry);
    # "on_demand": refresh only when a pull needs the token (far fewer refreshes at scale).
    refresh_policy: str = "ahead"
    # Re-pull records this long after a pull settles, while access holds.
    repull_interval_s: int = 24 * 3600
    # FHIR search page size asked of the portals (`_count`).
    pull_page_size: int = 100
