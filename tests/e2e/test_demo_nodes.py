"""``floatnet demo --nodes 3`` (issue 14): the seed's scenario on one network node and two compute nodes,
proven end to end as the single-node demo is, plus where things run read from the nodes themselves; ``--cleanup``
leaves no namespace, process or agent row behind."""

from __future__ import annotations

import os

from floatnet.lab.procs import cmdline
from floatnet.linux import netns as fl_netns
from tests.e2e.test_demo import DemoRun, demo_run  # noqa: F401 - the fixture, shared


def _running_from(directory: str) -> list[str]:
    lines = (cmdline(int(pid)) for pid in os.listdir("/proc") if pid.isdigit())
    return [line for line in lines if line and directory in line]


def test_demo_on_three_nodes_proves_the_seed_and_cleans_up(demo_run: DemoRun) -> None:  # noqa: F811
    done = demo_run.demo("--nodes", "3", "--cleanup")
    out = done.stdout
    assert done.returncode == 0 and "all proofs hold" in out, out + done.stderr
    for claim in ("floatnet lab node add network --roles l3,dhcp", "floatnet lab node add compute2 --roles compute",
                  "vm1 on vlan_100 on compute1", "[ok  ] upstream -> 203.0.113.101:80 TCP reaches vm1",
                  "[ok  ] vm1 -> outside (198.51.100.80) seen as the floating IP",
                  "[ok  ] router1 runs on network only", "[ok  ] vlan_100's DHCP server runs on network only",
                  "[ok  ] vm1 is bound to compute1", "lab exec network -- floatnet router-nat-show",
                  "elements = { 203.0.113.101 : 10.0.0.3 }"):  # fmt: skip
        assert claim in out, claim
    assert "everything the demo built is gone" in out
    assert not fl_netns.list_names([demo_run.prefix])
    assert not _running_from(str(demo_run.state))
    assert demo_run.with_server()["networks"] == set()


def test_ha_demo_fails_the_active_network_node_over_and_cleans_up(demo_run: DemoRun) -> None:  # noqa: F811
    done = demo_run.demo("--nodes", "3", "--ha", "--cleanup")
    out = done.stdout
    assert done.returncode == 0 and "all proofs hold" in out, out + done.stderr
    for claim in ("floatnet lab node add network2 --roles l3", "[ok  ] router1 runs on both network nodes",
                  "[ok  ] exactly one replica is active", "[ok  ] upstream -> 203.0.113.101:80 TCP reaches vm1",
                  "$ floatnet lab node fail network", "the floating IP was out for",
                  "[ok  ] never two active replicas", "returns as standby without taking router1 back"):  # fmt: skip
        assert claim in out, claim
    assert "everything the demo built is gone" in out
    assert not fl_netns.list_names([demo_run.prefix])
    assert not _running_from(str(demo_run.state))
