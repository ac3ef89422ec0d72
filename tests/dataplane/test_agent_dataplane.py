"""The real agent (a ``floatnet agent`` process) with a real server, OVS (netdev), namespaces and nftables.

Oracles are independent of floatnet: ``ip -j``, ``nft -j``, ``ovs-vsctl`` and the server's API. The tests of
this module build on each other (one server, one agent, one topology), in file order:
DHCP namespace → a hand-plugged port → a router with a floating IP → restart changes nothing → kill, change
the state, restart: it converges and removes only what it owns.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from floatnet.lab.client import LabClient
from floatnet.linux import links
from floatnet.linux import netns as fl_netns
from floatnet.linux.names import dhcp_ns, qg_dev, qr_dev, router_ns, tap_dev
from tests.dataplane.conftest import OvsEnv, sh

# The server maps public_eth2 to br-eth2 too; this agent does not create br-eth2 (a misconfigured node):
# anything placed there fails, alone (test_a_failing_resource_is_error_and_the_rest_goes_on).
BRIDGES = "public_eth0:br-ex,public_eth1:br-eth1"
SYNC_RE = re.compile(r"full sync #(\d+) at seq (\d+): (\d+) actions, (\d+) errors")


@dataclass
class AgentProc:
    """One ``floatnet agent`` subprocess writing to its own log; stopped by PID."""

    workdir: Path
    url: str
    host: str
    ovs: OvsEnv
    proc: subprocess.Popen[bytes] | None = None
    runs: int = 0
    logs: list[Path] = field(default_factory=list)

    def write_config(self) -> Path:
        path = self.workdir / "agent.ini"
        path.write_text(
            f"[DEFAULT]\nstate_dir = {self.workdir / 'state'}\n\n[ovs]\nbridge_mappings = {BRIDGES}\n"
            f"ovsdb_connection = {self.ovs.connection}\ndatapath_type = netdev\n\n"
            "[agent]\nupstream_dns = 198.51.100.53\nreport_interval = 1\n"
        )
        return path

    def start(self) -> None:
        self.runs += 1
        log = self.workdir / f"agent-{self.runs}.log"
        self.logs.append(log)
        argv = [
            sys.executable,
            "-m",
            "floatnet",
            "agent",
            "--config",
            str(self.write_config()),
            "--server",
            self.url,
            "--host",
            self.host,
            "--ovs-netns",
            self.ovs.netns,
        ]
        with log.open("wb") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def log_text(self) -> str:
        return self.logs[-1].read_text(errors="replace") if self.logs else ""

    def first_sync(self, timeout: float = 60) -> tuple[int, int]:
        """Wait for this run's first full sync; returns (actions, errors)."""
        found = wait_for(lambda: SYNC_RE.search(self.log_text()), timeout, "the agent's first full sync", self)
        return int(found.group(3)), int(found.group(4))

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, sig)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)


def wait_for(check: Callable[[], Any], timeout: float, what: str, agent: AgentProc | None = None) -> Any:
    """Poll ``check`` until truthy; fail naming ``what`` (with the agent's log tail) after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (AssertionError, subprocess.SubprocessError, OSError, KeyError) as exc:
            last = exc
        else:
            if last:
                return last
        if agent is not None and agent.proc is not None and agent.proc.poll() is not None:
            break
        time.sleep(0.1)
    tail = agent.log_text()[-3000:] if agent else ""
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})\n{tail}")


@dataclass
class World:
    api: LabClient
    agent: AgentProc
    ovs: OvsEnv
    prefix: str
    ids: dict[str, str] = field(default_factory=dict)
    namespaces: set[str] = field(default_factory=set)


@pytest.fixture(scope="module")
def world(live_server: str, ovs: OvsEnv, run_prefix: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    workdir = tmp_path_factory.mktemp("agent")
    agent = AgentProc(workdir, live_server, f"{run_prefix}-node", ovs)
    w = World(LabClient(live_server), agent, ovs, run_prefix)
    agent.start()
    try:
        yield w
    finally:
        agent.stop()
        for ns in sorted(w.namespaces):
            fl_netns.kill_processes(ns)
            fl_netns.delete(ns)


def addresses(ns: str, dev: str) -> set[str]:
    data = json.loads(sh(["ip", "-j", "addr", "show", "dev", dev], netns=ns))
    return {f"{a['local']}/{a['prefixlen']}" for a in data[0]["addr_info"] if a["family"] == "inet"}


def ipv4_by_device(ns: str) -> dict[str, Any]:
    """``{ifname: (ifindex, mac, IPv4 addresses)}``: a re-created device or a changed address shows."""
    data = json.loads(sh(["ip", "-j", "addr"], netns=ns))
    return {
        d["ifname"]: (
            d["ifindex"],
            d.get("address"),
            sorted(f"{a['local']}/{a['prefixlen']}" for a in d["addr_info"] if a["family"] == "inet"),
        )
        for d in data
    }


def ovs_tag(ovs: OvsEnv, port: str) -> int | None:
    """The port's access tag as ``ovs-vsctl`` shows it (``[]`` = untagged)."""
    raw = ovs.vsctl("get", "Port", port, "tag").strip()
    return None if raw in ("[]", "") else int(raw)


def nft_table(ns: str) -> list[dict[str, Any]]:
    return list(json.loads(sh(["nft", "-j", "-a", "list", "table", "ip", "floatnet"], netns=ns))["nftables"])


def nft_map(ns: str, name: str) -> dict[str, str]:
    for obj in nft_table(ns):
        if obj.get("map", {}).get("name") == name:
            return {k: v for k, v in obj["map"].get("elem", [])}
    raise AssertionError(f"no map {name} in {ns}")


def test_vlan_network_with_dhcp_gets_namespace_and_dnsmasq(world: World) -> None:
    api = world.api
    net = api.create(
        "network",
        name="vlan101",
        **{
            "provider:network_type": "vlan",
            "provider:physical_network": "public_eth1",
            "provider:segmentation_id": 101,
        },
    )
    sub = api.create("subnet", network_id=net["id"], cidr="10.0.0.0/24", ip_version=4, enable_dhcp=True)
    world.ids.update(net=net["id"], subnet=sub["id"])
    ns = dhcp_ns(net["id"])
    world.namespaces.add(ns)
    world.agent.first_sync()
    query = f"/ports?network_id={net['id']}&device_owner=network:dhcp"
    dhcp_port = wait_for(lambda: api.call("GET", query)["ports"], 20, "the DHCP port", world.agent)[0]
    dev = tap_dev(dhcp_port["id"])
    ip = dhcp_port["fixed_ips"][0]["ip_address"]
    wait_for(lambda: addresses(ns, dev) == {f"{ip}/24"}, 20, f"{dev} with {ip}/24 in {ns}", world.agent)
    wait_for(lambda: ovs_tag(world.ovs, dev) == 101, 10, f"tag 101 on {dev}", world.agent)
    iface_id = world.ovs.vsctl("get", "Interface", dev, "external_ids:iface-id").strip().strip('"')
    assert iface_id == dhcp_port["id"]

    def dnsmasq_running() -> bool:
        pids = sh(["ip", "netns", "pids", ns]).split()
        return any(b"dnsmasq" in Path(f"/proc/{pid}/cmdline").read_bytes() for pid in pids)

    wait_for(dnsmasq_running, 20, f"dnsmasq in {ns}", world.agent)
    wait_for(lambda: api.show("port", dhcp_port["id"])["status"] == "ACTIVE", 10, "DHCP port ACTIVE", world.agent)


def test_hand_plugged_port_gets_its_tag_and_goes_active(world: World) -> None:
    """Plugged straight into OVS (no hybrid plug): fine without port security; with it the port cannot be
    filtered, so it stays isolated on the dead VLAN and ERROR (fail closed, never forwarded unfiltered)."""
    api = world.api
    bound = {"binding:host_id": world.agent.host}
    port = api.create("port", network_id=world.ids["net"], name="vm1", port_security_enabled=False, **bound)
    world.ids.update(port=port["id"], fixed=port["fixed_ips"][0]["ip_address"])
    vm = f"{world.prefix}-vm1"
    fl_netns.ensure(vm)
    dev = f"{world.prefix}v1"
    links.ensure_veth(dev, "eth0", vm, mac=port["mac_address"], peer_name="eth0", netns=world.ovs.netns)
    plug = ("add-port", "br-eth1", dev, "--", "set", "Interface", dev, f"external_ids:iface-id={port['id']}")
    world.ovs.vsctl(*plug)
    wait_for(lambda: ovs_tag(world.ovs, dev) == 101, 10, f"tag 101 on {dev}", world.agent)
    wait_for(lambda: api.show("port", port["id"])["status"] == "ACTIVE", 10, "port ACTIVE", world.agent)
    world.ovs.vsctl("del-port", dev)  # the hypervisor unplugs it: DOWN; plugged again: tagged and ACTIVE
    wait_for(lambda: api.show("port", port["id"])["status"] == "DOWN", 10, "port DOWN once unplugged", world.agent)
    world.ovs.vsctl(*plug)
    wait_for(lambda: ovs_tag(world.ovs, dev) == 101, 10, f"tag 101 on {dev} again", world.agent)
    wait_for(lambda: api.show("port", port["id"])["status"] == "ACTIVE", 10, "port ACTIVE again", world.agent)
    secured = api.create("port", network_id=world.ids["net"], name="vm-secured", **bound)
    dev2 = f"{world.prefix}v9"
    links.ensure_veth(dev2, "eth0", vm, mac=secured["mac_address"], peer_name="eth1", netns=world.ovs.netns)
    world.ovs.vsctl("add-port", "br-eth1", dev2, "--", "set", "Interface", dev2,
                    f"external_ids:iface-id={secured['id']}")  # fmt: skip
    wait_for(lambda: ovs_tag(world.ovs, dev2) == 4095, 10, f"dead VLAN on {dev2}", world.agent)
    wait_for(lambda: api.show("port", secured["id"])["status"] == "ERROR", 10, "secured port ERROR", world.agent)
    world.ovs.vsctl("del-port", dev2)
    links.delete_link(dev2, world.ovs.netns)
    api.delete_port(secured["id"])


def test_router_with_gateway_interface_and_floating_ip(world: World) -> None:
    api = world.api
    ext = api.create(
        "network",
        name="public",
        **{
            "router:external": True,
            "provider:network_type": "flat",
            "provider:physical_network": "public_eth0",
        },
    )
    api.create(
        "subnet",
        network_id=ext["id"],
        cidr="203.0.113.0/24",
        ip_version=4,
        enable_dhcp=False,
        gateway_ip="203.0.113.1",
        allocation_pools=[{"start": "203.0.113.100", "end": "203.0.113.150"}],
    )
    router = api.create("router", name="r1", external_gateway_info={"network_id": ext["id"]})
    ns = router_ns(router["id"])
    world.namespaces.add(ns)
    api.call("PUT", f"/routers/{router['id']}/add_router_interface", {"subnet_id": world.ids["subnet"]})
    fip = api.create("floatingip", floating_network_id=ext["id"], port_id=world.ids["port"])
    world.ids.update(ext=ext["id"], router=router["id"], fip=fip["id"], fip_ip=fip["floating_ip_address"])
    router = api.show("router", router["id"])
    gw_ip = router["external_gateway_info"]["external_fixed_ips"][0]["ip_address"]
    ports = api.call("GET", f"/ports?device_id={router['id']}")["ports"]
    qg = qg_dev(next(p["id"] for p in ports if p["device_owner"] == "network:router_gateway"))
    qr = qr_dev(next(p["id"] for p in ports if p["device_owner"] == "network:router_interface"))
    fip_ip = fip["floating_ip_address"]
    wait_for(lambda: addresses(ns, qg) == {f"{gw_ip}/24", f"{fip_ip}/32"}, 20, f"{qg} addresses", world.agent)
    assert addresses(ns, qr) == {"10.0.0.1/24"}
    assert ovs_tag(world.ovs, qr) == 101 and ovs_tag(world.ovs, qg) is None
    routes = json.loads(sh(["ip", "-j", "route", "show", "default"], netns=ns))
    assert [r["gateway"] for r in routes] == ["203.0.113.1"]
    assert sh(["cat", "/proc/sys/net/ipv4/ip_forward"], netns=ns).strip() == "1"
    wait_for(lambda: nft_map(ns, "fip_dnat") == {fip_ip: world.ids["fixed"]}, 10, "the DNAT element", world.agent)
    assert nft_map(ns, "fip_snat") == {world.ids["fixed"]: fip_ip}
    wait_for(lambda: api.show("floatingip", fip["id"])["status"] == "ACTIVE", 10, "FIP ACTIVE", world.agent)


def _snapshot(world: World) -> dict[str, Any]:
    """Everything a restart must leave alone: nft handles, addresses, OVS ports and dnsmasq PIDs."""
    ns = router_ns(world.ids["router"])
    dhcp = dhcp_ns(world.ids["net"])
    return {
        "nft": nft_table(ns),
        "addr": ipv4_by_device(ns),
        "routes": sh(["ip", "-j", "route"], netns=ns),
        "dhcp_pids": sorted(sh(["ip", "netns", "pids", dhcp]).split()),
        "ports": world.ovs.vsctl("--format=json", "--columns=_uuid,name,tag", "list", "Port"),
        "ifaces": world.ovs.vsctl("--format=json", "--columns=_uuid,name,external_ids,ofport", "list", "Interface"),
    }


def test_restart_changes_nothing(world: World) -> None:
    before = _snapshot(world)
    world.agent.stop()
    world.agent.start()
    actions, errors = world.agent.first_sync()
    assert (actions, errors) == (0, 0), world.agent.log_text()[-3000:]
    assert _snapshot(world) == before


def test_killed_agent_converges_and_removes_only_its_own(world: World) -> None:
    api, agent = world.api, world.agent
    stray = api.create("router", name="r2")
    subnet = api.create(
        "subnet",
        network_id=world.ids["net"],
        cidr="10.0.9.0/24",
        ip_version=4,
        enable_dhcp=False,
        gateway_ip="10.0.9.1",
    )
    api.call("PUT", f"/routers/{stray['id']}/add_router_interface", {"subnet_id": subnet["id"]})
    stray_ns = router_ns(stray["id"])
    world.namespaces.add(stray_ns)
    wait_for(lambda: fl_netns.exists(stray_ns), 20, stray_ns, agent)
    agent.stop(signal.SIGKILL)
    foreign_ns = f"qrouter-{uuid.uuid4()}"  # named like ours but this agent never made it: left alone
    not_ours_ns = f"{world.prefix}-notours"
    not_ours_port = f"{world.prefix}np"
    world.namespaces.update({foreign_ns, not_ours_ns})
    fl_netns.ensure(foreign_ns)
    fl_netns.ensure(not_ours_ns)
    world.ovs.vsctl("add-port", "br-ex", not_ours_port, "--", "set", "Interface", not_ours_port, "type=internal")
    api.call("PUT", f"/routers/{stray['id']}/remove_router_interface", {"subnet_id": subnet["id"]})
    api.call("DELETE", f"/routers/{stray['id']}")
    api.update("floatingip", world.ids["fip"], port_id=None)
    port2 = api.create("port", network_id=world.ids["net"], name="vm2")
    fip2 = api.create("floatingip", floating_network_id=world.ids["ext"], port_id=port2["id"])
    agent.start()
    actions, errors = agent.first_sync()
    assert actions > 0 and errors == 0, agent.log_text()[-3000:]
    ns = router_ns(world.ids["router"])
    assert nft_map(ns, "fip_dnat") == {fip2["floating_ip_address"]: port2["fixed_ips"][0]["ip_address"]}
    gw = api.call("GET", f"/ports?device_id={world.ids['router']}&device_owner=network:router_gateway")["ports"]
    assert f"{world.ids['fip_ip']}/32" not in addresses(ns, qg_dev(gw[0]["id"]))
    assert not fl_netns.exists(stray_ns)
    assert (
        fl_netns.exists(foreign_ns)
        and fl_netns.exists(not_ours_ns)
        and not_ours_port in world.ovs.vsctl("list-ports", "br-ex").split()
    )
    wait_for(lambda: api.show("floatingip", fip2["id"])["status"] == "ACTIVE", 10, "FIP2 ACTIVE", agent)
    world.ovs.vsctl("del-port", not_ours_port)
    fl_netns.delete(foreign_ns)


def test_a_failing_resource_is_error_and_the_rest_goes_on(world: World) -> None:
    api, agent = world.api, world.agent
    net = api.create(
        "network",
        name="nobridge",
        **{
            "provider:network_type": "vlan",
            "provider:physical_network": "public_eth2",
            "provider:segmentation_id": 300,
        },
    )
    api.create("subnet", network_id=net["id"], cidr="10.3.0.0/24", ip_version=4, enable_dhcp=True)
    world.namespaces.add(dhcp_ns(net["id"]))
    query = f"/ports?network_id={net['id']}&device_owner=network:dhcp"
    wait_for(lambda: [p["status"] for p in api.call("GET", query)["ports"]] == ["ERROR"], 20, "DHCP port ERROR", agent)

    def reported() -> list[dict[str, Any]]:
        rows = api.call("GET", f"/agents?host={agent.host}")["agents"]
        return [e for row in rows for e in row["configurations"].get("errors", []) if e["id"] == net["id"]]

    errors = wait_for(reported, 10, "the error in the agent's configurations", agent)
    assert errors[0]["kind"] == "network" and errors[0]["reason"]
    fip = api.create("floatingip", floating_network_id=world.ids["ext"], port_id=world.ids["port"])
    ns = router_ns(world.ids["router"])
    wait_for(
        lambda: nft_map(ns, "fip_dnat").get(fip["floating_ip_address"]) == world.ids["fixed"],
        10,
        "a new floating IP applied next to the failing network",
        agent,
    )
    wait_for(lambda: api.show("floatingip", fip["id"])["status"] == "ACTIVE", 10, "FIP ACTIVE", agent)
    assert agent.proc is not None and agent.proc.poll() is None
