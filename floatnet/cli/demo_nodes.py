"""``floatnet demo --nodes N``: the seed's scenario on a multi-node lab, as the seed's cloud ran it.

One network node (``network``, roles ``l3,dhcp``: the L3 and DHCP agents) and N-1 compute nodes (``compute1``…,
role ``compute``), each a machine of its own with its own Open vSwitch and ``floatnet agent``
(:mod:`floatnet.lab.nodes`); the server runs on this host without an agent (``floatnet up --no-agent``). The
router is scheduled to the network node (the only L3 agent), vm1 is bound to ``compute1``: its traffic
crosses the lab switch tagged with VLAN 100 to the router, and the floating IP is NATed on the network node.
The same proofs as the single-node demo, plus where things run, read from the nodes themselves (``nsenter``
into a node's namespaces: its own ``/run/netns``). ``router-nat-show`` runs on the network node. ``--cleanup``
removes the nodes (their processes, namespaces and agent rows) with the rest.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from floatnet.cli.demo import NODES_STATE_DIR, Demo, DemoError
from floatnet.lab import nodes, proofs
from floatnet.lab.context import LabContext
from floatnet.lab.names import NODES_PREFIX

NETWORK_NODE = "network"
NETWORK_ROLES = "l3,dhcp"


class NodesDemo(Demo):
    """The demo with ``--nodes N`` (N ≥ 2)."""

    default_state_dir, default_prefix = NODES_STATE_DIR, NODES_PREFIX

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args)
        self.computes = [f"compute{i}" for i in range(1, args.nodes)]
        self.vm_host = self.computes[0]
        self.ctx: LabContext | None = None

    def start(self) -> None:
        self.step(f"server, without an agent of its own (state in {self.state_dir})")
        self.start_server("--no-agent")
        deadline = time.monotonic() + 60
        while not self._answers():
            if time.monotonic() > deadline:
                raise DemoError(f"the server did not answer in 60 s; see {self.state_dir / 'logs' / 'server.log'}")
            time.sleep(0.3)

    def _answers(self) -> bool:
        try:
            self.api("/networks")
        except Exception:  # not up yet, whatever the reason; the deadline names the log
            return False
        return True

    def lab_up(self, ctx: LabContext) -> None:
        """The lab switch and upstream, then the nodes (each waits for its agent)."""
        self.ctx = ctx
        built = {node["name"] for node in nodes.listing(ctx)}
        for name, roles in self.node_plan():
            if name not in built:
                print(f"  $ floatnet lab node add {name} --roles {roles}", flush=True)
                nodes.add(ctx, self.client, name, roles)
        for row in nodes.listing(ctx):
            print(f"  node {row['name']}: roles {row['roles']}, namespace {row['namespace']}, {row['address']}")

    def node_plan(self) -> list[tuple[str, str]]:
        """The nodes to build, with their roles: the network node, then the compute nodes."""
        return [(NETWORK_NODE, NETWORK_ROLES)] + [(c, "compute") for c in self.computes]

    def all_nodes(self) -> list[str]:
        return [name for name, _ in self.node_plan()]

    def on_node(self, node: str, argv: list[str]) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside ``node`` (its namespaces), with the demo's API endpoint."""
        assert self.ctx is not None
        found = nodes.find(self.ctx, node)
        if found is None:
            raise DemoError(f"no node {node!r} in the demo's lab")
        env = dict(os.environ, OS_URL=self.url)
        return subprocess.run(nodes.enter(found, argv), capture_output=True, text=True, env=env, timeout=120,
                              check=False)  # fmt: skip

    def kernel_floatnet(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """On the network node, where the router's namespace is."""
        print(f"  $ floatnet lab exec {NETWORK_NODE} -- floatnet {' '.join(args)}", flush=True)
        proc = self.on_node(NETWORK_NODE, [sys.executable, "-m", "floatnet", *args])
        if check and proc.returncode != 0:
            raise DemoError(f"floatnet {' '.join(args)} on {NETWORK_NODE} failed: {proc.stderr.strip()}")
        return proc

    def prove(self, ctx: LabContext, fip: dict[str, object]) -> None:
        super().prove(ctx, fip)
        self.step("where it runs, read from the nodes themselves")
        self.where()

    def where(self) -> None:
        """router1 on the network node only, then :meth:`where_dhcp_and_vm1`."""
        router = f"qrouter-{self.owned.ids['router1']}"
        seen = {name: self.on_node(name, ["ip", "netns", "list"]).stdout for name in self.all_nodes()}
        hosting = sorted(name for name, listed in seen.items() if router in listed)
        self.check(proofs.Proof(f"router1 runs on {NETWORK_NODE} only", hosting == [NETWORK_NODE],
                                f"{router} on {', '.join(hosting) or 'no node'}"))  # fmt: skip
        self.where_dhcp_and_vm1(seen)

    def where_dhcp_and_vm1(self, seen: dict[str, str]) -> None:
        """vlan_100's DHCP server on the network node only (``seen``: each node's ``ip netns list``), vm1 bound
        to its compute node."""
        network = f"qdhcp-{self.owned.ids['vlan_100']}"
        dhcp = sorted(name for name, listed in seen.items() if network in listed)
        self.check(proofs.Proof(f"vlan_100's DHCP server runs on {NETWORK_NODE} only", dhcp == [NETWORK_NODE],
                                f"{network} on {', '.join(dhcp) or 'no node'}"))  # fmt: skip
        port = self.api("/ports", name="vm1", network_id=self.owned.ids["vlan_100"])["ports"][0]
        self.check(proofs.Proof(f"vm1 is bound to {self.vm_host}", port["binding:host_id"] == self.vm_host,
                                f"binding:host_id {port['binding:host_id']}"))  # fmt: skip

    def options(self) -> str:
        return f"{super().options()} --nodes {len(self.node_plan())}"
