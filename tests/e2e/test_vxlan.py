"""VXLAN tenant networks between two nodes, with real traffic.

Two agents (hosts ``<prefix>a`` and ``<prefix>b``), each with its own state directory and its own Open vSwitch
in its own namespace, joined by an underlay veth (10.250.x addresses, inside those namespaces only) that carries
the VXLAN packets between their ``[ovs] local_ip`` endpoints. Instances are namespaces plugged like a
hypervisor plugs a VM (:mod:`floatnet.lab.instance`). Proven here: instances of one vxlan network on
different nodes get DHCP (with the MTU lowered to 1450) and reach each other; an instance of a second vxlan
network with the same addresses is not reachable from the first; a deleted vxlan device is put back by the
agent; a router's interface on a vxlan network answers instances of both nodes. Everything carries the
module's prefix and is removed afterwards.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from floatnet import config as fconfig
from floatnet.lab import instance
from floatnet.lab.client import LabClient
from floatnet.lab.context import LabContext, make_context
from floatnet.lab.state import Instance
from floatnet.linux import netns as fl_netns
from floatnet.linux.names import dhcp_ns, router_ns
from floatnet.linux.ovs_daemon import OvsDaemons
from tests.conftest import free_port
from tests.e2e.fabric import Fatal, run, wait_until
from tests.privileged import kill_ns_pids

NODES = {"a": "10.250.0.1", "b": "10.250.0.2"}
CONFIG = """[DEFAULT]
auth_strategy = noauth
bind = 127.0.0.1:{port}
state_dir = {state}

[ml2]
type_drivers = flat,vlan,vxlan
tenant_network_types = vxlan

[ml2_type_vxlan]
vni_ranges = 3000:3099

[ovs]
datapath_type = netdev
ovsdb_connection = {ovsdb}
local_ip = {local_ip}

[agent]
host = {host}
report_interval = 2
"""


@dataclass
class Node:
    """One node: its OVS (in namespace ``ovs_ns``), its agent's config and state, its lab context."""

    name: str
    host: str
    ovs_ns: str
    local_ip: str
    workdir: Path
    ovs: OvsDaemons
    config_path: Path
    lab: LabContext | None = None
    agent: subprocess.Popen[bytes] | None = None


@dataclass
class TwoNodes:
    prefix: str
    workdir: Path
    port: int = field(default_factory=free_port)
    nodes: dict[str, Node] = field(default_factory=dict)
    server: subprocess.Popen[bytes] | None = None
    instances: list[tuple[Node, Instance]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = httpx.request(method, f"{self.url}/v2.0{path}", timeout=10, **kwargs)
        assert answer.status_code < 400, answer.text
        return answer.json() if answer.content else None

    def spawn(self, role: str, argv: list[str]) -> subprocess.Popen[bytes]:
        with open(self.workdir / f"{role}.log", "ab") as log:
            return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)  # fmt: skip

    def log(self, role: str) -> str:
        path = self.workdir / f"{role}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""


def _node(two: TwoNodes, name: str) -> Node:
    workdir = two.workdir / name
    ovs = OvsDaemons(workdir / "ovs", netns=f"{two.prefix}ovs{name}")
    node = Node(name, f"{two.prefix}{name}", ovs.netns or "", NODES[name], workdir, ovs, workdir / "floatnet.ini")
    fl_netns.ensure(node.ovs_ns)
    ovs.start()
    node.config_path.write_text(CONFIG.format(port=two.port, state=workdir / "state", ovsdb=ovs.connection,
                                              local_ip=node.local_ip, host=node.host))  # fmt: skip
    return node


def _underlay(two: TwoNodes) -> None:
    """A veth between the two OVS namespaces carrying the tunnel endpoints (never in the host's namespace)."""
    a, b = two.nodes["a"], two.nodes["b"]
    run(["ip", "-n", a.ovs_ns, "link", "add", f"{two.prefix}u", "type", "veth", "peer", "name", f"{two.prefix}u",
         "netns", b.ovs_ns])  # fmt: skip
    for node in (a, b):
        run(["ip", "-n", node.ovs_ns, "addr", "add", f"{node.local_ip}/24", "dev", f"{two.prefix}u"])
        run(["ip", "-n", node.ovs_ns, "link", "set", f"{two.prefix}u", "up"])


def _start(two: TwoNodes) -> None:
    config = two.nodes["a"].config_path
    two.server = two.spawn("server", [sys.executable, "-m", "floatnet", "server", "--config", str(config)])
    wait_until(lambda: _server_ready(two), 30, f"the server ({two.workdir}/server.log)")
    for node in two.nodes.values():
        argv = [sys.executable, "-m", "floatnet", "agent", "--config", str(node.config_path), "--server", two.url,
                "--host", node.host, "--ovs-netns", node.ovs_ns,
                "--state-dir", str(node.workdir / "state")]  # fmt: skip
        node.agent = two.spawn(f"agent-{node.name}", argv)
    for node in two.nodes.values():
        wait_until(lambda n=node: _agent_alive(two, n), 30, f"agent {node.host} alive")  # type: ignore[misc]
        node.lab = make_context(fconfig.load(node.config_path), two.url, prefix=f"{two.prefix}{node.name}-",
                                state_dir=node.workdir / "lab", ovsdb=node.ovs.connection,
                                ovs_netns=node.ovs_ns)  # fmt: skip


def _server_ready(two: TwoNodes) -> bool:
    assert two.server is not None
    if two.server.poll() is not None:
        raise Fatal(f"server exited: {two.log('server')}")
    try:
        return httpx.get(f"{two.url}/v2.0/networks", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _agent_alive(two: TwoNodes, node: Node) -> bool:
    assert node.agent is not None
    if node.agent.poll() is not None:
        raise Fatal(f"agent {node.host} exited: {two.log('agent-' + node.name)}")
    agents = two.api("GET", "/agents", params={"host": node.host})["agents"]
    return any(a["alive"] and a["agent_type"] == "Open vSwitch agent" for a in agents)


def _stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def _teardown(two: TwoNodes) -> None:
    """Agents, instances, the server's DHCP and router namespaces (their processes by PID), server, OVS and
    the prefix's namespaces."""
    for node in two.nodes.values():
        _stop(node.agent)
    owned: list[str] = []  # the qdhcp-/qrouter- namespaces of this server's networks and routers
    if two.server is not None and two.server.poll() is None:
        owned = [dhcp_ns(n["id"]) for n in two.api("GET", "/networks")["networks"]]
        owned += [router_ns(r["id"]) for r in two.api("GET", "/routers")["routers"]]
    for node, inst in two.instances:
        assert node.lab is not None
        state = instance.lab_state.load(node.lab.state_dir, node.lab.names.prefix)
        instance.remove(node.lab, state, inst, None)
    _stop(two.server)
    for ns in owned + fl_netns.list_names([two.prefix]):
        if fl_netns.exists(ns):
            kill_ns_pids(ns)
            fl_netns.delete(ns)
    for node in two.nodes.values():
        node.ovs.stop()
        kill_ns_pids(node.ovs_ns)
        fl_netns.delete(node.ovs_ns)


@pytest.fixture(scope="module")
def two() -> Iterator[TwoNodes]:
    prefix = f"vx{secrets.token_hex(2)}"
    fabric = TwoNodes(prefix=prefix, workdir=Path(tempfile.mkdtemp(prefix=f"floatnet-{prefix}-")))
    try:
        for name in NODES:
            fabric.nodes[name] = _node(fabric, name)
        _underlay(fabric)
        _start(fabric)
        yield fabric
    finally:
        _teardown(fabric)
        if os.environ.get("FLOATNET_E2E_KEEP") is None:
            shutil.rmtree(fabric.workdir, ignore_errors=True)


def _vxlan_network(two: TwoNodes, name: str, pool: tuple[str, str] = ("10.77.0.2", "10.77.0.99")) -> dict[str, Any]:
    """A tenant network (vxlan: the server's tenant_network_types) with a DHCP subnet 10.77.0.0/24 (every
    network the same addresses: only L2 isolation keeps them apart)."""
    net = two.api("POST", "/networks", json={"network": {"name": name}})["network"]
    subnet = {"network_id": net["id"], "cidr": "10.77.0.0/24", "ip_version": 4,
              "allocation_pools": [{"start": pool[0], "end": pool[1]}]}  # fmt: skip
    two.api("POST", "/subnets", json={"subnet": subnet})
    return net


def _instance(two: TwoNodes, node: Node, name: str, network: dict[str, Any]) -> dict[str, str]:
    """An instance of ``network`` on ``node``; returns its DHCP lease."""
    assert node.lab is not None
    inst = instance.create(node.lab, LabClient(two.url), name, network["id"], node.host, wait=0)
    two.instances.append((node, inst))
    return instance.wait_for_lease(node.lab, name, 60)


def _ping(node: Node, name: str, address: str, count: int = 1) -> bool:
    assert node.lab is not None
    ns = node.lab.names.instance_ns(name)
    argv = ["ip", "netns", "exec", ns, "ping", "-c", str(count), "-W", "1", address]
    return run(argv, check=False, timeout=count + 5).returncode == 0


def _vxlan_dev(node: Node, vni: int) -> str:
    return run(["ip", "-n", node.ovs_ns, "-d", "link", "show", f"vxlan-{vni}"], check=False).stdout


def _router_on(two: TwoNodes, network: dict[str, Any]) -> None:
    """A router (no gateway) with an interface on ``network``'s subnet: 10.77.0.1."""
    router = two.api("POST", "/routers", json={"router": {"name": f"{two.prefix}-r"}})["router"]
    [subnet] = two.api("GET", "/subnets", params={"network_id": network["id"]})["subnets"]
    two.api("PUT", f"/routers/{router['id']}/add_router_interface", json={"subnet_id": subnet["id"]})


def _flood_peers(node: Node, vni: int) -> set[str] | None:
    """The destinations of the device's all-zero FDB entries (None: no such device on the node)."""
    if not _vxlan_dev(node, vni):
        return None
    lines = run(["bridge", "-n", node.ovs_ns, "fdb", "show", "dev", f"vxlan-{vni}"]).stdout.splitlines()
    return {line.split(" dst ")[1].split()[0] for line in lines if line.startswith("00:00:00:00:00:00 dst ")}


def test_instances_on_two_nodes_reach_each_other_and_not_another_network(two: TwoNodes) -> None:
    a, b = two.nodes["a"], two.nodes["b"]
    net1 = _vxlan_network(two, f"{two.prefix}-net1")
    net2 = _vxlan_network(two, f"{two.prefix}-net2", ("10.77.0.100", "10.77.0.199"))
    assert (net1["provider:network_type"], net1["mtu"]) == ("vxlan", 1450)
    vm1, vm2 = _instance(two, a, "vm1", net1), _instance(two, b, "vm2", net1)
    vm3 = _instance(two, b, "vm3", net2)  # the same subnet on another network, next to vm2
    assert vm1["mtu"] == vm2["mtu"] == vm3["mtu"] == "1450"  # DHCP option 26 (one node's lease crossed the tunnel)
    wait_until(lambda: _ping(a, "vm1", vm2["ip"]), 30, "vm1 -> vm2 over VXLAN")
    assert _ping(b, "vm2", vm1["ip"])
    _router_on(two, net1)  # its qr- device on one node's br-int: the other node's instance crosses the tunnel
    for node, name in ((a, "vm1"), (b, "vm2")):
        wait_until(lambda n=node, v=name: _ping(n, v, "10.77.0.1"), 30, f"{name} -> its router")  # type: ignore[misc]
    vni1, vni2 = net1["provider:segmentation_id"], net2["provider:segmentation_id"]
    for node in (a, b):
        query = {"host": node.host, "agent_type": "Open vSwitch agent"}
        [ovs_agent] = two.api("GET", "/agents", params=query)["agents"]
        assert ovs_agent["configurations"]["tunneling_ip"] == node.local_ip
        assert ovs_agent["configurations"]["tunnel_types"] == ["vxlan"]
        shown = _vxlan_dev(node, vni1)
        assert f"vxlan id {vni1} local {node.local_ip}" in shown and "nolearning" in shown, shown
    assert not _ping(a, "vm1", vm3["ip"], count=3), "vm1 reached vm3 of another network"
    assert not _ping(b, "vm3", vm1["ip"], count=2), "vm3 reached vm1 of another network"
    assert not _ping(b, "vm3", vm2["ip"], count=2), "vm3 reached vm2 of another network on its own node"
    for net, vni, instances_on in ((net1, vni1, {a.host, b.host}), (net2, vni2, {b.host})):
        dhcp = two.api("GET", f"/networks/{net['id']}/dhcp-agents")["agents"]
        carrying = instances_on | {agent["host"] for agent in dhcp}  # (net1's router is on a or b anyway)
        for node in (a, b):  # floods go to the nodes carrying the network, and only to them
            others = {n.local_ip for n in (a, b) if n is not node and n.host in carrying}
            assert _flood_peers(node, vni) == (others if node.host in carrying else None), (node.host, vni)


def test_a_deleted_vxlan_device_is_repaired(two: TwoNodes) -> None:
    a, b = two.nodes["a"], two.nodes["b"]
    net = _vxlan_network(two, f"{two.prefix}-net3")
    _instance(two, a, "vm4", net)
    vm5 = _instance(two, b, "vm5", net)
    wait_until(lambda: _ping(a, "vm4", vm5["ip"]), 30, "vm4 -> vm5 over VXLAN")
    dev = f"vxlan-{net['provider:segmentation_id']}"
    run(["ip", "-n", a.ovs_ns, "link", "del", dev])
    wait_until(lambda: dev in run(["ip", "-n", a.ovs_ns, "link"]).stdout, 70, f"{dev} recreated on node a")
    wait_until(lambda: _ping(a, "vm4", vm5["ip"]), 30, "vm4 -> vm5 again after the repair")
