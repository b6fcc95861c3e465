"""The portals' failure catalog: named faults, how they are chosen, and when they fire.

A fault is chosen in one of three ways:

* at the login page, by the username `<persona>+<fault>[:<arg>]` (several may
  be chained: `bob+fhir_500:Observation+refresh_revoked_after:2`); it belongs
  to that one grant;
* by the control plane, `POST /_sim/portals/<slug>/faults` with
  `{"fault", "arg"?, "times"?, "probability"?, "at"?}`; it applies to every
  login and grant of the calling workspace at that portal until cleared;
* by `portal_mocks.add_grant_fault(...)` on one existing grant.

`times` limits how often a fault fires (then it is spent), `probability`
makes each opportunity a seeded draw (from the workspace seed, so a run is
reproducible), `at` keeps it dormant until a virtual instant.

No Flask here: the HTTP layer asks `candidates()` which faults could fire at
a site and `fire()` to consume one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from portal_mocks.profiles import HOSPITAL_TYPES, PAYER_TYPES
from simulator.core.timeutil import iso, parse_iso

if TYPE_CHECKING:
    from simulator.core.runtime import Runtime

SCHEMA = """
CREATE TABLE IF NOT EXISTS portal_faults (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id TEXT NOT NULL,
    slug TEXT NOT NULL,
    grant_id TEXT,
    ord INTEGER NOT NULL,
    name TEXT NOT NULL,
    arg TEXT,
    times_left INTEGER,
    probability REAL,
    at_ms INTEGER,
    draws INTEGER NOT NULL DEFAULT 0,
    fired INTEGER NOT NULL DEFAULT 0,
    source TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS portal_faults_scope ON portal_faults (workspace_id, slug, grant_id);
"""

# Where a fault fires.
AUTHORIZE = "authorize"
CONSENT = "consent"
TOKEN = "token"
EXCHANGE = "exchange"
REFRESH = "refresh"
ISSUE = "issue"
FHIR = "fhir"
RECORD = "record"
GRANT = "grant"

SITE_TEXT = {
    AUTHORIZE: "authorize endpoint (after login when chosen by username)",
    CONSENT: "consent page",
    TOKEN: "token endpoint (code exchange and refresh)",
    EXCHANGE: "token endpoint, grant_type=authorization_code",
    REFRESH: "token endpoint, grant_type=refresh_token",
    ISSUE: "token endpoint, when tokens are issued",
    FHIR: "FHIR API (data requests; metadata is never affected)",
    RECORD: "the synthetic record served by the FHIR API",
    GRANT: "the grant made at consent",
}

ARG_KINDS = ("int", "seconds", "instant_or_seconds", "probability", "status", "resource_type")


@dataclass(frozen=True)
class FaultType:
    name: str
    site: str
    effect: str
    arg: str | None = None  # kind of argument (ARG_KINDS)
    default_arg: str | None = None
    default_times: int | None = None
    arg_is_times: bool = False
    portals: tuple[str, ...] = ()  # empty = every portal

    def to_api(self, timeout_default: float | None = None) -> dict[str, Any]:
        default = self.default_arg
        if default == "http_timeout+1" and timeout_default is not None:
            default = f"{timeout_default + 1:g}"
        return {
            "name": self.name,
            "where": SITE_TEXT[self.site],
            "site": self.site,
            "effect": self.effect,
            "arg": self.arg,
            "default_arg": default,
            "default_times": self.default_times,
            "portals": list(self.portals) or "all",
            "login_example": f"alice+{self.name}" + (f":{default}" if default else ""),
        }


CATALOG: dict[str, FaultType] = {
    f.name: f
    for f in (
        # -- login, consent and the authorize redirect -------------------------
        FaultType(
            "deny",
            CONSENT,
            "The patient denies at the consent page whatever is clicked: redirect with"
            " error=access_denied and the state.",
        ),
        FaultType(
            "invalid_scope", AUTHORIZE, "Redirect with error=invalid_scope (RFC 6749 4.1.2.1)."
        ),
        FaultType("server_error", AUTHORIZE, "Redirect with error=server_error."),
        FaultType(
            "temporarily_unavailable", AUTHORIZE, "Redirect with error=temporarily_unavailable."
        ),
        FaultType(
            "auth_invalid_client_id",
            AUTHORIZE,
            "smart-launcher: redirect with error=invalid_client,"
            " 'Simulated invalid client_id parameter error'.",
        ),
        FaultType(
            "auth_invalid_redirect_uri",
            AUTHORIZE,
            "smart-launcher: redirect with error=invalid_request,"
            " 'Simulated invalid redirect_uri parameter error'.",
        ),
        FaultType(
            "auth_invalid_scope",
            AUTHORIZE,
            "smart-launcher: redirect with error=invalid_scope, 'Simulated invalid scope error'.",
        ),
        # -- token endpoint, both grant types ----------------------------------
        FaultType(
            "auth_invalid_client_secret",
            TOKEN,
            "smart-launcher: confidential clients get 401 invalid_client"
            " 'Simulated invalid client secret error' at the token endpoint.",
        ),
        FaultType(
            "token_invalid_token",
            TOKEN,
            "smart-launcher: 401 invalid_client 'Simulated invalid client error'.",
        ),
        FaultType(
            "token_expired_refresh_token",
            REFRESH,
            "smart-launcher: refresh answers 403 invalid_grant 'Expired refresh token'.",
        ),
        # -- code exchange -------------------------------------------------------
        FaultType(
            "exchange_invalid_grant",
            EXCHANGE,
            "The code exchange answers 400 invalid_grant (as for an expired or reused code).",
        ),
        FaultType(
            "exchange_invalid_client", EXCHANGE, "The code exchange answers 401 invalid_client."
        ),
        FaultType(
            "exchange_5xx",
            EXCHANGE,
            "The code exchange answers this 5xx status with a JSON server_error"
            " (temporarily_unavailable for 503).",
            arg="status",
            default_arg="500",
        ),
        FaultType(
            "exchange_timeout",
            EXCHANGE,
            "The code exchange answers only after this many real seconds (default: just over"
            " the simulator's http_timeout), then normally; the code is spent.",
            arg="seconds",
            default_arg="http_timeout+1",
        ),
        # -- refresh -----------------------------------------------------------
        FaultType(
            "refresh_revoked",
            REFRESH,
            "The refresh grant is revoked: the next refresh is 400 invalid_grant (access tokens"
            " already issued keep working until they expire).",
        ),
        FaultType(
            "refresh_revoked_after",
            REFRESH,
            "N refreshes succeed, then the refresh grant is revoked (400 invalid_grant).",
            arg="int",
            default_arg="1",
        ),
        FaultType(
            "refresh_revoked_at",
            REFRESH,
            "The refresh grant is revoked at a virtual instant: seconds after the code"
            " exchange, or an ISO 8601 instant; refreshes from then on are 400 invalid_grant.",
            arg="instant_or_seconds",
            default_arg="3600",
        ),
        FaultType(
            "refresh_expires_after",
            ISSUE,
            "Refresh tokens are issued with this lifetime in seconds; a refresh after it is"
            " 400 invalid_grant.",
            arg="seconds",
            default_arg="3600",
        ),
        FaultType(
            "refresh_503",
            REFRESH,
            "Transient: the next N refreshes answer 503 temporarily_unavailable with"
            " Retry-After: 1, then refresh recovers.",
            arg="int",
            default_arg="1",
            arg_is_times=True,
        ),
        FaultType(
            "refresh_timeout",
            REFRESH,
            "A refresh answers only after this many real seconds, then normally.",
            arg="seconds",
            default_arg="http_timeout+1",
            default_times=1,
        ),
        # -- FHIR --------------------------------------------------------------
        FaultType(
            "request_invalid_token",
            FHIR,
            "smart-launcher: the token response carries sim_error 'Invalid token' and every FHIR"
            " request with those tokens is 401 invalid_token 'Invalid token (simulated error)'.",
        ),
        FaultType(
            "request_expired_token",
            FHIR,
            "smart-launcher: the token response carries sim_error 'Token expired' and every FHIR"
            " request with those tokens is 401 invalid_token 'Token expired (simulated error)'.",
        ),
        FaultType(
            "fhir_401",
            FHIR,
            "The access token is revoked at its next FHIR use: 401 invalid_token with"
            " WWW-Authenticate; a refreshed token works again.",
            default_times=1,
        ),
        FaultType(
            "fhir_429",
            FHIR,
            "FHIR data requests answer 429 with Retry-After of this many seconds and an"
            " OperationOutcome 'throttled'.",
            arg="seconds",
            default_arg="30",
            default_times=1,
        ),
        FaultType(
            "fhir_500",
            FHIR,
            "Every request for this resource type answers 500 with an OperationOutcome"
            " 'exception'.",
            arg="resource_type",
            default_arg="Observation",
        ),
        FaultType(
            "fhir_503",
            FHIR,
            "Each FHIR data request answers 503 (OperationOutcome 'transient', Retry-After: 1)"
            " with this probability, drawn from the workspace seed.",
            arg="probability",
            default_arg="0.25",
        ),
        FaultType(
            "fhir_slow",
            FHIR,
            "Each FHIR data request (every search page) answers only after this many real seconds.",
            arg="seconds",
            default_arg="2",
        ),
        FaultType(
            "empty_record",
            RECORD,
            "The record holds the Patient resource only; searches are empty.",
        ),
        FaultType(
            "large_record",
            RECORD,
            "The record is scaled to about this many resources.",
            arg="int",
            default_arg="5000",
        ),
        FaultType(
            "one_time",
            GRANT,
            "Blue Button one-time data access: a 10-hour grant with no refresh token.",
            portals=("bluebutton",),
        ),
    )
}

RESOURCE_TYPES = tuple(sorted(set(HOSPITAL_TYPES) | set(PAYER_TYPES)))
MAX_DELAY_S = 120.0
MAX_LARGE_RECORD = 50_000


class FaultError(ValueError):
    """A fault name or argument that is not in the catalog."""


@dataclass(frozen=True)
class FaultRequest:
    name: str
    arg: str | None = None


@dataclass(frozen=True)
class StoredFault:
    id: int
    workspace_id: str
    slug: str
    grant_id: str | None
    ord: int
    name: str
    arg: str | None
    times_left: int | None
    probability: float | None
    at_ms: int | None
    draws: int
    fired: int
    source: str
    created_ms: int

    def to_api(self) -> dict[str, Any]:
        body = asdict(self)
        body.pop("workspace_id")
        body.pop("ord")
        body["fault"] = body.pop("name")
        body["times"] = body.pop("times_left")
        body["at"] = iso(body.pop("at_ms"))
        body["created_at"] = iso(body.pop("created_ms"))
        body["scope"] = "grant" if self.grant_id else "portal"
        return body


# -- parsing ------------------------------------------------------------------


def check(name: str, arg: str | None, slug: str | None = None) -> FaultRequest:
    """Validate a fault name and argument; returns the request with its argument normalised."""
    ftype = CATALOG.get(name)
    if ftype is None:
        raise FaultError(f"Unknown fault '{name}'; GET /_sim/faults/catalog lists them")
    if ftype.portals and slug is not None and slug not in ftype.portals:
        raise FaultError(f"Fault '{name}' exists only at {', '.join(ftype.portals)}")
    if arg is not None and arg != "":
        if ftype.arg is None:
            raise FaultError(f"Fault '{name}' takes no argument")
        _check_arg(ftype, arg)
        return FaultRequest(name, arg)
    return FaultRequest(name, None)


def _check_arg(ftype: FaultType, arg: str) -> None:
    kind = ftype.arg
    try:
        if kind == "int":
            value = int(arg)
            if value < 0 or value > MAX_LARGE_RECORD:
                raise ValueError
        elif kind == "seconds":
            delays = ftype.name.endswith(("_timeout", "_slow"))
            if not 0 <= float(arg) <= (MAX_DELAY_S if delays else 10**9):
                raise ValueError
        elif kind == "probability":
            if not 0.0 <= float(arg) <= 1.0:
                raise ValueError
        elif kind == "status":
            if not 500 <= int(arg) <= 599:
                raise ValueError
        elif kind == "resource_type":
            if arg not in RESOURCE_TYPES:
                raise ValueError
        elif kind == "instant_or_seconds":
            try:
                if float(arg) < 0:
                    raise ValueError
            except ValueError:
                parse_iso(arg)
    except (TypeError, ValueError):
        raise FaultError(
            f"Bad argument '{arg}' for fault '{ftype.name}': {_ARG_HELP[kind]}"
        ) from None


_ARG_HELP = {
    "int": "a whole number",
    "seconds": "a number of seconds",
    "instant_or_seconds": "seconds after the code exchange, or an ISO 8601 instant",
    "probability": "a number from 0 to 1",
    "status": "an HTTP status from 500 to 599",
    "resource_type": "one of " + ", ".join(RESOURCE_TYPES),
    None: "",
}


def parse_login(username: str, slug: str | None = None) -> tuple[str, list[FaultRequest]]:
    """`alice+refresh_revoked_after:2+fhir_429:5` -> ('alice', [faults...])."""
    persona, *parts = username.strip().split("+")
    requests: list[FaultRequest] = []
    for part in parts:
        name, sep, arg = part.partition(":")
        requests.append(check(name.strip(), arg.strip() if sep else None, slug))
    return persona.strip().lower(), requests


def arg_of(fault: StoredFault, default_timeout: float) -> str:
    """The fault's argument, or the catalog default (timeouts: just over `default_timeout`)."""
    if fault.arg not in (None, ""):
        return str(fault.arg)
    default = CATALOG[fault.name].default_arg or ""
    if default == "http_timeout+1":
        return f"{default_timeout + 1:g}"
    return default


# -- storage -------------------------------------------------------------------


def _row(row: Any) -> StoredFault:
    return StoredFault(**{k: row[k] for k in row.keys()})


def add(
    rt: Runtime,
    ws_id: str,
    slug: str,
    request: FaultRequest,
    *,
    grant_id: str | None = None,
    times: int | None = None,
    probability: float | None = None,
    at_ms: int | None = None,
    source: str = "control",
) -> StoredFault:
    ftype = CATALOG[request.name]
    if times is None:
        if ftype.arg_is_times:
            times = int(request.arg or ftype.default_arg or 1)
        else:
            times = ftype.default_times
    if probability is None and request.name == "fhir_503":
        probability = float(request.arg or ftype.default_arg or 1.0)
    store = rt.store
    with store.tx():
        ord_ = (
            store.scalar(
                "SELECT COALESCE(MAX(ord), 0) FROM portal_faults WHERE workspace_id = ?", (ws_id,)
            )
            + 1
        )
        row = store.one(
            "INSERT INTO portal_faults (workspace_id, slug, grant_id, ord, name, arg, times_left,"
            " probability, at_ms, source, created_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?) RETURNING *",
            (
                ws_id,
                slug,
                grant_id,
                ord_,
                request.name,
                request.arg,
                times,
                probability,
                at_ms,
                source,
                rt.now(ws_id),
            ),
        )
        return _row(row)


def listing(rt: Runtime, ws_id: str, slug: str, grant_id: str | None = None) -> list[StoredFault]:
    """Portal-level faults (grant_id None) or one grant's faults, oldest first."""
    if grant_id is None:
        rows = rt.store.all(
            "SELECT * FROM portal_faults WHERE workspace_id = ? AND slug = ? AND grant_id IS NULL"
            " ORDER BY id",
            (ws_id, slug),
        )
    else:
        rows = rt.store.all(
            "SELECT * FROM portal_faults WHERE workspace_id = ? AND grant_id = ? ORDER BY id",
            (ws_id, grant_id),
        )
    return [_row(r) for r in rows]


def clear(rt: Runtime, ws_id: str, slug: str, fault_id: int | None = None) -> int:
    """Remove the workspace's portal-level faults at `slug` (or one of them)."""
    sql = "DELETE FROM portal_faults WHERE workspace_id = ? AND slug = ? AND grant_id IS NULL"
    params: tuple = (ws_id, slug)
    if fault_id is not None:
        sql += " AND id = ?"
        params = (*params, fault_id)
    with rt.store.tx():
        return rt.store.execute(sql, params).rowcount


def attach(rt: Runtime, ws_id: str, from_grant: str, to_grant: str) -> None:
    """Move faults chosen during a sign-in onto the grant it produced (same id here)."""
    if from_grant != to_grant:
        with rt.store.tx():
            rt.store.execute(
                "UPDATE portal_faults SET grant_id = ? WHERE workspace_id = ? AND grant_id = ?",
                (to_grant, ws_id, from_grant),
            )


# -- firing ------------------------------------------------------------------


def candidates(
    rt: Runtime,
    ws_id: str,
    slug: str,
    grant_id: str | None,
    names: Iterable[str],
    now_ms: int,
    *,
    only_grant: bool = False,
) -> list[StoredFault]:
    """Faults that may fire now: not spent, past `at`, of one of `names`; grant ones first."""
    names = list(names)
    if not names:
        return []
    marks = ",".join("?" for _ in names)
    owner = "grant_id = ?" if only_grant else "(grant_id IS NULL OR grant_id = ?)"
    rows = rt.store.all(
        f"SELECT * FROM portal_faults WHERE workspace_id = ? AND slug = ? AND name IN ({marks})"
        f" AND {owner}"
        " AND (times_left IS NULL OR times_left > 0) AND (at_ms IS NULL OR at_ms <= ?)"
        " ORDER BY grant_id IS NULL, id",
        (ws_id, slug, *names, grant_id or "", now_ms),
    )
    return [_row(r) for r in rows]


# Whether a workspace has any fault stored at a portal (`{ws}`, `{slug}`: SQL expressions),
# for a lookup that reads it on the way (`grants.lookup_with_grant`).
ANY_SQL = "EXISTS (SELECT 1 FROM portal_faults WHERE workspace_id = {ws} AND slug = {slug})"


class Plan:
    """The faults that may fire during one request, read in one query and consulted by name.

    `candidates`, `first_fired` and `present` answer what the module functions of
    the same names would for the same request (grant faults first, then by id),
    without a query each; `fire` still re-reads and spends the one fault it fires.
    """

    def __init__(
        self,
        rt: Runtime,
        ws_id: str,
        slug: str,
        grant_id: str | None,
        now_ms: int,
        *,
        any_stored: bool = True,
    ) -> None:
        """`any_stored` False: the caller read that the workspace has no fault at this
        portal (`ANY_SQL`), so there is nothing to read."""
        self.rt = rt
        if not any_stored:
            self.faults: list[StoredFault] = []
            return
        rows = rt.store.all(
            "SELECT * FROM portal_faults WHERE workspace_id = ? AND slug = ?"
            " AND (grant_id IS NULL OR grant_id = ?)"
            " AND (times_left IS NULL OR times_left > 0) AND (at_ms IS NULL OR at_ms <= ?)"
            " ORDER BY grant_id IS NULL, id",
            (ws_id, slug, grant_id or "", now_ms),
        )
        self.faults = [_row(r) for r in rows]

    def candidates(self, names: Iterable[str]) -> list[StoredFault]:
        wanted = set(names)
        return [f for f in self.faults if f.name in wanted]

    def first_fired(self, names: Iterable[str]) -> StoredFault | None:
        for fault in self.candidates(names):
            if fire(self.rt, fault):
                return fault
        return None

    def present(self, names: Iterable[str]) -> list[StoredFault]:
        return self.candidates(names)


def fire(rt: Runtime, fault: StoredFault) -> bool:
    """Consume one opportunity: a seeded draw when probabilistic; spends one of `times`."""
    store = rt.store
    with store.tx():
        row = store.one("SELECT * FROM portal_faults WHERE id = ?", (fault.id,))
        if row is None or (row["times_left"] is not None and row["times_left"] <= 0):
            return False
        if row["probability"] is not None:
            draw = rt.rng(
                fault.workspace_id, "portal-fault", fault.slug, fault.ord, row["draws"]
            ).random()
            store.execute("UPDATE portal_faults SET draws = draws + 1 WHERE id = ?", (fault.id,))
            if draw >= row["probability"]:
                return False
        store.execute(
            "UPDATE portal_faults SET fired = fired + 1,"
            " times_left = CASE WHEN times_left IS NULL THEN NULL ELSE times_left - 1 END"
            " WHERE id = ?",
            (fault.id,),
        )
        return True


def first_fired(
    rt: Runtime,
    ws_id: str,
    slug: str,
    grant_id: str | None,
    names: Iterable[str],
    now_ms: int,
    *,
    only_grant: bool = False,
) -> StoredFault | None:
    """The first candidate that fires (consumed), or None."""
    for fault in candidates(rt, ws_id, slug, grant_id, names, now_ms, only_grant=only_grant):
        if fire(rt, fault):
            return fault
    return None


def present(
    rt: Runtime, ws_id: str, slug: str, grant_id: str | None, names: Iterable[str], now_ms: int
) -> list[StoredFault]:
    """Faults that shape state rather than fire (record shape, grant kind): not consumed."""
    return candidates(rt, ws_id, slug, grant_id, names, now_ms)


def catalog_api(default_timeout: float) -> list[dict[str, Any]]:
    return [f.to_api(default_timeout) for f in CATALOG.values()]
