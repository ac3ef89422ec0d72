"""``floatnet server`` and ``floatnet db upgrade``: the server process and the schema tool.

``floatnet server [--config FILE] [--state-dir DIR] [--bind HOST:PORT]`` applies pending migrations, then
serves the API with uvicorn. A configuration error ends the process with status 2 and a message naming the
option and the value; an address it cannot listen on (a port another process holds) ends it with status 3
before anything slow happens, naming the address, the reason and ``--bind``. With ``auth_strategy = noauth``
anyone who can reach the port is an administrator: the server refuses a non-loopback bind address unless
``[DEFAULT] allow_insecure_noauth_on_network = true``, and warns loudly whenever it runs without authentication.
"""

from __future__ import annotations

import argparse
import errno
import gc
import logging
import socket
import sys
from dataclasses import replace

from floatnet.config import Config, ConfigError, _parse_bind, check_noauth_exposure, load
from floatnet.db.session import Database

LOG = logging.getLogger("floatnet.server")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="floatnet", description="floatnet server and database tools")
    commands = parser.add_subparsers(dest="command", required=True)
    server = commands.add_parser("server", help="run the API server")
    db = commands.add_parser("db", help="database schema tools")
    db.add_argument("action", choices=["upgrade"], help="apply every pending migration")
    for sub in (server, db):
        sub.add_argument("--config", help="the ini file (default: built-in defaults)")
        sub.add_argument("--state-dir", help="where SQLite and runtime files live (overrides the file)")
    server.add_argument("--bind", help="HOST:PORT to listen on (default 127.0.0.1:9696)")
    server.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    return parser


def load_config(args: argparse.Namespace) -> Config:
    """The validated config the arguments describe (``--bind`` overrides the file)."""
    config = load(args.config, args.state_dir)
    if getattr(args, "bind", None):
        host, port = _parse_bind(args.bind)
        config = replace(config, bind_host=host, bind_port=port)
    return config


def _prepare(config: Config) -> Database:
    from floatnet.api.app import open_database

    return open_database(config)


def _warn_noauth(config: Config) -> None:
    if config.auth_strategy == "noauth":
        LOG.warning(
            "auth_strategy = noauth: NO AUTHENTICATION. Anyone who can reach %s:%s is an administrator.",
            config.bind_host,
            config.bind_port,
        )


def tune_gc() -> None:
    """Make garbage collection cheap for a server that renders thousands of small dicts per list.

    Everything loaded at start-up (modules, the app) is frozen out of the collector's view, and the
    young-generation threshold is raised: with the defaults a 1,000-port list spent ~75% of its time in
    collections of objects that were about to be freed by reference counting anyway.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


class ListenError(RuntimeError):
    """The API's address cannot be bound; the message names the address, the reason and the fix."""


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on HOST:PORT, bound before anything slow (imports, migrations).

    A taken port must end the server at once with the reason and the fix, so that ``floatnet up`` can report
    it in a second instead of waiting for an answer that comes from someone else's server.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        hint = f" (see who holds it: ss -ltnp 'sport = :{port}')" if exc.errno == errno.EADDRINUSE else ""
        raise ListenError(
            f"cannot listen on {shown}: {exc.strerror or exc}{hint}; "
            "choose another address with --bind HOST:PORT (or [DEFAULT] bind in the ini file)"
        ) from None
    return sock


def run_server(config: Config, log_level: str) -> int:
    """Bind the address, migrate, then serve until interrupted."""
    sock = listen(config.bind_host, config.bind_port)
    import uvicorn

    from floatnet.api.app import create_app

    db = _prepare(config)
    _warn_noauth(config)
    app = create_app(config, database=db, migrate=False)
    tune_gc()
    uv_config = uvicorn.Config(app, host=config.bind_host, port=config.bind_port, log_level=log_level,
                               access_log=False)  # fmt: skip
    uvicorn.Server(uv_config).run(sockets=[sock])
    return 0


def main(argv: list[str]) -> int:
    """Entry point for ``floatnet server …`` / ``floatnet db upgrade …`` (``argv`` starts at the command)."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        config = load_config(args)
        if args.command == "server":
            check_noauth_exposure(config)
    except ConfigError as exc:
        print(f"floatnet: configuration error: {exc}", file=sys.stderr)
        return 2
    if args.command == "db":
        db = _prepare(config)
        print(f"database {db.engine.url!r} is up to date")
        db.dispose()
        return 0
    try:
        return run_server(config, args.log_level)
    except ListenError as exc:
        print(f"floatnet server: {exc}", file=sys.stderr)
        return 3
    except ConfigError as exc:  # found while building the app, e.g. an unusable [oslo_policy] policy_file
        print(f"floatnet: configuration error: {exc}", file=sys.stderr)
        return 2
