"""One end-to-end "fabric": a real floatnet server and agent, a private Open vSwitch and the lab, all named
with a per-module prefix, driven through the real ``floatnet`` CLI and openstacksdk, and torn down by PID and
by name.

Oracles stay independent of floatnet: ``ip``, ``nft -j``, ``ovs-vsctl``, ``tcpdump``, ``dig`` and traffic
between the lab's namespaces (:mod:`floatnet.lab.probe` runs there as a separate process).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from floatnet.linux.ovs_daemon import OvsDaemons
from tests.conftest import free_port

PHYSNET_EXT, PHYSNET_VLAN = "public_eth0", "public_eth1"
READY_TIMEOUT = 30.0

CONFIG = """[DEFAULT]
auth_strategy = noauth
bind = 127.0.0.1:{port}
state_dir = {state}

[ml2]
type_drivers = flat,vlan,vxlan
tenant_network_types = vlan

[ml2_type_vxlan]
vni_ranges = 1000:1099

[ml2_type_flat]
flat_networks = {ext}

[ml2_type_vlan]
network_vlan_ranges = {vlan}:100:299

[ovs]
bridge_mappings = {ext}:{br_ext},{vlan}:{br_vlan}
datapath_type = netdev
ovsdb_connection = {ovsdb}

[agent]
host = {host}
upstream_dns = 198.51.100.53
report_interval = 2
"""


class Fatal(AssertionError):
    """A failure no waiting fixes (a child process died): :func:`wait_until` re-raises it at once."""


def wait_until(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    """Poll ``check()`` until it returns something truthy; AssertionError naming ``what`` after
    ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except Fatal:
            raise
        except Exception as exc:  # a check may fail while things converge; keep the last reason
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what} (last: {last!r})")


def run(
    argv: list[str], check: bool = True, timeout: float = 60, **kw: Any
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@dataclass
class Fabric:
    """Server + agent + private OVS + lab for one test module; see the module docstring."""

    prefix: str
    workdir: Path
    port: int = field(default_factory=free_port)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    ovs: OvsDaemons | None = None
    own_ovs: bool = False  # the agent starts (and restarts) its own OVS daemons instead of the fixture

    @property
    def host(self) -> str:
        return f"{self.prefix}host"

    @property
    def ovs_netns(self) -> str:
        """Where this fabric's ovs-vswitchd runs: two netdev switches cannot share a namespace."""
        return f"ovs-{self.prefix}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def bridges(self) -> dict[str, str]:
        return {PHYSNET_EXT: f"{self.prefix}ex", PHYSNET_VLAN: f"{self.prefix}vl"}

    @property
    def config_path(self) -> Path:
        return self.workdir / "floatnet.ini"

    @property
    def ovsdb(self) -> str:
        assert self.ovs is not None
        return self.ovs.connection

    def write_config(self) -> None:
        text = CONFIG.format(
            port=self.port, state=self.workdir / "state", ext=PHYSNET_EXT, vlan=PHYSNET_VLAN,
            br_ext=self.bridges[PHYSNET_EXT], br_vlan=self.bridges[PHYSNET_VLAN],
            ovsdb="" if self.own_ovs else self.ovsdb, host=self.host,
        )  # fmt: skip
        self.config_path.write_text(text)

    def env(self) -> dict[str, str]:
        extra = {
            "OS_URL": self.url,
            "FLOATNET_CONFIG": str(self.config_path),
            "FLOATNET_LAB_PREFIX": self.prefix,
            "FLOATNET_OVSDB": self.ovsdb,
            "FLOATNET_OVS_NETNS": self.ovs_netns,
            "PYTHONUNBUFFERED": "1",
        }
        return dict(os.environ, **extra)

    # -- processes -------------------------------------------------------------------------------------------

    def _spawn(self, role: str, argv: list[str]) -> subprocess.Popen[bytes]:
        log = open(self.workdir / f"{role}.log", "ab")  # noqa: SIM115 - owned by the child for its lifetime
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=self.env(), start_new_session=True)  # fmt: skip
        log.close()
        self.procs[role] = proc
        return proc

    def start_server(self) -> None:
        self._spawn("server", [sys.executable, "-m", "floatnet", "server", "--config", str(self.config_path)])
        wait_until(self._server_ready, READY_TIMEOUT, f"the server on {self.url} ({self.workdir}/server.log)")

    def _server_ready(self) -> bool:
        if self.procs["server"].poll() is not None:
            raise Fatal(f"server exited: {self.log('server')[-2000:]}")
        try:
            return httpx.get(f"{self.url}/v2.0/networks", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def start_agent(self) -> None:
        argv = [sys.executable, "-m", "floatnet", "agent", "--config", str(self.config_path),
                "--server", self.url, "--host", self.host, "--ovs-netns", self.ovs_netns]  # fmt: skip
        self._spawn("agent", argv)
        wait_until(self.agent_alive, READY_TIMEOUT, f"agent {self.host} alive ({self.workdir}/agent.log)")

    def agent_alive(self) -> bool:
        if self.procs["agent"].poll() is not None:
            raise Fatal(f"agent exited: {self.log('agent')[-2000:]}")
        agents = httpx.get(f"{self.url}/v2.0/agents", params={"host": self.host}, timeout=2).json()["agents"]
        return any(a["alive"] for a in agents)

    def stop(self, role: str, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
        """Stop one of our children by its PID (SIGKILL if it outlives ``timeout``)."""
        proc = self.procs.pop(role, None)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def log(self, role: str) -> str:
        path = self.workdir / f"{role}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # -- clients ---------------------------------------------------------------------------------------------

    def cli(self, *args: str, check: bool = True) -> Any:
        """Run ``floatnet ARGS -f json`` (table output when ``-f`` is given) and return the parsed output."""
        argv = [sys.executable, "-m", "floatnet", *args]
        wants_json = "-f" not in args and args[0] not in ("lab",)
        proc = run(argv + (["-f", "json"] if wants_json else []), check=check, env=self.env())
        if wants_json and proc.returncode == 0 and proc.stdout.strip():
            return json.loads(proc.stdout)
        return proc

    def lab(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "floatnet", "lab", *args]
        return run(argv, check=check, env=self.env(), timeout=90)

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """A raw Neutron API call (for reading status fields); raises on an error status."""
        answer = httpx.request(method, f"{self.url}/v2.0{path}", timeout=10, **kwargs)
        answer.raise_for_status()
        return answer.json() if answer.content else None

    def sdk(self) -> Any:
        """An openstacksdk connection to the server (no auth, the endpoint given directly)."""
        import openstack

        return openstack.connection.Connection(auth_type="none", auth={"endpoint": self.url},
                                               network_endpoint_override=self.url)  # fmt: skip

    def ovs_vsctl(self, *args: str) -> str:
        """``ovs-vsctl`` against this fabric's OVS (an independent oracle)."""
        return run(["ovs-vsctl", f"--db={self.ovsdb}", "--timeout=10", *args]).stdout
