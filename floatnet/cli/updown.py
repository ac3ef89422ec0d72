"""``floatnet up`` / ``floatnet down``: the all-in-one node — server (SQLite) and agent on this host.

``up`` starts ``floatnet server`` and, once it answers, ``floatnet agent --server URL --host <[agent] host>``
(the hostname unless the config says otherwise):

* foreground (default): both children's logs, prefixed ``server |`` / ``agent  |``; Ctrl-C or SIGTERM stops
  the agent first, then the server; if either child dies, the other is stopped and ``up`` exits 1;
* ``--detach``: logs go to ``<state-dir>/logs/{server,agent}.log``, PIDs to ``<state-dir>/run/*.pid``, and
  ``up`` returns once the server answers. ``down`` stops them by those PIDs (agent first), after checking
  that each PID still runs that floatnet role.

The address comes from ``--bind``, else the config file's ``[DEFAULT] bind``, else 127.0.0.1:9696.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

from floatnet import config as floatnet_config
from floatnet.cli import supervise
from floatnet.cli.client import CliError
from floatnet.cli.invocation import Invocation

DEFAULT_STATE_DIR = "/var/lib/floatnet"
READY_TIMEOUT = 60.0
ROLES = ("server", "agent")  # start order; stop order is the reverse


def _settings(args: argparse.Namespace) -> tuple[floatnet_config.Config, str, int]:
    """The validated config and the API's HOST, PORT: ``--bind``, else the config file's, else the default."""
    try:
        cfg = floatnet_config.load(args.config, args.state_dir)
    except floatnet_config.ConfigError as error:
        raise CliError(str(error)) from None
    if not args.bind:
        return cfg, cfg.bind_host, cfg.bind_port
    host, sep, port = args.bind.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise CliError(f"--bind {args.bind!r}: expected HOST:PORT")
    return cfg, host.strip("[]"), int(port)


def api_url(host: str, port: int) -> str:
    """The URL clients use for a bind address (a wildcard bind is reached on loopback)."""
    reach = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    return f"http://[{reach}]:{port}" if ":" in reach else f"http://{reach}:{port}"


def child_argvs(args: argparse.Namespace, node: str, host: str, port: int) -> dict[str, list[str]]:
    """The server's and the agent's command lines (``node``: the agent's host name, ``[agent] host``)."""
    shared = ["--config", args.config] if args.config else []
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    server = supervise.floatnet_argv("server", *shared, "--state-dir", args.state_dir, "--bind", bind)
    agent = supervise.floatnet_argv(
        "agent",
        *shared,
        "--server",
        api_url(host, port),
        "--host",
        node,
        "--state-dir",
        args.state_dir,
    )
    return {"server": server, "agent": agent}


def _pid_path(state_dir: str, role: str) -> Path:
    return Path(state_dir) / "run" / f"{role}.pid"


def _running(state_dir: str) -> dict[str, int]:
    """The roles whose PID file names a live floatnet process of that role."""
    found = {}
    for role in ROLES:
        pid = supervise.read_pid(_pid_path(state_dir, role))
        if pid is not None and supervise.is_floatnet(pid, role):
            found[role] = pid
    return found


def up(ctx: Invocation) -> int:
    args = ctx.args
    roles = ["server"] if args.no_agent else list(ROLES)
    if "agent" in roles and os.geteuid() != 0:
        raise CliError("the agent needs root (it builds namespaces, OVS ports and NAT): run as root, or --no-agent")
    already = _running(args.state_dir)
    if already:
        raise CliError(f"floatnet is already running from {args.state_dir} ({already}); stop it: floatnet down")
    Path(args.state_dir).mkdir(parents=True, exist_ok=True)
    cfg, host, port = _settings(args)
    argvs = {role: argv for role, argv in child_argvs(args, cfg.host, host, port).items() if role in roles}
    url = api_url(host, port)
    if args.detach:
        return _up_detached(args.state_dir, argvs, url, ctx.out)
    return _up_foreground(argvs, url, ctx.out)


def _up_foreground(argvs: dict[str, list[str]], url: str, out: IO[str]) -> int:
    """Run the children with prefixed logs until a signal or a child's death; stop them agent first."""
    stopping = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stopping.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    children: dict[str, subprocess.Popen[str]] = {}
    pumps: list[threading.Thread] = []
    try:
        for role, argv in argvs.items():
            children[role] = supervise.start(argv, subprocess.PIPE)
            pumps.append(supervise.pump(children[role], role.ljust(6), out))
            failed = role == "server" and supervise.wait_until_own_server(url, children[role], READY_TIMEOUT, stopping)
            if failed:
                if stopping.is_set():
                    return 0
                print(f"floatnet server {failed} (its log is above)", file=sys.stderr)
                return 1
            if role == "server":
                print(f"floatnet API on {url}  (export OS_URL={url}; Ctrl-C stops)", file=out, flush=True)
        while not stopping.is_set():
            dead = [role for role, proc in children.items() if proc.poll() is not None]
            if dead:
                print(f"floatnet {dead[0]} exited with status {children[dead[0]].returncode}", file=sys.stderr)
                return 1
            stopping.wait(0.5)
        return 0
    finally:
        for role in reversed(list(children)):
            supervise.stop_child(children[role])
        for thread in pumps:
            thread.join(timeout=2)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _up_detached(state_dir: str, argvs: dict[str, list[str]], url: str, out: IO[str]) -> int:
    """Start the children in the background, logging to files, and return once the server answers."""
    logs = Path(state_dir) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    started: list[subprocess.Popen[str]] = []
    for role, argv in argvs.items():
        with open(logs / f"{role}.log", "a") as log:
            proc = supervise.start(argv, log)
        started.append(proc)
        supervise.write_pid(_pid_path(state_dir, role), proc.pid)
        failed = role == "server" and supervise.wait_until_own_server(url, proc, READY_TIMEOUT)
        if failed:
            for child in reversed(started):
                supervise.stop_child(child)
            _pid_path(state_dir, role).unlink(missing_ok=True)
            raise CliError(f"floatnet server {failed}{_last_words(logs / 'server.log')}")
    pids = ", ".join(f"{role} {proc.pid}" for role, proc in zip(argvs, started, strict=True))
    print(f"floatnet is up ({pids}); API on {url}; logs in {logs}", file=out)
    print(
        f"export OS_URL={url}    # then: floatnet net-list; stop with: floatnet down --state-dir {state_dir}",
        file=out,
    )
    return 0


def _last_words(log: Path) -> str:
    """The last line of a child's log (a server that cannot listen says why and what to do there)."""
    try:
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        lines = []
    return f":\n  {lines[-1]}\n(log: {log})" if lines else f"; see {log}"


def down(ctx: Invocation) -> int:
    """Stop what ``up --detach`` started from this state dir (agent first); stale PID files are removed.
    With ``--purge``, then remove the dataplane the agent left (``floatnet cleanup``)."""
    state_dir = ctx.args.state_dir
    if ctx.args.purge and os.geteuid() != 0:
        raise CliError("floatnet down --purge needs root (it removes namespaces, OVS ports and nft tables)")
    running = _running(state_dir)
    for role in reversed(ROLES):
        if role in running:
            killed = supervise.stop_pid(running[role])
            print(f"Stopped floatnet {role} (pid {running[role]}{', killed' if killed else ''})", file=ctx.out)
        _pid_path(state_dir, role).unlink(missing_ok=True)
    if not running:
        print(f"floatnet is not running from {state_dir}", file=ctx.out)
    if ctx.args.purge:  # ``floatnet cleanup`` in a child: node code stays out of this HTTP-only module
        config = ["--config", ctx.args.config] if ctx.args.config else []
        argv = supervise.floatnet_argv("cleanup", "--state-dir", state_dir, *config)
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        ctx.out.write(done.stdout)
        sys.stderr.write(done.stderr)
        return done.returncode
    return 0


def register(subparsers: Any) -> None:
    """``up`` and ``down``."""
    start = subparsers.add_parser("up", help="Run server and agent on this host (all-in-one).")
    start.add_argument("--state-dir", default=DEFAULT_STATE_DIR, help=f"default {DEFAULT_STATE_DIR}")
    start.add_argument("--config", metavar="FILE", help="ini file (default: none, all defaults)")
    start.add_argument("--bind", metavar="HOST:PORT", help="API address (default: config, else 127.0.0.1:9696)")
    start.add_argument("--detach", action="store_true", help="run in the background; stop with floatnet down")
    start.add_argument("--no-agent", action="store_true", help="server only (no root needed)")
    start.set_defaults(handler=up)
    stop = subparsers.add_parser("down", help="Stop what floatnet up --detach started.")
    stop.add_argument("--state-dir", default=DEFAULT_STATE_DIR, help=f"default {DEFAULT_STATE_DIR}")
    stop.add_argument("--purge", action="store_true", help="then remove the dataplane too (floatnet cleanup)")
    stop.add_argument("--config", metavar="FILE", help="with --purge: the ini file (its [ovs] ovsdb_connection)")
    stop.set_defaults(handler=down)
