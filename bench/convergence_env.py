"""The benchmark's world (see convergence.py): a private Open vSwitch in its own namespace, a real
``floatnet server`` and ``floatnet agent``, the seed's topology, an upstream namespace and instance namespaces —
all named with one run prefix and all removed by :meth:`Env.close` (processes by PID)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from api import free_port  # bench/api.py (the script's directory is on sys.path)

from floatnet.lab.client import LabClient
from floatnet.linux import links, netns
from floatnet.linux.names import dhcp_ns, router_ns
from floatnet.linux.ovs_daemon import OvsDaemons

ECHO_PORT = 7
BRIDGES = {"public_eth0": "br-ex", "public_eth1": "br-eth1"}
INI = """[DEFAULT]
auth_strategy = noauth
state_dir = {state}

[ml2]
type_drivers = flat,vlan
tenant_network_types = vlan

[ml2_type_flat]
flat_networks = public_eth0

[ml2_type_vlan]
network_vlan_ranges = public_eth1:100:199

[ovs]
bridge_mappings = public_eth0:br-ex,public_eth1:br-eth1
datapath_type = netdev
ovsdb_connection = {ovsdb}

[agent]
upstream_dns = 198.51.100.53
report_interval = 2
"""


def until(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            value = check()
            if value:
                return value
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


class Env:
    """Server, agent, private OVS and the namespaces of one benchmark run; all removed on exit."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.work = Path(tempfile.mkdtemp(prefix=f"floatnet-{prefix}-"))
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.namespaces: list[str] = []
        self.ovs_ns = f"{prefix}-ovs"
        self.ovs = OvsDaemons(self.work / "ovs", netns=self.ovs_ns)
        self.host = f"{prefix}-node"
        self.url = f"http://127.0.0.1:{free_port()}"
        self.api = LabClient(self.url, timeout=60)

    def __enter__(self) -> Env:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start_agent(self) -> None:
        argv = [sys.executable, "-m", "floatnet", "agent", "--config", str(self.work / "floatnet.ini"),
                "--server", self.url, "--host", self.host, "--ovs-netns", self.ovs_ns]  # fmt: skip
        self._spawn("agent", argv)

    def stop_agent(self) -> None:
        proc = self.procs.pop("agent")
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)

    def _spawn(self, role: str, argv: list[str]) -> None:
        with (self.work / f"{role}.log").open("ab") as log:
            self.procs[role] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def _start(self) -> None:
        self.ns(self.ovs_ns)
        self.ovs.start()
        ini = self.work / "floatnet.ini"
        ini.write_text(INI.format(state=self.work / "state", ovsdb=self.ovs.connection))
        py = [sys.executable, "-m", "floatnet"]
        self._spawn("server", [*py, "server", "--config", str(ini), "--bind", self.url[7:], "--log-level", "warning"])
        until(lambda: httpx.get(self.url + "/", timeout=1).status_code == 200, 30, "the server")
        self.start_agent()
        until(lambda: self.api.call("GET", f"/agents?host={self.host}")["agents"], 30, "the agent")
        self._topology()
        self._upstream()

    def _topology(self) -> None:
        api = self.api
        self.priv = api.create(
            "network",
            name="priv",
            **{
                "provider:network_type": "vlan",
                "provider:physical_network": "public_eth1",
                "provider:segmentation_id": 100,
            },
        )
        with contextlib.suppress(RuntimeError):  # unlimited ports and floating IPs where the quota API exists
            api.call("PUT", f"/quotas/{self.priv['project_id']}", {"quota": {"port": -1, "floatingip": -1}})
        self.priv_subnet = api.create("subnet", network_id=self.priv["id"], cidr="10.0.0.0/16", ip_version=4)
        self.ext = api.create(
            "network",
            name="public",
            **{
                "router:external": True,
                "provider:network_type": "flat",
                "provider:physical_network": "public_eth0",
            },
        )
        self.ext_subnet = api.create(
            "subnet",
            network_id=self.ext["id"],
            cidr="203.0.113.0/24",
            ip_version=4,
            enable_dhcp=False,
            gateway_ip="203.0.113.1",
            allocation_pools=[{"start": "203.0.113.10", "end": "203.0.113.250"}],
        )
        self.bulk_subnet = api.create(
            "subnet",
            network_id=self.ext["id"],
            cidr="10.254.0.0/18",
            ip_version=4,
            enable_dhcp=False,
            gateway_ip=None,
        )
        gateway = {"network_id": self.ext["id"], "external_fixed_ips": [{"subnet_id": self.ext_subnet["id"]}]}
        self.router = api.create("router", name="bench", external_gateway_info=gateway)
        api.call("PUT", f"/routers/{self.router['id']}/add_router_interface", {"subnet_id": self.priv_subnet["id"]})
        self.router_ns = router_ns(self.router["id"])
        until(lambda: netns.exists(self.router_ns) and self.count_fips() == 0, 30, "the router namespace")

    def _upstream(self) -> None:
        self.upstream = self.ns(f"{self.prefix}-up")
        dev = f"{self.prefix}up"
        links.ensure_veth(dev, "eth0", self.upstream, peer_name="eth0", netns=self.ovs_ns)
        self.vsctl("add-port", BRIDGES["public_eth0"], dev)
        links.tx_offload_off(dev, self.ovs_ns)
        links.tx_offload_off("eth0", self.upstream)
        links.add_address(self.upstream, "eth0", "203.0.113.1/24")
        netns.run_in(self.upstream, _fast_arp_retries)

    def ns(self, name: str) -> str:
        netns.ensure(name)
        self.namespaces.append(name)
        return name

    def vsctl(self, *args: str) -> str:
        argv = ["ovs-vsctl", f"--db={self.ovs.connection}", "--timeout=10", *args]
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout

    def make_vm(self, name: str, wired: bool = True) -> dict[str, Any]:
        """A port bound to this host and its "instance": a namespace plugged into OVS as a hypervisor does —
        straight, without the hybrid plug, so without port security (the agent would isolate a port it cannot
        filter; security groups are measured by bench/security_groups.py)."""
        attrs = {"binding:host_id": self.host, "port_security_enabled": False}
        port = self.api.create("port", network_id=self.priv["id"], name=name, **attrs)
        ns, dev = self.ns(f"{self.prefix}-{name}"), f"{self.prefix}{name}"
        links.ensure_veth(dev, "eth0", ns, mac=port["mac_address"], peer_name="eth0", netns=self.ovs_ns)
        links.tx_offload_off(dev, self.ovs_ns)
        links.tx_offload_off("eth0", ns)
        self.vsctl(
            "add-port",
            BRIDGES["public_eth1"],
            dev,
            "--",
            "set",
            "Interface",
            dev,
            f"external_ids:iface-id={port['id']}",
            f'external_ids:attached-mac="{port["mac_address"]}"',
        )
        if wired:
            links.add_address(ns, "eth0", port["fixed_ips"][0]["ip_address"] + "/16")
            links.sync_routes(ns, "10.0.0.1")
        return {"port": port, "ns": ns, "dev": dev}

    def drop_vm(self, vm: dict[str, Any]) -> None:
        self.vsctl("--if-exists", "del-port", vm["dev"])
        netns.delete(vm["ns"])
        self.namespaces.remove(vm["ns"])
        self.api.call("DELETE", f"/ports/{vm['port']['id']}")

    def listen(self, ns: str, port: int) -> None:
        """A TCP listener inside ``ns`` that accepts and closes connections (a daemon thread)."""
        server = netns.run_in(ns, socket.create_server, ("0.0.0.0", port))
        threading.Thread(target=_accept_forever, args=(server,), daemon=True).start()

    def dhcp(self, ns: str) -> str | None:
        """Run udhcpc (script: /bin/true, so nothing is configured, the host's resolv.conf never touched)."""
        argv = ["udhcpc", "-i", "eth0", "-f", "-q", "-n", "-t", "20", "-T", "1", "-s", "/bin/true"]
        proc = subprocess.run(netns.exec_argv(ns, argv), capture_output=True, text=True, timeout=60, check=False)
        found = re.search(r"lease of ([0-9.]+) obtained", proc.stdout + proc.stderr)
        return found.group(1) if found else None

    def add_bulk_fips(self, count: int) -> None:
        """``count`` ports with a floating IP each, spread over projects of 40 (within default quotas)."""
        for i in range(count):
            project = f"bench-{i // 40}"
            port = self.api.create("port", network_id=self.priv["id"], name=f"bulk{i}", project_id=project)
            self.api.create("floatingip", floating_network_id=self.ext["id"], subnet_id=self.bulk_subnet["id"],
                            port_id=port["id"], project_id=project)  # fmt: skip
        until(lambda: self.count_fips() >= count, 120, f"{count} floating IPs in the router's NAT map")

    def wait_unmapped(self, ip: str) -> None:
        """Wait until the agent removed ``ip`` from the router (its /32), then let the conntrack flush finish:
        each association is measured from an idle agent."""
        until(lambda: f" {ip}/32 " not in _run(netns.exec_argv(self.router_ns, ["ip", "-o", "addr"])), 10, ip)
        time.sleep(0.3)

    def count_fips(self) -> int:
        argv = netns.exec_argv(self.router_ns, ["nft", "-j", "list", "map", "ip", "floatnet", "fip_dnat"])
        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
        maps = [o["map"] for o in json.loads(out)["nftables"] if "map" in o]
        return len(maps[0].get("elem", [])) if maps else 0

    def agent_log(self) -> list[str]:
        text = (self.work / "agent.log").read_text(errors="replace") if (self.work / "agent.log").exists() else ""
        return [line for line in text.splitlines() if "floatnet.agent" in line]

    def close(self) -> None:
        """Stop our processes by PID, remove our namespaces (and what runs in them), stop OVS."""
        owned = []
        with contextlib.suppress(Exception):
            owned = [router_ns(r["id"]) for r in self.api.call("GET", "/routers")["routers"]]
            owned += [dhcp_ns(n["id"]) for n in self.api.call("GET", "/networks")["networks"]]
        for role in ("agent", "server"):
            proc = self.procs.pop(role, None)
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
        for name in owned + [n for n in reversed(self.namespaces) if n != self.ovs_ns]:
            if netns.exists(name):
                _kill_pids_in(name)
                netns.delete(name)
        with contextlib.suppress(Exception):
            self.ovs.stop()
        if netns.exists(self.ovs_ns):
            _kill_pids_in(self.ovs_ns)
            netns.delete(self.ovs_ns)
        if os.environ.get("FLOATNET_BENCH_KEEP") is None:
            shutil.rmtree(self.work, ignore_errors=True)


def _fast_arp_retries() -> None:
    """Inside the upstream namespace: resolve ARP with 10 ms retries, so the probe measures the agent."""
    Path("/proc/sys/net/ipv4/neigh/eth0/retrans_time_ms").write_text("10")


def _accept_forever(server: socket.socket) -> None:
    while True:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        conn.close()


def _run(argv: list[str]) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


def _kill_pids_in(ns: str) -> None:
    out = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True, check=False).stdout
    for pid in out.split():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)
