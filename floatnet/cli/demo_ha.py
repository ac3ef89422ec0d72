"""``floatnet demo --nodes N --ha``: the multi-node demo with router1 highly available (l3-ha, issue 15).

Two network nodes with the L3 role (``network``: l3,dhcp; ``network2``: l3) and N-2 compute nodes; the demo's
server makes new routers HA (``[DEFAULT] l3_ha = true``) and the nodes' agents run keepalived with floatnet's
tuned advertisement interval (:data:`floatnet.lab.hawatch.TUNED_ADVERT_INT`; Neutron's default is 2 s). After
the seed's proofs (through whichever replica is active) it shows the failover: with
:mod:`floatnet.lab.hawatch` probing the floating IP from the upstream at 20 Hz, ``floatnet lab node fail`` of the
active network node (a power loss), the floating IP back through the other replica (and how long it took, from
the probes), ``ha_state`` following in ``l3-agents``; then ``node recover``: the node returns as standby without
taking the role back (0 probes lost), and no ARP probe was ever answered by two replicas.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from floatnet.cli.demo import DemoError
from floatnet.cli.demo_nodes import NETWORK_NODE, NodesDemo
from floatnet.lab import hawatch, nodes, proofs
from floatnet.lab.context import LabContext

SECOND_NETWORK_NODE, SECOND_ROLES = "network2", "l3"
HA_OPTIONS = f"l3_ha = true\nha_vrrp_advert_int = {hawatch.TUNED_ADVERT_INT}\n"


class HaDemo(NodesDemo):
    """The demo with ``--nodes N --ha`` (N ≥ 3)."""

    network_nodes = (NETWORK_NODE, SECOND_NETWORK_NODE)

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args)
        self.computes = self.computes[:-1]  # one of the N-1 non-network nodes is the second network node
        if not self.computes:
            raise DemoError("--ha needs --nodes 3 or more: two network nodes and a compute node")

    def ini(self, text: str) -> str:
        """The demo's ini with new routers HA and the tuned advertisement interval."""
        return text.replace("[DEFAULT]\n", f"[DEFAULT]\n{HA_OPTIONS}", 1)

    def node_plan(self) -> list[tuple[str, str]]:
        return [*super().node_plan()[:1], (SECOND_NETWORK_NODE, SECOND_ROLES), *super().node_plan()[1:]]

    def states(self) -> dict[str, str]:
        """Host -> ``ha_state`` of router1's replicas."""
        agents = self.api(f"/routers/{self.owned.ids['router1']}/l3-agents")["agents"]
        return {agent["host"]: agent["ha_state"] for agent in agents}

    def _wait(self, check: Any, timeout: float, what: str) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = check()
            if found:
                return found
            time.sleep(0.1)
        raise DemoError(f"timed out after {timeout:g} s waiting for {what}")

    def _active(self) -> str | None:
        states = self.states()
        active = [host for host, state in states.items() if state == "active"]
        return active[0] if len(active) == 1 and len(states) == len(self.network_nodes) else None

    def where(self) -> None:
        """router1 runs on both network nodes, one replica active; DHCP and vm1 as in the multi-node demo."""
        router = f"qrouter-{self.owned.ids['router1']}"
        listed = {name: self.on_node(name, ["ip", "netns", "list"]).stdout for name in self.all_nodes()}
        hosting = sorted(name for name, seen in listed.items() if router in seen)
        self.check(proofs.Proof("router1 runs on both network nodes", hosting == sorted(self.network_nodes),
                                f"{router} on {', '.join(hosting) or 'no node'}"))  # fmt: skip
        states = self.states()
        self.check(proofs.Proof("exactly one replica is active", sorted(states.values()) == ["active", "standby"],
                                ", ".join(f"{host}: {state}" for host, state in sorted(states.items()))))  # fmt: skip
        self.where_dhcp_and_vm1(listed)

    def prove(self, ctx: LabContext, fip: dict[str, Any]) -> None:
        self._wait(self._active, 60, "one active replica of router1")
        super().prove(ctx, fip)
        self.failover(ctx, str(fip["floating_ip_address"]))

    def failover(self, ctx: LabContext, address: str) -> None:
        """Power the active network node off while the upstream probes the floating IP, then back on."""
        self.step("failover: the active network node loses power while the upstream probes the floating IP")
        active = self._wait(self._active, 60, "one active replica of router1")
        other = next(name for name in self.network_nodes if name != active)
        watch = hawatch.Watcher(ctx.names.upstream_ns, address, rate=20, python=ctx.python)
        time.sleep(1)
        print(f"  $ floatnet lab node fail {active}", flush=True)
        failed_at = time.time()
        nodes.fail(ctx, active)
        self._wait(lambda: proofs.whoami(ctx.names.upstream_ns, address, timeout=0.5), 60, f"{address} back")
        self._wait(lambda: self.states().get(other) == "active", 60, f"{other} reported active")
        reported = time.time() - failed_at
        time.sleep(1)
        print(f"  $ floatnet lab node recover {active}", flush=True)
        recovered_at = time.time()
        nodes.recover(ctx, self.client, active)
        self._wait(lambda: self.states() == {active: "standby", other: "active"}, 60, f"{active} back as standby")
        time.sleep(2)
        record = watch.stop()
        self.judge(record, active, other, (failed_at, recovered_at, reported))

    def judge(self, record: dict[str, Any], active: str, other: str, times: tuple[float, float, float]) -> None:
        failed_at, recovered_at, reported = times
        outages = hawatch.outages(record, start=failed_at, end=recovered_at)
        took = max((run["seconds"] for run in outages), default=0.0)
        lost = sum(int(run["lost"]) for run in outages)
        print(f"  the floating IP was out for {took:.2f} s ({lost} probes lost at 20 Hz); l3-agents showed "
              f"{other} active {reported:.1f} s after the power loss", flush=True)  # fmt: skip
        self.check(proofs.Proof(f"the floating IP answers again through {other}", len(outages) == 1,
                                f"outage {took:.2f} s"))  # fmt: skip
        back = hawatch.outages(record, start=recovered_at)
        self.check(proofs.Proof(f"{active} returns as standby without taking router1 back (nopreempt)",
                                back == [], f"{sum(int(run['lost']) for run in back)} probes lost"))  # fmt: skip
        twice = hawatch.duplicates(record)
        when = ", ".join(f"{d['at'] - failed_at:.2f}" for d in twice)
        self.check(proofs.Proof("never two active replicas (ARP for the floating IP answered once)", twice == [],
                                f"{len(record['answers'])} ARP answers, {len(twice)} answered twice"
                                + (f" ({when} s after the power loss)" if twice else "")))  # fmt: skip

    def options(self) -> str:
        return f"{super().options()} --ha"
