"""The multi-node lab (issue 14): nodes are machines of their own — their own namespaces, OVS, agent and
``/run/netns`` — that fail as on a power loss and come back; scheduling follows the roles they report."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from floatnet.lab.procs import cmdline
from floatnet.linux import netns as fl_netns
from tests.e2e.cluster import Cluster, make_cluster
from tests.e2e.fabric import PHYSNET_VLAN, wait_until
from tests.e2e.topology import ping, whoami


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    yield from make_cluster()


def _alive(pid: int) -> bool:
    return cmdline(pid) is not None  # a zombie has none: it runs nothing


def _from(cluster: Cluster, directory: str) -> list[int]:
    return [pid for pid in cluster.ours() if directory in (cmdline(pid) or "")]


def test_nodes_report_their_roles_and_keep_their_namespaces_private(cluster: Cluster) -> None:
    cluster.lab("node", "add", "net1", "--roles", "l3,dhcp")
    cluster.lab("node", "add", "cmp1", "--roles", "compute")
    net1, cmp1 = cluster.agents("net1"), cluster.agents("cmp1")
    assert sorted(net1) == ["DHCP agent", "L3 agent", "Open vSwitch agent"]
    assert sorted(cmp1) == ["Open vSwitch agent"]
    assert cmp1["Open vSwitch agent"]["configurations"]["roles"] == ["compute"]
    assert fl_netns.exists(f"{cluster.prefix}node-net1") and fl_netns.exists(f"{cluster.prefix}switch")
    seen = cluster.on_node("net1", "ip", "netns", "list", check=True).stdout
    assert cluster.prefix not in seen  # the node's /run/netns is its own: the host's namespaces are not there
    assert "10.99.0.2/24" in cluster.on_node("cmp1", "ip", "-br", "addr", "show", "mgmt0", check=True).stdout
    assert cluster.on_node("cmp1", "ping", "-c", "1", "-W", "2", "10.99.0.1").returncode == 0  # management
    listed = cluster.lab("node", "list").stdout
    assert "net1" in listed and "l3,dhcp" in listed and "cmp1" in listed


def test_fail_is_a_power_loss_and_recover_brings_the_node_back(cluster: Cluster) -> None:
    node = cluster.node("cmp1")
    init = node["procs"]["init"]["pid"]
    ours_before = _from(cluster, node["directory"])
    assert ours_before, "the node's agent and OVS run from its directory"
    cluster.lab("node", "fail", "cmp1")
    assert not _alive(init) and not any(_alive(pid) for pid in ours_before)
    assert not fl_netns.exists(node["ns"])  # its links are cut with it
    assert "failed" in cluster.lab("node", "list").stdout
    cluster.wait_agents("cmp1", alive=False)
    cluster.wait_agents("net1", alive=True)
    cluster.lab("node", "recover", "cmp1")
    cluster.wait_agents("cmp1", alive=True)
    assert fl_netns.exists(node["ns"]) and cluster.node("cmp1")["procs"]["init"]["pid"] != init


def test_node_del_removes_its_namespace_agents_and_processes(cluster: Cluster) -> None:
    node = cluster.node("cmp1")
    cluster.lab("node", "del", "cmp1")
    assert cluster.agents("cmp1") == {}
    assert not fl_netns.exists(node["ns"]) and not os.path.exists(node["directory"])
    assert not _from(cluster, node["directory"])
    refused = cluster.lab("node", "fail", "cmp1", check=False)
    assert refused.returncode == 1 and "no node 'cmp1'" in refused.stderr


def _vm(cluster: Cluster, name: str, network_id: str, host: str) -> dict[str, Any]:
    """``lab instance create NAME --host NODE``: its port (bound to that node) and its lease."""
    cluster.lab("instance", "create", name, "--network", network_id, "--host", host)
    port = cluster.api("GET", "/ports", params={"name": name, "network_id": network_id})["ports"][0]
    return {"port": port, "lease": json.loads(cluster.lab("lease", name).stdout), "ns": f"{cluster.prefix}{name}"}


def _vlan_network(cluster: Cluster, name: str, vlan: int, cidr: str, port_security: bool) -> str:
    body = {"network": {"name": name, "provider:network_type": "vlan", "provider:physical_network": PHYSNET_VLAN,
                        "provider:segmentation_id": vlan, "port_security_enabled": port_security}}  # fmt: skip
    network = cluster.api("POST", "/networks", json=body)["network"]
    subnet = {"subnet": {"network_id": network["id"], "ip_version": 4, "cidr": cidr}}
    cluster.api("POST", "/subnets", json=subnet)
    return str(network["id"])


def test_vlan_instances_on_different_nodes_reach_each_other_and_not_across_networks(cluster: Cluster) -> None:
    """Two compute nodes, one VLAN network: the instances' frames cross the lab switch tagged, DHCP answers
    from the network node's dnsmasq; an instance of another VLAN network with the same subnet, on the same
    switch and the same node as one of them, reaches neither (no port security there: only the VLAN separates
    them) but does reach its own network's DHCP server on the network node."""
    cluster.lab("node", "add", "cmp1", "--roles", "compute")
    cluster.lab("node", "add", "cmp2", "--roles", "compute")
    cluster.cli("security-group-rule-create", "--direction", "ingress", "--remote-ip-prefix", "0.0.0.0/0",
                "default")  # fmt: skip
    blue = _vlan_network(cluster, "blue", 100, "10.0.0.0/24", port_security=True)
    red = _vlan_network(cluster, "red", 200, "10.0.0.0/24", port_security=False)
    vm1, vm2 = _vm(cluster, "vm1", blue, "cmp1"), _vm(cluster, "vm2", blue, "cmp2")
    vm3 = _vm(cluster, "vm3", red, "cmp2")
    assert vm1["port"]["binding:host_id"] == "cmp1" and vm2["port"]["binding:host_id"] == "cmp2"
    [dhcp] = cluster.api("GET", "/ports", params={"network_id": blue, "device_owner": "network:dhcp"})["ports"]
    assert vm1["lease"]["serverid"] == dhcp["fixed_ips"][0]["ip_address"]
    assert f"qdhcp-{blue}" in cluster.on_node("net1", "ip", "netns", "list", check=True).stdout
    assert f"qdhcp-{blue}" not in cluster.on_node("cmp1", "ip", "netns", "list", check=True).stdout
    assert ping(vm2["ns"], vm1["lease"]["ip"]) and whoami(vm2["ns"], vm1["lease"]["ip"])["server"] == "vm1"
    [red_dhcp] = cluster.api("GET", "/ports", params={"network_id": red, "device_owner": "network:dhcp"})["ports"]
    assert ping(vm3["ns"], red_dhcp["fixed_ips"][0]["ip_address"])  # vm3 is on the switch, in VLAN 200
    for other in (vm1, vm2):  # the same subnet on VLAN 100: never reached from VLAN 200
        if other["lease"]["ip"] != vm3["lease"]["ip"]:
            assert not ping(vm3["ns"], other["lease"]["ip"])


def test_a_compute_node_removes_a_deleted_instances_filter(cluster: Cluster) -> None:
    """The compute node's agent (its OVS and filters in its own namespace) sees the port filters it installed:
    a deleted instance's filter goes, and the next instance on that node gets its lease and traffic."""
    blue = _network(cluster, "blue")
    gone = _vm(cluster, "vm4", blue, "cmp1")["port"]["id"]
    cluster.lab("instance", "delete", "vm4")
    dispatch = ["nft", "list", "map", "inet", "floatnet_sg", "dispatch"]
    wait_until(lambda: gone not in cluster.on_node("cmp1", *dispatch, check=True).stdout, 20, "vm4's filter removed")
    vm5 = _vm(cluster, "vm5", blue, "cmp1")
    assert vm5["port"]["id"] in cluster.on_node("cmp1", *dispatch, check=True).stdout
    vm2_ip = json.loads(cluster.lab("lease", "vm2").stdout)["ip"]
    assert ping(vm5["ns"], vm2_ip)
    cluster.lab("instance", "delete", "vm5")


def _agent_pid(cluster: Cluster, node: str) -> int:
    """The PID of ``node``'s floatnet agent (a process this cluster started; not its init or wrappers)."""
    found = _from(cluster, cluster.node(node)["directory"])
    [pid] = [p for p in found if (cmdline(p) or "").split()[1:4] == ["-m", "floatnet", "agent"]]
    return pid


def _status(cluster: Cluster, port_id: str) -> str:
    return str(cluster.api("GET", f"/ports/{port_id}")["port"]["status"])


def test_an_instance_port_is_active_only_once_the_dhcp_node_serves_it(cluster: Cluster) -> None:
    """Provisioning blocks: while the network node's agent is held (SIGSTOP until cmp1 wired the port: its
    dnsmasq has not learnt the new host; the lab has no other DHCP node, so nothing fails over meanwhile), an
    instance wired and reported by its compute node stays DOWN — Nova would not boot it yet; once that agent has
    written the hosts file and reloaded dnsmasq, it is ACTIVE and gets its lease."""
    blue = _network(cluster, "blue")
    agent = _agent_pid(cluster, "net1")
    dispatch = ["nft", "list", "map", "inet", "floatnet_sg", "dispatch"]
    os.kill(agent, signal.SIGSTOP)
    try:
        cluster.lab("instance", "create", "vm8", "--network", blue, "--host", "cmp1", "--no-wait")
        port_id = cluster.api("GET", "/ports", params={"name": "vm8", "network_id": blue})["ports"][0]["id"]
        wait_until(lambda: port_id in cluster.on_node("cmp1", *dispatch, check=True).stdout, 30, "vm8 wired on cmp1")
        time.sleep(2.0)  # cmp1's agent reports it right after wiring it (the old code: ACTIVE by now)
        assert _status(cluster, port_id) == "DOWN"
    finally:
        os.kill(agent, signal.SIGCONT)
    wait_until(lambda: _status(cluster, port_id) == "ACTIVE", 20, "vm8's port ACTIVE once net1 serves it")
    wait_until(lambda: cluster.lab("lease", "vm8", check=False).returncode == 0, 30, "vm8's lease")
    cluster.lab("instance", "delete", "vm8")


def test_vxlan_instances_on_different_nodes_reach_each_other_and_not_another_network(cluster: Cluster) -> None:
    """A vxlan network between the two compute nodes and the network node: each node's agent tunnels it over
    its management address (``[ovs] local_ip`` = ``mgmt0``), the instances get DHCP from the network node with
    the MTU lowered by 50 and reach each other; an instance of the VLAN network ``blue`` (same subnet) does not."""
    body = {"network": {"name": "green", "provider:network_type": "vxlan", "provider:segmentation_id": 1001}}
    green = cluster.api("POST", "/networks", json=body)["network"]
    assert green["mtu"] == 1450
    cluster.api("POST", "/subnets", json={"subnet": {"network_id": green["id"], "ip_version": 4,
                                                     "cidr": "10.0.0.0/24"}})  # fmt: skip
    vm6, vm7 = _vm(cluster, "vm6", green["id"], "cmp1"), _vm(cluster, "vm7", green["id"], "cmp2")
    assert vm6["lease"].get("mtu") in ("1450", 1450) and vm7["lease"].get("mtu") in ("1450", 1450)
    device = cluster.on_node("cmp1", "ip", "-d", "-j", "link", "show", "vxlan-1001", check=True).stdout
    local = json.loads(device)[0]["linkinfo"]["info_data"]["local"]
    assert local == cluster.node("cmp1")["address"].split("/")[0]  # the node's management address
    assert ping(vm7["ns"], vm6["lease"]["ip"]) and whoami(vm7["ns"], vm6["lease"]["ip"])["server"] == "vm6"
    vm2_ip = json.loads(cluster.lab("lease", "vm2").stdout)["ip"]
    if vm2_ip not in (vm6["lease"]["ip"], vm7["lease"]["ip"]):
        assert not ping(vm6["ns"], vm2_ip)  # blue's vm2 has an address of the same subnet, on VLAN 100
    for name in ("vm6", "vm7"):
        cluster.lab("instance", "delete", name)


def _router_hosts(cluster: Cluster, router_id: str, nodes: tuple[str, ...]) -> list[str]:
    """The nodes whose own /run/netns holds the router's namespace (read inside each node)."""
    return [n for n in nodes if f"qrouter-{router_id}" in cluster.on_node(n, "ip", "netns", "list").stdout]


def test_router_fails_over_to_the_other_network_node(cluster: Cluster) -> None:
    """allow_automatic_l3agent_failover = true and a second network node: ``node fail`` of the router's node
    (a power loss) moves the router and the floating IP answers again from the other node; the failed node,
    recovered, does not take it back (placement is stable) and runs no copy of it."""
    cluster.lab("node", "add", "net2", "--roles", "l3,dhcp")
    public = cluster.public_network()
    [blue] = cluster.api("GET", "/subnets", params={"cidr": "10.0.0.0/24", "network_id": _network(cluster, "blue")})[
        "subnets"]  # fmt: skip
    router = cluster.api("POST", "/routers", json={"router": {
        "name": "r1", "external_gateway_info": {"network_id": public["id"]}}})["router"]  # fmt: skip
    cluster.api("PUT", f"/routers/{router['id']}/add_router_interface", json={"subnet_id": blue["id"]})
    vm1 = cluster.api("GET", "/ports", params={"name": "vm1"})["ports"][0]
    fip = cluster.api("POST", "/floatingips", json={"floatingip": {
        "floating_network_id": public["id"], "port_id": vm1["id"]}})["floatingip"]["floating_ip_address"]  # fmt: skip
    upstream = f"{cluster.prefix}upstream"
    wait_until(lambda: (whoami(upstream, fip) or {}).get("server") == "vm1", 30, f"{fip} answering")
    [first] = _router_hosts(cluster, router["id"], ("net1", "net2"))
    other = "net2" if first == "net1" else "net1"
    started = time.monotonic()
    cluster.lab("node", "fail", first)
    wait_until(lambda: (whoami(upstream, fip, timeout=0.5) or {}).get("server") == "vm1", 60, "the failover")
    print(f"failover: {fip} answers again {time.monotonic() - started:.1f} s after node fail {first}")
    assert _router_hosts(cluster, router["id"], (other,)) == [other]
    cluster.lab("node", "recover", first)
    cluster.wait_agents(first, alive=True)
    assert _router_hosts(cluster, router["id"], (first,)) == []
    assert (whoami(upstream, fip) or {}).get("server") == "vm1"


def _network(cluster: Cluster, name: str) -> str:
    return str(cluster.api("GET", "/networks", params={"name": name})["networks"][0]["id"])
