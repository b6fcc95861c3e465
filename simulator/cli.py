"""`connect-sim`: serve the simulator and its portals."""

from __future__ import annotations

import logging
from typing import Any

import click

from simulator import __version__
from simulator.core.config import Config
from simulator.core.workspaces import KEY_PREFIX


def _banner(base_url: str, api_key: str, db: str, workers: int = 1) -> str:
    processes = f"  workers  : {workers} processes on one port\n" if workers > 1 else ""
    return (
        f"connect-sim is running\n"
        f"  base URL : {base_url}\n"
        f"  API key  : {api_key}   (default workspace)\n"
        f"  database : {db}\n"
        f"{processes}"
        f"  OpenAPI  : {base_url}/openapi.json   (reference: {base_url}/docs)\n"
        f"  dashboard: {base_url}/   (sign in with the API key)\n"
        f"\nTry:\n"
        f"  curl -s {base_url}/health\n"
        f"  curl -s -X POST {base_url}/patient-sessions \\\n"
        f"    -H 'Authorization: Bearer {api_key}' -H 'Content-Type: application/json' \\\n"
        f'    -d \'{{"patient_id": "demo-patient", "return_url": "http://localhost:3000/done"}}\'\n'
    )


@click.group()
@click.version_option(__version__, prog_name="connect-sim")
def main() -> None:
    """Medblocks Connect simulator."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8700, show_default=True, type=int)
@click.option(
    "--db",
    default=".connect-sim/sim.db",
    show_default=True,
    help="SQLite file, or a postgresql:// URL (several instances may share one database)",
)
@click.option("--seed", default=0, show_default=True, type=int, help="default workspace seed")
@click.option(
    "--clock",
    type=click.Choice(["real", "manual"]),
    default="real",
    show_default=True,
    help="clock mode of the default workspace and of new workspaces",
)
@click.option("--base-url", default=None, help="public base URL (default http://HOST:PORT)")
@click.option("--threads", default=8, show_default=True, type=int)
@click.option(
    "--api-key",
    default=None,
    envvar="CONNECT_SIM_API_KEY",
    help="fixed API key of the default workspace (default: a random key made on first start)",
)
@click.option(
    "--drain-seconds",
    default=30.0,
    show_default=True,
    type=click.FloatRange(0, 3600),
    help="on SIGTERM, how long running requests and jobs may take to finish",
)
@click.option("--quiet", is_flag=True, help="no access log line per request")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="server processes on the same port and database (one process uses one core)",
)
@click.option("--worker-index", default=None, type=int, hidden=True)
@click.option("--link-fd", default=None, type=int, hidden=True)
@click.option(
    "--catalog",
    default=None,
    type=click.Path(exists=True, dir_okay=False),
    help="sources catalog file (default: the built-in portals); entries with a `smart`"
    " object are outside SMART servers",
)
def serve(
    host: str,
    port: int,
    db: str,
    seed: int,
    clock: str,
    base_url: str | None,
    threads: int,
    api_key: str | None,
    drain_seconds: float,
    quiet: bool,
    catalog: str | None,
    workers: int,
    worker_index: int | None,
    link_fd: int | None,
) -> None:
    """Serve the Connect API, the control plane and every mock portal from one process
    (or from --workers processes on one port and one database).

    SIGTERM stops accepting, lets running requests and jobs finish (at most
    --drain-seconds), then closes the database.
    """
    from simulator.compose import build
    from simulator.core.store import StoreError
    from simulator.serving import Server

    pid = " [%(process)d]" if workers > 1 or worker_index is not None else ""
    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s %(levelname)s{pid} %(name)s %(message)s"
    )
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    if api_key is not None and not api_key.startswith(KEY_PREFIX):
        raise click.BadParameter(f"must start with {KEY_PREFIX}", param_hint="--api-key")
    if workers > 1 and worker_index is None:
        _supervise(click.get_current_context().params)
        return
    base = (base_url or f"http://{host}:{port}").rstrip("/")
    if catalog is not None:
        from simulator.core.sources import Catalog

        try:
            Catalog.load(base, catalog)
        except (ValueError, KeyError, TypeError) as exc:
            raise click.ClickException(f"cannot read the catalog {catalog}: {exc!r}") from None
    config = Config(
        db_path=db,
        base_url=base,
        default_seed=seed,
        default_clock=clock,
        default_api_key=api_key,
        start_ticker=True,
        catalog_path=catalog,
        shared_db=worker_index is not None,
    )
    try:
        rt, wsgi = build(config)
    except StoreError as exc:
        raise click.ClickException(f"cannot open the database: {exc}") from None

    try:
        server = Server(
            rt,
            wsgi,
            host=host,
            port=port,
            threads=threads,
            drain_seconds=drain_seconds,
            quiet=quiet,
            shared_port=worker_index is not None,
        )
    except OSError as exc:
        rt.close()
        raise _cannot_listen(host, port, exc) from None
    if link_fd is not None:
        from simulator.workers import ParentLink

        link = ParentLink(link_fd)
        link.watch(server.stop)
        link.ready()
    if not worker_index:  # a single server, or the first worker
        click.echo(_banner(base, rt.default_api_key, rt.store.path, workers))
    if worker_index is not None:
        logging.getLogger("connect_sim.workers").info(
            "worker %d of %d serving on port %d", worker_index, workers, server.port
        )
    server.serve()


def _cannot_listen(host: str, port: int, exc: OSError) -> click.ClickException:
    return click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}")


def _supervise(options: dict[str, Any]) -> None:
    """`serve --workers N`: N `serve` processes on one port (`simulator.workers`)."""
    import os
    import sys

    from simulator.serving import shared_listener
    from simulator.workers import Supervisor

    if options["db"] == ":memory:":
        raise click.BadParameter(
            "more than one worker needs a database file or a postgresql:// URL: the workers"
            " share the database and its workspace locks",
            param_hint="--workers",
        )
    host, port, count = options["host"], options["port"], options["workers"]
    try:
        reserved = shared_listener(host, port)  # the port, chosen now when 0
    except OSError as exc:
        raise _cannot_listen(host, port, exc) from None
    port = reserved.getsockname()[1]
    reserved.close()
    base = (options["base_url"] or f"http://{host}:{port}").rstrip("/")
    env = dict(os.environ)
    if options["api_key"] is not None:  # through the environment: argv is visible to `ps`
        env["CONNECT_SIM_API_KEY"] = options["api_key"]

    def command(index: int, link_fd: int) -> list[str]:
        argv = [sys.executable, "-m", "simulator.cli", "serve", "--host", host]
        argv += ["--port", str(port), "--db", options["db"], "--seed", str(options["seed"])]
        argv += ["--clock", options["clock"], "--base-url", base]
        argv += ["--threads", str(options["threads"])]
        argv += ["--drain-seconds", str(options["drain_seconds"])]
        argv += ["--workers", str(count), "--worker-index", str(index)]
        argv += ["--link-fd", str(link_fd)]
        if options["quiet"]:
            argv.append("--quiet")
        if options["catalog"] is not None:
            argv += ["--catalog", options["catalog"]]
        return argv

    sys.exit(Supervisor(command, count, env).run())


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8701, show_default=True, type=int)
@click.option("--db", default=".connect-sim/portals.db", show_default=True, help="SQLite file")
@click.option("--seed", default=0, show_default=True, type=int, help="default workspace seed")
@click.option("--base-url", default=None, help="public base URL (default http://HOST:PORT)")
@click.option("--threads", default=8, show_default=True, type=int)
def portals(host: str, port: int, db: str, seed: int, base_url: str | None, threads: int) -> None:
    """Serve only the mock SMART portals (and their fault control plane)."""
    import waitress

    from portal_mocks import PORTALS
    from portal_mocks.server import build as build_portals

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    base = (base_url or f"http://{host}:{port}").rstrip("/")
    rt, wsgi = build_portals(
        Config(db_path=db, base_url=base, default_seed=seed, default_clock="real")
    )
    lines = [f"connect-sim portals at {base}/portals/", f"  API key : {rt.default_api_key}"]
    lines += [f"  {slug:16} {base}/portals/{slug}/fhir" for slug in PORTALS]
    lines.append(f"  faults  : {base}/_sim/faults/catalog   (login as alice+deny, ...)")
    click.echo("\n".join(lines))
    waitress.serve(wsgi, host=host, port=port, threads=threads, ident="connect-sim-portals")


def _add_commands() -> None:
    from scenarios.cli import scenario
    from simulator.listen import listen
    from simulator.remote import clock, trigger, workspace

    for command in (scenario, clock, workspace, listen, trigger):
        main.add_command(command)


_add_commands()


if __name__ == "__main__":
    main()
