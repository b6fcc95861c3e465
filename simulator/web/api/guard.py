"""Before- and after-request hooks shared by the authenticated Connect API blueprints."""

from __future__ import annotations

from flask import Flask, Response, g, request
from werkzeug.datastructures import ImmutableMultiDict

from simulator.core import api_keys, naming
from simulator.core.errors import invalid
from simulator.core.webkit import key_permissions
from simulator.domain import api_faults
from simulator.web.http import authenticate, check_version, generation, runtime, workspace


def require_api_key() -> None:
    check_version()
    ws_id = authenticate()
    g.generation = generation()  # for `mark_deprecated`
    drop_empty_query_values()
    api_keys.check_permission(key_permissions(), request.method)
    api_faults.check(runtime(), ws_id, request.method, request.path)


def drop_empty_query_values() -> None:
    """`?limit=&starting_after=` means no limit and no cursor, as the provider reads it.

    A strict workspace refuses an empty value instead, naming the parameter.
    """
    empty = [name for name, value in request.args.items(multi=True) if value == ""]
    if not empty:
        return
    if workspace().strict:
        raise invalid(
            f"'{empty[0]}' must not be empty (strict workspace): give it a value or leave it out",
            empty[0],
        )
    kept = [(name, value) for name, value in request.args.items(multi=True) if value != ""]
    request.args = ImmutableMultiDict(kept)  # werkzeug caches `args`; this replaces it


def mark_deprecated(resp: Response) -> Response:
    """Every answer of a generation A or B workspace says the generation is deprecated."""
    gen = g.get("generation")
    if gen is not None:
        resp.headers.update(naming.deprecation_headers(gen))
    return resp


def install(app: Flask) -> None:
    app.after_request(mark_deprecated)
