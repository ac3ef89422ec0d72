"""The multi-node benchmark's world: a PostgreSQL, two ``floatnet server`` processes on it, the multi-node lab.

* :class:`Postgres` — a private cluster (``initdb`` in a temp dir as the ``postgres`` user, TCP on 127.0.0.1,
  trust auth, ``fsync=off``), stopped and removed at the end; or an existing database (``--database-url``).
* :class:`World` — the two servers (the first one migrates the database, the second starts once it answers),
  the lab (:mod:`floatnet.lab.nodes`) on the first one's URL; each node follows the server it is given. A
  context manager: ``lab down``, the servers stopped by PID, the cluster stopped.
* :func:`first_connect` — the associate → first TCP connect probe: a new non-blocking connect every 2 ms,
  each kept open for 1 s, so the first SYN that finds the floating IP mapped completes. A loop of
  blocking connects with a short timeout (``convergence.connect_until``, 20 ms) measures the mapping to within
  its timeout only: a SYN sent just before the mapping is lost and the connect is only retried when its
  timeout expires (multi-node samples clustered at 24, 48, 72 ms: one, two, three timeouts).
"""

from __future__ import annotations

import contextlib
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from floatnet import config as fn_config
from floatnet.lab import ops
from floatnet.lab.client import LabClient
from floatnet.lab.context import LabContext, make_context

INI = """[DEFAULT]
auth_strategy = noauth
bind = 127.0.0.1:{port}
state_dir = {state}
allow_automatic_l3agent_failover = true
[database]
connection = {database}
[ml2]
type_drivers = flat,vlan,vxlan
tenant_network_types = vlan
[ml2_type_flat]
flat_networks = public_eth0
[ml2_type_vlan]
network_vlan_ranges = public_eth1:100:299
[ml2_type_vxlan]
vni_ranges = 4000:4099
[ovs]
bridge_mappings = public_eth0:br-ex,public_eth1:br-eth1
datapath_type = netdev
[agent]
upstream_dns = 198.51.100.53
report_interval = 2
"""
ATTEMPT_EVERY = 0.002
ATTEMPT_LIFETIME = 1.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def until(check: Any, timeout: float, what: str, interval: float = 0.05) -> Any:
    """``check()``'s first truthy answer, polled every ``interval`` s; RuntimeError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(interval)
    raise RuntimeError(f"timed out after {timeout:g} s waiting for {what}")


class Postgres:
    """A private PostgreSQL cluster for one run (see the module docstring); ``url`` is its database."""

    def __init__(self) -> None:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if not found:
            raise RuntimeError("PostgreSQL server binaries (package postgresql) are not installed")
        self.bin, self.base, port = found[-1].parent, Path(tempfile.mkdtemp(prefix="floatnet-bmpg-")), free_port()
        self.base.chmod(0o777)  # the server runs as postgres, never as root
        self._pg("initdb", "-D", str(self.base / "data"), "-A", "trust", "-U", "floatnet")
        options = f"-p {port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300"
        options += " -c log_lock_waits=on"  # a lock held past deadlock_timeout (1 s) is logged, with the statements
        self._pg("pg_ctl", "-D", str(self.base / "data"), "-l", str(self.base / "log"), "-o", options, "-w", "start")
        self._pg("createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "floatnet", "floatnet")
        self.url = f"postgresql://floatnet@127.0.0.1:{port}/floatnet"

    def _pg(self, tool: str, *args: str) -> None:
        argv = ["runuser", "-u", "postgres", "--", str(self.bin / tool), *args]
        subprocess.run(argv, check=True, capture_output=True, cwd=self.base, timeout=120)

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError):
            self._pg("pg_ctl", "-D", str(self.base / "data"), "-m", "immediate", "stop")
        shutil.rmtree(self.base, ignore_errors=True)


class World:
    """PostgreSQL, servers ``a`` and ``b`` on it and the lab of one run (a context manager)."""

    def __init__(self, prefix: str, database_url: str | None, keep_logs: Path | None = None) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=f"floatnet-{prefix}"))
        self.keep_logs = keep_logs
        self.postgres = None if database_url else Postgres()
        database = database_url or (self.postgres.url if self.postgres else "")
        self.servers: dict[str, subprocess.Popen[bytes]] = {}
        self.urls: dict[str, str] = {}
        self.apis: dict[str, LabClient] = {}
        try:
            for name in ("a", "b"):  # one after the other: the first migrates the database
                self._start(name, database)
        except BaseException:
            self.__exit__()
            raise
        config = fn_config.load(self.dir / "a.ini")
        self.ctx: LabContext = make_context(config, self.urls["a"], prefix=prefix)
        self.api = self.apis["a"]

    def _start(self, name: str, database: str) -> None:
        port = free_port()
        ini = self.dir / f"{name}.ini"
        ini.write_text(INI.format(port=port, state=self.dir / f"state-{name}", database=database))
        self.urls[name] = f"http://127.0.0.1:{port}"
        self.apis[name] = LabClient(self.urls[name], timeout=30)
        log = open(self.dir / f"server-{name}.log", "ab")  # noqa: SIM115 - the child's for its lifetime
        argv = [sys.executable, "-m", "floatnet", "server", "--config", str(ini)]
        self.servers[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        until(lambda: _answers(self.apis[name]), 60, f"server {name}")

    def __enter__(self) -> World:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.keep_logs is not None:  # the servers', the nodes' (agents, relays) and PostgreSQL's logs
            shutil.copytree(self.dir, self.keep_logs, ignore=_not_logs, dirs_exist_ok=True)
            if self.postgres is not None:
                shutil.copy(self.postgres.base / "log", self.keep_logs / "postgresql.log")
        if hasattr(self, "ctx"):
            _, errors = ops.down(self.ctx, self.api)
            for error in errors:
                print(f"teardown: {error}", file=sys.stderr)
        for server in self.servers.values():
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:  # a long poll holding the graceful shutdown
                server.kill()
                server.wait(5)
        if self.postgres is not None:
            self.postgres.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def _not_logs(directory: str, entries: list[str]) -> list[str]:
    """``copytree``'s filter: keep the folders and the ``*.log`` files only (no sockets, databases, pid files)."""
    return [e for e in entries if not e.endswith(".log") and not Path(directory, e).is_dir()]


def _answers(api: LabClient) -> bool:
    try:
        api.list("network")
    except Exception:  # not listening yet
        return False
    return True


def first_connect(ip: str, port: int, deadline: float) -> float | None:
    """In the calling thread's namespace: the monotonic time the first of the staggered connects to
    ``ip``:``port`` completed (see the module docstring), None if none did by ``deadline``."""
    pending: dict[int, tuple[socket.socket, float]] = {}
    poller = select.poll()
    next_at = time.monotonic()
    try:
        while (now := time.monotonic()) < deadline:
            if now >= next_at:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.setblocking(False)
                sock.connect_ex((ip, port))
                pending[sock.fileno()] = (sock, now)
                poller.register(sock.fileno(), select.POLLOUT)
                next_at = now + ATTEMPT_EVERY
            for fd, _event in poller.poll(max(0.0, next_at - time.monotonic()) * 1000):
                sock, _started = pending.pop(fd)
                poller.unregister(fd)
                done = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
                sock.close()
                if done:
                    return time.monotonic()
            for fd, (sock, started) in list(pending.items()):
                if now - started > ATTEMPT_LIFETIME:
                    poller.unregister(fd)
                    sock.close()
                    del pending[fd]
        return None
    finally:
        for sock, _started in pending.values():
            sock.close()
