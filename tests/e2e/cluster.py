"""The multi-node e2e fixture: one real server, the multi-node lab (switch, upstream) and its nodes — each node a
"machine" of its own with its own OVS and ``floatnet agent`` (:mod:`floatnet.lab.nodes`) — all named with a
per-module prefix, driven through the real ``floatnet`` CLI and torn down with ``lab down``; the teardown then
asserts that no namespace with the prefix and no process started from the work directory is left behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from floatnet.lab.procs import cmdline
from floatnet.linux import netns as fl_netns
from tests.e2e.fabric import PHYSNET_EXT, Fabric, wait_until
from tests.privileged import kill_ns_pids


@dataclass
class Cluster(Fabric):
    """A server and a multi-node lab; ``own_ovs``: no OVS but the nodes' own (each agent starts its own)."""

    own_ovs: bool = True
    database: str = ""  # a database URL shared with other servers (PostgreSQL); default: the server's SQLite
    defaults: tuple[str, ...] = ()  # more ``[DEFAULT]`` options ("name = value")

    def env(self) -> dict[str, str]:
        extra = {"OS_URL": self.url, "FLOATNET_CONFIG": str(self.config_path), "FLOATNET_LAB_PREFIX": self.prefix,
                 "PYTHONUNBUFFERED": "1"}  # fmt: skip
        return dict(os.environ, **extra)

    def write_config(self) -> None:
        """The e2e configuration, with Neutron's automatic L3 failover switched on (and ``database``,
        ``defaults``)."""
        super().write_config()
        text = self.config_path.read_text()
        options = "".join(f"{line}\n" for line in ("allow_automatic_l3agent_failover = true", *self.defaults))
        text = text.replace("[DEFAULT]\n", f"[DEFAULT]\n{options}")
        self.config_path.write_text(text + (f"\n[database]\nconnection = {self.database}\n" if self.database else ""))

    def lab_state(self) -> dict[str, Any]:
        path = self.workdir / "state" / "lab" / f"{self.prefix}lab.json"
        return dict(json.loads(path.read_text())) if path.exists() else {}

    def node(self, name: str) -> dict[str, Any]:
        return dict(self.lab_state()["nodes"][name])

    def on_node(self, node: str, *argv: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        """``floatnet lab exec NODE -- ARGV``: inside the node's namespaces (nsenter)."""
        return self.lab("exec", node, "--", *argv, check=check)

    def public_network(self) -> dict[str, Any]:
        """The seed's flat external network ``public`` with 203.0.113.0/24 (gateway the lab's upstream, floating
        pool .100-.119, no DHCP)."""
        public = self.api("POST", "/networks", json={"network": {
            "name": "public", "router:external": True, "provider:network_type": "flat",
            "provider:physical_network": PHYSNET_EXT}})["network"]  # fmt: skip
        pool = [{"start": "203.0.113.100", "end": "203.0.113.119"}]
        self.api("POST", "/subnets", json={"subnet": {
            "network_id": public["id"], "ip_version": 4, "cidr": "203.0.113.0/24", "gateway_ip": "203.0.113.1",
            "enable_dhcp": False, "allocation_pools": pool}})  # fmt: skip
        return dict(public)

    def agents(self, host: str) -> dict[str, dict[str, Any]]:
        return {a["agent_type"]: a for a in self.api("GET", "/agents", params={"host": host})["agents"]}

    def wait_agents(self, host: str, alive: bool, timeout: float = 30.0) -> None:
        def check() -> bool:
            rows = self.agents(host).values()
            return bool(rows) and all(a["alive"] is alive for a in rows)

        wait_until(check, timeout, f"the agents of {host} {'alive' if alive else 'dead'}", interval=0.5)

    def ours(self) -> list[int]:
        """PIDs of processes still running from this cluster's work directory (its agents, OVS, dnsmasq, …)."""
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit() and str(self.workdir) in (cmdline(int(entry)) or ""):
                found.append(int(entry))
        return found


def make_cluster(database: str = "", defaults: tuple[str, ...] = ()) -> Iterator[Cluster]:
    """Server + empty multi-node lab for one test module (on ``database`` when given, with ``defaults`` in the
    configuration's ``[DEFAULT]``); everything removed afterwards, leftovers asserted."""
    prefix = f"m{os.urandom(2).hex()}-"
    workdir = Path(tempfile.mkdtemp(prefix=f"floatnet-{prefix}"))
    cluster = Cluster(prefix=prefix, workdir=workdir, database=database, defaults=defaults)
    try:
        cluster.write_config()
        cluster.start_server()
        yield cluster
    finally:
        leftovers = _teardown(cluster)
        if os.environ.get("FLOATNET_E2E_KEEP") is None:
            shutil.rmtree(workdir, ignore_errors=True)
    assert leftovers == ([], []), f"left behind: namespaces {leftovers[0]}, processes {leftovers[1]}"


def _teardown(cluster: Cluster) -> tuple[list[str], list[int]]:
    """``lab down`` and the server stopped; then what is still there is swept (and returned, to fail on)."""
    cluster.lab("down", check=False)
    cluster.stop("server")
    namespaces, processes = fl_netns.list_names([cluster.prefix]), cluster.ours()
    for pid in processes:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for ns in namespaces:
        kill_ns_pids(ns)
        fl_netns.delete(ns)
    return namespaces, processes
