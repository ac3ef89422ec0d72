"""The multi-node lab (issue 14): nodes are machines of their own — their own namespaces, OVS, agent and
``/run/netns`` — that fail as on a power loss and come back; scheduling follows the roles they report."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from floatnet.lab.procs import cmdline
from floatnet.linux import netns as fl_netns
from tests.e2e.cluster import Cluster, make_cluster


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
