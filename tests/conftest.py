"""Shared fixtures: an in-process app on a temp SQLite, and a real ``floatnet server`` subprocess.

* ``server_config(ini_text=DEFAULT_INI) -> Path`` writes a config file (factory).
* ``app_client`` — a Starlette TestClient on a fresh app with :data:`DEFAULT_INI`; ``make_app_client(ini)``
  builds one with another config.
* ``api`` — an httpx client on ``live_server``; ``cli`` — floatnet's CLI against it.
* ``live_server`` — the URL (``http://127.0.0.1:PORT``) of a real server started for the test module with
  :data:`DEFAULT_INI`; ``live_server_factory(ini)`` starts one per call for a test. Servers are stopped by
  PID at teardown.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from floatnet.api.app import create_app
from floatnet.config import load

pytest_plugins = ["tests.keystone_fixture"]  # the session-scoped ``keystone`` fixture (a real Keystone)

DEFAULT_INI = """
[DEFAULT]
auth_strategy = noauth

[ml2]
type_drivers = flat,vlan,vxlan,local
tenant_network_types = vlan,vxlan

[ml2_type_flat]
flat_networks = public_eth0,physnet_flat

[ml2_type_vlan]
network_vlan_ranges = public_eth1:100:199,public_eth2

[ml2_type_vxlan]
vni_ranges = 1000:1999

[ovs]
bridge_mappings = public_eth0:br-ex,public_eth1:br-eth1,public_eth2:br-eth2
"""

ConfigFactory = Callable[..., Path]


@pytest.fixture
def server_config(tmp_path: Path) -> ConfigFactory:
    """Factory: write ``ini_text`` to a config file and return its path."""
    counter = iter(range(1000))

    def make(ini_text: str = DEFAULT_INI) -> Path:
        path = tmp_path / f"floatnet-{next(counter)}.ini"
        path.write_text(ini_text)
        return path

    return make


@pytest.fixture
def make_app_client(tmp_path: Path) -> Iterator[Callable[..., object]]:
    """Factory: a TestClient on a fresh app (own state dir and SQLite) configured by ``ini_text``."""
    from starlette.testclient import TestClient

    clients: list[TestClient] = []

    def make(ini_text: str = DEFAULT_INI) -> TestClient:
        state = tmp_path / f"state-{len(clients)}"
        ini = tmp_path / f"app-{len(clients)}.ini"
        ini.write_text(ini_text)
        config = load(ini, state)
        # the noauth Host guard answers only the bound address: address the app as a real client would
        client = TestClient(create_app(config), base_url=f"http://{config.bind_host}:{config.bind_port}")
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.app.state.core.db.dispose()  # type: ignore[attr-defined]
        client.close()


@pytest.fixture
def app_client(make_app_client: Callable[..., object]) -> object:
    """A TestClient on a fresh in-process app with the default test config (admin unless headers say so)."""
    return make_app_client()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """A ``floatnet server`` subprocess; :meth:`stop` ends it by PID."""

    def __init__(self, config: Path, state_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = state_dir.parent / f"server-{self.port}.log"
        cmd = [sys.executable, "-m", "floatnet", "server", "--config", str(config)]
        cmd += ["--state-dir", str(state_dir), "--bind", f"127.0.0.1:{self.port}", "--log-level", "warning"]
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ))
        self._wait_ready()

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"floatnet server exited: {self.log.read_text()}")
            try:
                if httpx.get(self.url + "/", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"floatnet server did not answer in {timeout}s: {self.log.read_text()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


@pytest.fixture
def live_server_factory(tmp_path: Path) -> Iterator[Callable[..., str]]:
    """Factory: start a real server with ``ini_text`` (own state dir) and return its URL."""
    servers: list[LiveServer] = []

    def start(ini_text: str = DEFAULT_INI) -> str:
        base = tmp_path / f"live-{len(servers)}"
        base.mkdir()
        config = base / "floatnet.ini"
        config.write_text(ini_text)
        servers.append(LiveServer(config, base / "state"))
        return servers[-1].url

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a real server with :data:`DEFAULT_INI`, shared by the tests of one module."""
    base = tmp_path_factory.mktemp("live")
    config = base / "floatnet.ini"
    config.write_text(DEFAULT_INI)
    server = LiveServer(config, base / "state")
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def api(live_server: str) -> Iterator[httpx.Client]:
    """An httpx client on the module's :func:`live_server` (headers per request)."""
    with httpx.Client(base_url=live_server, timeout=60) as client:
        yield client


@pytest.fixture
def cli(live_server: str, capsys: pytest.CaptureFixture[str]) -> Callable[..., str]:
    """``cli("net-list", expect=0)``: run floatnet's CLI in-process against ``live_server``, check its status,
    return stdout (stderr if failing)."""
    from floatnet.cli.main import main

    def run(line: str, expect: int = 0) -> str:
        capsys.readouterr()
        status = main(["--os-url", live_server, *line.split()])
        captured = capsys.readouterr()
        assert status == expect, f"floatnet {line}: {status}\n{captured.out}\n{captured.err}"
        assert "Traceback" not in captured.err
        return captured.out if expect == 0 else captured.err

    return run


def _pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A private PostgreSQL cluster (initdb in a temp dir, TCP on 127.0.0.1, trust auth) for one module.

    Skips when the PostgreSQL server binaries are not installed. Runs as the ``postgres`` system user
    (the server refuses root) and is stopped with ``pg_ctl stop`` at teardown.
    """
    bindir = _pg_bin()
    if bindir is None or subprocess.run(["id", "postgres"], capture_output=True).returncode != 0:
        pytest.skip("PostgreSQL server binaries (package postgresql) are not installed")
    base = Path(tempfile.mkdtemp(prefix="floatnet-pg-"))  # pytest's temp dirs are private to root
    base.chmod(0o777)
    data, port = base / "data", free_port()
    as_pg = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*as_pg, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "floatnet"],
                   check=True, capture_output=True, cwd=base)  # fmt: skip
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
    start = [*as_pg, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-o", options, "-w"]
    subprocess.run([*start, "start"], check=True, capture_output=True, timeout=60, cwd=base)
    try:
        subprocess.run([*as_pg, str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "floatnet",
                        "floatnet"], check=True, capture_output=True, cwd=base)  # fmt: skip
        yield f"postgresql://floatnet@127.0.0.1:{port}/floatnet"
    finally:
        subprocess.run([*as_pg, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60, cwd=base)  # fmt: skip
        shutil.rmtree(base, ignore_errors=True)
