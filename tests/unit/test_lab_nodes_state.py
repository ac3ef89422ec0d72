"""The multi-node lab's record and names (pure: no root, no namespaces)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from floatnet.lab import nodes
from floatnet.lab import state as lab_state
from floatnet.lab.instance import LabError
from floatnet.lab.names import LabNames
from floatnet.lab.procs import cmdline
from floatnet.lab.state import LabState, Node, Proc


def _node(pid: int, marker: str) -> Node:
    return Node(name="net1", index=1, ns="fnmn-node-net1", roles=["l3", "dhcp"], address="10.99.0.1/24",
                directory="/tmp/x/nodes/net1", procs={"init": Proc(pid=pid, marker=marker)})  # fmt: skip


def test_nodes_survive_the_state_file(tmp_path: Path) -> None:
    state = LabState(prefix="fnmn-", switch_ns="fnmn-switch", nodes={"net1": _node(42, "node_init")})
    lab_state.save(tmp_path, state)
    again = lab_state.load(tmp_path, "fnmn-")
    assert again.switch_ns == "fnmn-switch" and again.nodes == state.nodes
    assert again.nodes["net1"].ovsdb == "unix:/tmp/x/nodes/net1/state/ovs/db.sock"
    again.nodes.clear()
    again.switch_ns = None
    lab_state.save(tmp_path, again)
    assert not lab_state.state_path(tmp_path, "fnmn-").exists()  # nothing left: no file


def test_node_names_fit_linux_device_names() -> None:
    names = LabNames("fnmn-")
    assert names.node_ns("compute1") == "fnmn-node-compute1" and names.switch_ns == "fnmn-switch"
    assert names.node_port_dev(12, 0) == "fnmn-n12p0" and names.node_port_dev(3, None) == "fnmn-n3m"
    longest = LabNames("abcdefgh")  # the longest prefix, the last node index, a two-digit physnet index
    assert len(longest.node_port_dev(249, 10)) == 15


def test_enter_runs_in_a_running_nodes_namespaces_only() -> None:
    me = cmdline(os.getpid()) or ""
    argv = nodes.enter(_node(os.getpid(), me.split()[0]), ["ip", "netns", "list"])
    assert argv == ["nsenter", "-t", str(os.getpid()), "-m", "-n", "-p", "--", "ip", "netns", "list"]
    with pytest.raises(LabError, match="not running"):
        nodes.enter(_node(os.getpid(), "no such marker in this command line"), ["true"])
