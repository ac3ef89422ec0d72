"""``dhcp_agents_per_network = 2`` in the multi-node lab (issue 14): two DHCP nodes both run a dnsmasq for a
network, each from its own DHCP port; an instance on a compute node gets its lease; after ``node fail`` of one
DHCP node, with automatic DHCP failover off (nothing moves), a new instance still gets a lease — from the other."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.cluster import Cluster, make_cluster
from tests.e2e.fabric import PHYSNET_VLAN, wait_until

DHCP_NODES = ("dhcp1", "dhcp2")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    yield from make_cluster(defaults=("dhcp_agents_per_network = 2", "allow_automatic_dhcp_failover = false"))


def _dhcp_ports(cluster: Cluster, network_id: str) -> dict[str, str]:
    """The network's DHCP ports: host -> address."""
    ports = cluster.api("GET", "/ports", params={"network_id": network_id, "device_owner": "network:dhcp"})["ports"]
    return {p["binding:host_id"]: p["fixed_ips"][0]["ip_address"] for p in ports}


def _serves(cluster: Cluster, node: str, network_id: str, address: str) -> bool:
    """Whether ``node`` runs the network's dnsmasq on ``address`` in its own ``qdhcp-`` namespace."""
    ns = f"qdhcp-{network_id}"
    if ns not in cluster.on_node(node, "ip", "netns", "list").stdout:
        return False
    addresses = cluster.on_node(node, "ip", "netns", "exec", ns, "ip", "-br", "addr").stdout
    listening = cluster.on_node(node, "ip", "netns", "exec", ns, "ss", "-lun").stdout
    return f"{address}/" in addresses and ":67 " in listening


def _lease(cluster: Cluster, name: str, network_id: str, host: str) -> dict[str, Any]:
    cluster.lab("instance", "create", name, "--network", network_id, "--host", host)
    return dict(json.loads(cluster.lab("lease", name).stdout))


def test_two_dhcp_nodes_serve_and_one_failing_leaves_the_other(cluster: Cluster) -> None:
    for node in DHCP_NODES:
        cluster.lab("node", "add", node, "--roles", "l3,dhcp")
    cluster.lab("node", "add", "cmp1", "--roles", "compute")
    body = {"network": {"name": "blue", "provider:network_type": "vlan", "provider:physical_network": PHYSNET_VLAN,
                        "provider:segmentation_id": 120}}  # fmt: skip
    blue = cluster.api("POST", "/networks", json=body)["network"]["id"]
    cluster.api("POST", "/subnets", json={"subnet": {"network_id": blue, "ip_version": 4, "cidr": "10.0.2.0/24"}})
    ports = _dhcp_ports(cluster, blue)
    assert sorted(ports) == list(DHCP_NODES) and len(set(ports.values())) == 2  # a port and an address each
    for node, address in ports.items():
        wait_until(lambda n=node, a=address: _serves(cluster, n, blue, a), 60, f"{node}'s dnsmasq on {address}")
    first = _lease(cluster, "vm1", blue, "cmp1")
    assert first["serverid"] in ports.values()
    served_by = next(node for node, address in ports.items() if address == first["serverid"])
    other = next(node for node in DHCP_NODES if node != served_by)
    cluster.lab("node", "fail", served_by)
    cluster.wait_agents(served_by, alive=False)
    cluster.wait_agents(other, alive=True)
    second = _lease(cluster, "vm2", blue, "cmp1")
    assert second["serverid"] == ports[other] and second["ip"] != first["ip"]
    assert _dhcp_ports(cluster, blue) == ports  # failover off: the failed node keeps its port and its share
    for name in ("vm1", "vm2"):
        cluster.lab("instance", "delete", name)
