"""floatnet's own ovsdb-server + ovs-vswitchd, for hosts (and tests) where no Open vSwitch runs.

Both daemons live in one run directory (database, sockets, pidfiles, logs) and detach;
:meth:`OvsDaemons.start` adopts daemons already running from that directory (an agent restart must not restart
the switch and drop packets), and :meth:`OvsDaemons.stop` signals exactly the PIDs from its pidfiles, after
checking their command line.

Two ovs-vswitchd with the userspace (netdev) datapath cannot share a network namespace: each wants a tap
device called ``ovs-netdev`` (a name OVS fixes) and one per bridge, and the second removes the first's.
``OvsDaemons(rundir, netns=NAME)`` runs them inside a namespace of their own; the OVS ends of veths then go
into that namespace (``links.ensure_veth(..., netns=NAME)``). :func:`own_daemons` gives every run directory
its own namespace (:func:`private_netns`, recorded in ``<rundir>/netns`` so that daemons are always adopted
where they were started), and :func:`discover` is the one answer to "which OVS, in which namespace" that the
agent, the lab and the demo share.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import time
from pathlib import Path

from floatnet.linux import netns as _netns
from floatnet.linux.errors import KernelError

SCHEMA_CANDIDATES = (
    "/usr/share/openvswitch/vswitch.ovsschema",
    "/usr/local/share/openvswitch/vswitch.ovsschema",
)
SYSTEM_DB_SOCKETS = ("/var/run/openvswitch/db.sock", "/run/openvswitch/db.sock")
DAEMONS = ("ovsdb-server", "ovs-vswitchd")
NETNS_RECORD = "netns"  # in the run directory: the namespace the daemons were started in
PRIVATE_NETNS_PREFIX = "fnovs-"


def _run(argv: list[str], what: str, env: dict[str, str] | None = None, timeout: float = 20) -> str:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise KernelError(what, argv[0], exc) from exc
    if proc.returncode != 0:
        raise KernelError(what, argv[0], proc.stderr.strip() or f"exit {proc.returncode}")
    return proc.stdout


def schema_path() -> str:
    """The installed vswitch.ovsschema."""
    for candidate in SCHEMA_CANDIDATES:
        if os.path.exists(candidate):
            return candidate
    raise KernelError("find", "vswitch.ovsschema", "Open vSwitch is not installed")


def pid_alive(pid: int, needle: str) -> bool:
    """True if ``pid`` runs and its command line contains ``needle`` (a reused PID is not ours)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return needle in cmdline


class OvsDaemons:
    """ovsdb-server and ovs-vswitchd confined to ``rundir``; ``.connection`` is the OVSDB socket for
    ovsdbapp."""

    def __init__(self, rundir: str | os.PathLike[str], netns: str | None = None) -> None:
        self.rundir = Path(rundir).resolve()
        self.netns = netns
        self.db = self.rundir / "conf.db"
        self.sock = self.rundir / "db.sock"

    @property
    def connection(self) -> str:
        return f"unix:{self.sock}"

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(OVS_RUNDIR=str(self.rundir), OVS_DBDIR=str(self.rundir), OVS_LOGDIR=str(self.rundir))
        return env

    def pid(self, daemon: str) -> int | None:
        """The PID of ``daemon`` if it is running from this rundir (checked by command line), else None."""
        try:
            pid = int((self.rundir / f"{daemon}.pid").read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid, str(self.rundir)) else None

    def running(self) -> bool:
        return all(self.pid(d) for d in DAEMONS)

    def recorded_netns(self) -> str | None:
        """The namespace daemons from this rundir were started in (None: the host's, or never started)."""
        try:
            return (self.rundir / NETNS_RECORD).read_text().strip() or None
        except OSError:
            return None

    def start(self, timeout: float = 20.0) -> None:
        """Start both daemons unless they already run from this rundir; return once vswitchd is ready."""
        self.rundir.mkdir(parents=True, exist_ok=True)
        env = self._env()
        if self.netns is not None:
            _netns.ensure(self.netns)
        (self.rundir / NETNS_RECORD).write_text(f"{self.netns or ''}\n")
        if not self.db.exists():
            _run(["ovsdb-tool", "create", str(self.db), schema_path()], "ovsdb-tool create", env)
        if self.pid("ovsdb-server") is None:
            _run(_netns.exec_argv(self.netns, self._server_argv()), "start", env)
            _run(self._vsctl("--no-wait", "init"), "ovs-vsctl init", env, timeout)
        if self.pid("ovs-vswitchd") is None:
            _run(_netns.exec_argv(self.netns, self._vswitchd_argv()), "start", env)
        # Without --no-wait, ovs-vsctl waits until ovs-vswitchd has applied the change: vswitchd is ready.
        _run(
            self._vsctl(f"--timeout={int(timeout)}", "set", "Open_vSwitch", ".", "external_ids:floatnet=1"),
            "wait for ovs-vswitchd",
            env,
            timeout + 5,
        )

    def _server_argv(self) -> list[str]:
        r = self.rundir
        return [
            "ovsdb-server", str(self.db), f"--remote=punix:{self.sock}",
            f"--pidfile={r}/ovsdb-server.pid", f"--unixctl={r}/ovsdb-server.ctl",
            f"--log-file={r}/ovsdb-server.log", "--detach", "--no-chdir",
        ]  # fmt: skip

    def _vswitchd_argv(self) -> list[str]:
        r = self.rundir
        return [
            "ovs-vswitchd", self.connection,
            f"--pidfile={r}/ovs-vswitchd.pid", f"--unixctl={r}/ovs-vswitchd.ctl",
            f"--log-file={r}/ovs-vswitchd.log", "--detach", "--no-chdir",
        ]  # fmt: skip

    def _vsctl(self, *args: str) -> list[str]:
        return ["ovs-vsctl", f"--db={self.connection}", *args]

    def stop(self, timeout: float = 10.0) -> None:
        """Stop both daemons (vswitchd first, asked to remove its tap devices) by their pidfile PIDs.

        ``ovs-appctl exit --cleanup`` first, then SIGTERM, then SIGKILL for what outlives ``timeout``; the
        private namespace they ran in (:func:`private_netns`) is removed with them.
        """
        vswitchd = self.pid("ovs-vswitchd")
        if vswitchd is not None:
            ctl = str(self.rundir / "ovs-vswitchd.ctl")
            with contextlib.suppress(KernelError):  # falls back to signals below
                _run(["ovs-appctl", "-t", ctl, "exit", "--cleanup"], "ovs-appctl exit", timeout=timeout)
        for daemon in reversed(DAEMONS):
            pid = self.pid(daemon)
            if pid is None or self._wait_gone(pid, timeout / 2 if daemon == "ovs-vswitchd" else 0):
                continue
            os.kill(pid, signal.SIGTERM)
            if not self._wait_gone(pid, timeout):
                os.kill(pid, signal.SIGKILL)
        private = self.recorded_netns()
        if private == private_netns(self.rundir) and _netns.exists(private):
            _netns.delete(private)  # floatnet's own namespace for these daemons; a caller's namespace stays

    def _wait_gone(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while pid_alive(pid, str(self.rundir)):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True


def system_ovs_connection(timeout: float = 3.0) -> str | None:
    """``unix:<socket>`` of a system ovsdb-server that answers, else None (then floatnet starts its own)."""
    for sock in SYSTEM_DB_SOCKETS:
        if not os.path.exists(sock):
            continue
        conn = f"unix:{sock}"
        try:
            _run(["ovsdb-client", f"--timeout={int(timeout)}", "list-dbs", conn], "probe", timeout=timeout + 2)
        except KernelError:
            continue
        return conn
    return None


def kernel_datapath_available() -> bool:
    """True if the kernel's openvswitch module is loaded (datapath ``system``); else use ``netdev``."""
    return os.path.isdir("/sys/module/openvswitch")


def private_netns(rundir: str | os.PathLike[str]) -> str:
    """The namespace floatnet's own OVS from ``rundir`` runs in: ``fnovs-`` + 8 hex digits of the path (two
    state dirs, two namespaces, two ``ovs-netdev`` devices that never meet)."""
    digest = hashlib.sha256(str(Path(rundir).resolve()).encode()).hexdigest()
    return PRIVATE_NETNS_PREFIX + digest[:8]


def own_daemons(rundir: str | os.PathLike[str], netns: str | None = None, private: bool = True) -> OvsDaemons:
    """floatnet's own daemons for ``rundir``: in ``netns`` if given; daemons already running from ``rundir``
    where they were started (recorded); new ones in :func:`private_netns` unless ``private`` is False (a
    physical interface must be plugged where vswitchd runs: the host's namespace)."""
    if netns is not None:
        return OvsDaemons(rundir, netns=netns)
    found = OvsDaemons(rundir)
    if found.running():
        return OvsDaemons(rundir, netns=found.recorded_netns())
    return OvsDaemons(rundir, netns=private_netns(rundir) if private else None)


def discover(configured: str, rundir: str | os.PathLike[str]) -> tuple[str, str | None]:
    """The OVSDB connection and the namespace vswitchd runs in (None: the host's), as the agent chooses them:
    the configured connection, else the system's Open vSwitch if it answers, else floatnet's own from
    ``rundir`` (``<state_dir>/ovs``), running or to be started."""
    if configured:
        return configured, None
    system = system_ovs_connection()
    if system:
        return system, None
    daemons = own_daemons(rundir)
    return daemons.connection, daemons.netns
