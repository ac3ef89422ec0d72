"""Dirty tracking of the reconcile loop, over the in-memory kernel and server (no root): every trigger marks
resources dirty, the triggers of one tick are coalesced into one step, and the full resync is the same step
over everything."""

from __future__ import annotations

import time
from typing import Any

from floatnet.agent import actions as A
from floatnet.agent.dirty import Dirty
from floatnet.agent.loop import Agent
from floatnet.agent.state import OvsPort
from floatnet.agent.watch import RELIST
from tests.unit.agent_fakes import FakeKernel, FakeServer
from tests.unit.test_agent_loop import agent
from tests.unit.test_agent_plan import NET, R1, R2, fip, network_doc, port_doc, router_doc

NS1, NS2, DHCP = f"qrouter-{R1}", f"qrouter-{R2}", f"qdhcp-{NET}"


class CountingKernel(FakeKernel):
    """The in-memory kernel, counting the plans it is given (one per reconcile step)."""

    def __init__(self) -> None:
        super().__init__()
        self.plans: list[list[A.Action]] = []

    def apply(self, actions: Any) -> Any:
        self.plans.append(list(actions))
        return super().apply(actions)


def converged() -> tuple[FakeServer, CountingKernel, Agent]:
    server = FakeServer([router_doc(R1), router_doc(R2, fips=[fip(2)])], [network_doc()])
    kernel = CountingKernel()
    loop = agent(server, kernel)
    loop.reconcile(Dirty(everything=True))
    loop.step()  # the look at OVS after the resync's own changes (see the plugged-while-applying test)
    kernel.plans.clear()
    server.statuses = {"ports": {}, "floatingips": {}, "routers": {}}  # what later steps report
    return server, kernel, loop


def test_a_router_change_marks_exactly_its_namespace() -> None:
    server, kernel, loop = converged()
    server.routers[R1]["routes"] = []
    dirty = loop.on_changes([{"kind": "router", "id": R1, "op": "update"}])
    assert (dirty.namespaces, dirty.stale, dirty.fips, dirty.ovs, dirty.everything) == ({NS1}, set(), {}, False, False)
    loop.reconcile(dirty)
    assert [{a.group for a in p} for p in kernel.plans] == [{NS1}]
    assert kernel.namespaces[NS1].routes.extra == frozenset()


def test_a_network_change_marks_exactly_its_namespace() -> None:
    server, kernel, loop = converged()
    server.networks[NET]["dns_domain"] = "changed.example."
    dirty = loop.on_changes([{"kind": "network", "id": NET, "op": "update"}])
    assert (dirty.namespaces, dirty.fips) == ({DHCP}, {})
    loop.reconcile(dirty)
    assert {a.group for p in kernel.plans for a in p} <= {DHCP}


def test_a_floating_ip_change_marks_only_that_floating_ip() -> None:
    """The fast path: a floating IP associated on a built router is its own dirty entry (not the router), and
    the step's work is its /32, its map elements and a gratuitous ARP."""
    server, kernel, loop = converged()
    new = fip(9, fixed="10.0.0.9")
    server.routers[R1]["floatingips"].append(new)
    dirty = loop.on_changes([{"kind": "floatingip", "id": new["id"], "op": "create", "router_id": R1}])
    assert dirty.namespaces == set() and dirty.fips == {R1: {new["id"]: None}}
    loop.reconcile(dirty)
    assert [type(a).__name__ for a in kernel.plans[0]] == ["EditAddresses", "AddFipMapping", "Garp"]
    nat = kernel.namespaces[NS1].nat
    assert nat is not None and nat.fips[new["floating_ip_address"]] == "10.0.0.9"
    assert loop.observed.namespaces[NS1] == kernel.namespaces[NS1], "the view is the projection"
    assert server.statuses["floatingips"] == {new["id"]: "ACTIVE"}, "only the changed floating IP is reported"


def test_triggers_of_one_tick_are_coalesced_into_one_step() -> None:
    """A feed change (R1), kernel drift (R2's qg- set down), a hypervisor plug and a failed namespace due for
    its retry (the DHCP one) arrive together: one step — one plan — repairs all of them."""
    server, kernel, loop = converged()
    server.routers[R1]["routes"] = []
    loop.events.put([{"kind": "router", "id": R1, "op": "update"}])
    qg = next(d for d in kernel.namespaces[NS2].links if d.startswith("qg-"))
    kernel.link(NS2, qg, up=False)
    kernel.dirty.add(NS2)
    server.ports["vm-port"] = port_doc()
    loop.events.put([{"kind": "port", "id": "vm-port", "op": "create", "network_id": NET}])
    kernel.ovs["tapvm"] = OvsPort("tapvm", "br-eth1", None, "vm-port", 5)
    loop.retrying.add(DHCP)
    loop.repair_backoff.retry(DHCP, time.monotonic() - 5)
    kernel.dhcp.pop(NET)
    loop.step()
    assert len(kernel.plans) == 1, [[type(a).__name__ for a in p] for p in kernel.plans]
    assert kernel.namespaces[NS1].routes.extra == frozenset()
    assert kernel.namespaces[NS2].links[qg].up
    assert kernel.ovs["tapvm"].tag == 100 and server.statuses["ports"]["vm-port"] == "ACTIVE"
    assert NET in kernel.dhcp and not loop.retrying
    loop.step()
    assert kernel.plans[1:] == [[]], "a second step only looks at OVS after the first's own changes"
    loop.step()
    assert len(kernel.plans) == 2, "nothing left dirty: no third step"


def test_full_resync_is_the_step_over_everything() -> None:
    """Drift no event reported, and server changes no feed row announced, are all found by the full resync
    (the periodic full observe), which also sweeps what the server no longer lists."""
    server, kernel, loop = converged()
    kernel.ns(NS1, nat=None)
    kernel.dhcp.pop(NET)
    del server.routers[R2]
    loop.last_full = time.monotonic() - 61
    loop.step()
    assert len(kernel.plans) == 1
    assert {a.group for a in kernel.plans[0]} >= {NS1, NS2, DHCP}
    assert kernel.namespaces[NS1].nat is not None and NET in kernel.dhcp and NS2 not in kernel.namespaces
    assert loop.syncs == 2 and loop.resync_at is None
    assert {r["id"] for r in loop.configurations()["repairs"]} >= {R1, NET}


def test_a_due_periodic_full_observe_waits_for_a_quiet_feed() -> None:
    """Due (61 s after the last) while floating-IP changes keep coming, the periodic full observe does not run:
    each change takes the fast path at once; it runs in the first tick a second after the last change."""
    server, kernel, loop = converged()
    loop.last_full = time.monotonic() - 61
    for n in range(3, 6):
        new = fip(n, fixed=f"10.0.0.{n}")
        server.routers[R1]["floatingips"].append(new)
        loop.events.put([{"kind": "floatingip", "id": new["id"], "op": "create", "router_id": R1}])
        loop.step()
        assert loop.syncs == 1, "a full resync held the change up"
        assert [type(a).__name__ for a in kernel.plans[-1]] == ["EditAddresses", "AddFipMapping", "Garp"]
    loop.step()
    assert loop.syncs == 1, "the feed is not quiet yet"
    loop.last_change = time.monotonic() - 1.0
    loop.step()
    assert loop.syncs == 2


def test_a_feed_never_quiet_does_not_starve_the_periodic_full_observe() -> None:
    server, kernel, loop = converged()
    loop.last_full = time.monotonic() - 121
    loop.events.put([{"kind": "router", "id": R1, "op": "update"}])
    loop.step()
    assert loop.syncs == 2


def test_expired_feed_relists() -> None:
    """A 410 from the feed (RELIST) makes the next step a full resync."""
    server, kernel, loop = converged()
    server.routers[R1]["floatingips"] = []
    loop.events.put(RELIST)
    loop.step()
    assert loop.syncs == 2 and len(server.registered) == 2
    nat = kernel.namespaces[NS1].nat
    assert nat is not None and nat.fips == {}


def test_quiet_tick_runs_no_step() -> None:
    _, kernel, loop = converged()
    loop.step()
    assert kernel.plans == []


class PluggingKernel(CountingKernel):
    """The in-memory kernel, with a hypervisor that plugs ``late`` while the agent applies a step: after the
    step's plan was made, before its view of OVS is read back."""

    def __init__(self) -> None:
        super().__init__()
        self.late: OvsPort | None = None

    def apply(self, actions: Any) -> Any:
        result = super().apply(actions)
        if self.late is not None:
            self.ovs[self.late.name], self.late = self.late, None
        return result


def test_a_port_plugged_while_a_step_applies_is_wired_by_the_next() -> None:
    """Two instances plugged moments apart: the second lands while the step wiring the first applies. The
    OVS ports the loop compares later plugs against are those the step planned with, so the next tick sees
    the second one and wires it (it used to be read back after the apply, counted as planned, and left on the
    dead VLAN until the next full resync)."""
    server = FakeServer([router_doc(R1)], [network_doc()])
    kernel = PluggingKernel()
    loop = agent(server, kernel)
    loop.reconcile(Dirty(everything=True))
    for pid in ("vm1", "vm2"):
        server.ports[pid] = port_doc(pid)
    loop.events.put([{"kind": "port", "id": p, "op": "create", "network_id": NET} for p in ("vm1", "vm2")])
    loop.step()
    kernel.ovs["tapvm1"] = OvsPort("tapvm1", "br-eth1", 4095, "vm1", 5)
    kernel.late = OvsPort("tapvm2", "br-eth1", 4095, "vm2", 6)
    loop.step()
    assert kernel.ovs["tapvm1"].tag == 100 and kernel.late is None
    for _tick in range(2):
        loop.step()
    assert kernel.ovs["tapvm2"].tag == 100, "the port plugged during the step is still on the dead VLAN"
    assert server.statuses["ports"]["vm2"] == "ACTIVE"
