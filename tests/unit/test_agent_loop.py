"""The reconcile loop itself, over the in-memory kernel and server (no root): poisoned resources are isolated,
temporary failures retried, permanent ones reported once and not retried in a loop."""

from __future__ import annotations

from typing import Any

from floatnet.agent.dirty import Dirty
from floatnet.agent.loop import Agent
from floatnet.agent.plan_common import PlanContext
from floatnet.agent.state import OvsPort
from tests.unit.agent_fakes import FakeKernel, FakeServer
from tests.unit.test_agent_plan import R1, R2, fip, network_doc, port_doc, router_doc

R3 = "33333333-3333-4333-8333-333333333333"


def agent(server: FakeServer, kernel: FakeKernel) -> Agent:
    return Agent(lambda: server, kernel, PlanContext(), 60.0, {})  # type: ignore[arg-type,return-value]


def poisoned_router() -> dict[str, Any]:
    """A router the planner cannot handle (a CIDR no parser accepts): it must not stop the others."""
    doc = router_doc(R2, fips=[fip(2, fixed="10.0.0.6")])
    doc["interfaces"][0]["cidr"] = "10.0.0.0/33"
    return doc


def ipv6_router() -> dict[str, Any]:
    """A healthy router with an IPv6 interface next to its IPv4 one (planning used to raise on it)."""
    doc = router_doc(R3, fips=[fip(3, fixed="10.0.0.7")])
    v6 = dict(doc["interfaces"][0], port_id=f"v6{R3}", ip_address="2001:db8::1", prefixlen=64, cidr="2001:db8::/64")
    doc["interfaces"].append(v6)
    return doc


def test_one_poisoned_router_next_to_healthy_ones() -> None:
    server = FakeServer([router_doc(R1), poisoned_router(), ipv6_router()], [network_doc()])
    kernel = FakeKernel()
    loop = agent(server, kernel)
    loop.reconcile(Dirty(everything=True))
    for rid in (R1, R3):
        nat = kernel.namespaces[f"qrouter-{rid}"].nat
        assert nat is not None and nat.fips and nat.internal_cidrs == {"10.0.0.0/24"}, nat
        assert server.statuses["routers"][rid] == "ACTIVE"
    assert f"qrouter-{R2}" not in kernel.namespaces
    assert server.statuses["routers"][R2] == "ERROR"
    assert server.statuses["floatingips"][fip(2)["id"]] == "ERROR"
    assert server.statuses["floatingips"][fip(1)["id"]] == "ACTIVE"
    assert loop.resync_at is None, "a permanent planning failure must not put the node in a resync loop"
    reasons = {e["id"]: e["reason"] for e in loop.configurations()["errors"]}
    assert "10.0.0.0/33" in reasons[R2] and R1 not in reasons
    assert "2001:db8::1/64" in kernel.namespaces[f"qrouter-{R3}"].links[f"qr-v6{R3}"[:14]].addresses

    # the healthy router still converges through the floating-IP fast path (no resync pending)
    server.routers[R1]["floatingips"].append(fip(9, fixed="10.0.0.9"))
    server.seq += 1
    before = len(kernel.applied)
    loop.reconcile(loop.on_changes([{"kind": "floatingip", "id": fip(9)["id"], "op": "create", "router_id": R1}]))
    nat = kernel.namespaces[f"qrouter-{R1}"].nat
    assert nat is not None and nat.fips[fip(9)["floating_ip_address"]] == "10.0.0.9"
    assert len(kernel.applied) - before == 3  # /32, map elements, gratuitous ARP
    assert server.statuses["floatingips"][fip(9)["id"]] == "ACTIVE"


def test_poisoned_router_fixed_by_the_server_converges() -> None:
    server = FakeServer([poisoned_router()])
    kernel = FakeKernel()
    loop = agent(server, kernel)
    loop.reconcile(Dirty(everything=True))
    assert server.statuses["routers"][R2] == "ERROR"
    server.routers[R2]["interfaces"][0]["cidr"] = "10.0.0.0/24"
    loop.reconcile(loop.on_changes([{"kind": "router", "id": R2, "op": "update"}]))
    assert server.statuses["routers"][R2] == "ACTIVE"
    assert loop.configurations()["errors"] == []


def test_temporary_failure_is_retried_with_backoff() -> None:
    """A kernel failure marks the namespace dirty again: retried by the same step after 1 s, 2 s …, not by a
    full resync (nothing is refetched from the server)."""
    server = FakeServer([router_doc(R1)])
    kernel = FakeKernel()
    ns = f"qrouter-{R1}"
    kernel.fail[ns] = "injected"
    loop = agent(server, kernel)
    loop.reconcile(Dirty(everything=True))
    assert server.statuses["routers"][R1] == "ERROR" and "injected" in loop.configurations()["errors"][0]["reason"]
    assert loop.resync_at is None and ns in loop.retrying
    at, delay = loop.repair_backoff.last[ns]
    assert delay == 1.0
    loop.step()  # not due yet
    assert ns in loop.retrying
    loop.repair_backoff.last[ns] = (at - 1.0, delay)
    loop.step()  # due, fails again: the delay doubles
    assert loop.repair_backoff.last[ns][1] == 2.0 and server.statuses["routers"][R1] == "ERROR"
    kernel.fail.clear()
    loop.repair_backoff.last[ns] = (at - 2.0, 2.0)
    loop.step()
    assert server.statuses["routers"][R1] == "ACTIVE" and loop.configurations()["errors"] == []
    assert kernel.namespaces[ns].nat is not None and not loop.retrying and loop.repairs == {}


def _converged(server: FakeServer, kernel: FakeKernel) -> Agent:
    loop = agent(server, kernel)
    loop.reconcile(Dirty(everything=True))
    return loop


def test_kernel_drift_is_repaired_and_logged_once(caplog: Any) -> None:
    server, kernel = FakeServer([router_doc(R1)], [network_doc()]), FakeKernel()
    loop = _converged(server, kernel)
    ns = f"qrouter-{R1}"
    good = kernel.namespaces[ns]
    qg = next(d for d in good.links if d.startswith("qg-"))
    cases = {
        "set down": lambda: kernel.link(ns, qg, up=False),
        "lost 203.0.113.101/32": lambda: kernel.link(ns, qg, addresses=good.links[qg].addresses - {"203.0.113.101/32"}),
        "nft table floatnet missing": lambda: kernel.ns(ns, nat=None),
        "namespace deleted": lambda: kernel.namespaces.pop(ns),
    }
    for what, inject in cases.items():
        inject()
        kernel.dirty.add(ns)
        caplog.clear()
        loop.repair_backoff.last.clear()
        loop.step()
        assert kernel.namespaces[ns] == good, what
        repaired = [r.getMessage() for r in caplog.records if "drift repaired" in r.getMessage()]
        assert len(repaired) == 1 and what in repaired[0], (what, repaired)
        loop.step()  # nothing new: no action, no log
        assert not [r for r in caplog.records[1:] if "drift repaired" in r.getMessage()]
    repairs = {r["id"]: r for r in loop.configurations()["repairs"]}
    assert [r["kind"] for r in repairs.values()] == ["router"], "one entry per namespace, not per floating IP"
    assert "namespace deleted" in repairs[R1]["what"] and repairs[R1]["at"]


def test_dead_dnsmasq_is_respawned_with_backoff() -> None:
    server, kernel = FakeServer([], [network_doc()]), FakeKernel()
    loop = _converged(server, kernel)
    net = network_doc()["id"]
    for attempt in range(3):
        kernel.dhcp.pop(net)
        kernel.dirty.add(f"qdhcp-{net}")
        loop.step()
        assert (net in kernel.dhcp) == (attempt < 2), attempt  # the third death within 3 s waits
    loop.repair_backoff.last[f"qdhcp-{net}"] = (0.0, 0.5)  # the wait is over
    loop.step()
    assert net in kernel.dhcp


def test_unchanged_namespace_event_does_nothing() -> None:
    server, kernel = FakeServer([router_doc(R1)]), FakeKernel()
    loop = _converged(server, kernel)
    before = len(kernel.applied)
    kernel.dirty.add(f"qrouter-{R1}")
    loop.step()
    assert len(kernel.applied) == before and loop.repairs == {}


def test_hypervisor_plug_goes_through_the_same_step() -> None:
    """A device plugged with the port's iface-id is tagged and the port reported ACTIVE within a tick."""
    server, kernel = FakeServer([], [network_doc()]), FakeKernel()
    server.ports["vm-port"] = port_doc()
    loop = _converged(server, kernel)
    assert server.statuses["ports"].get("vm-port") != "ACTIVE"  # DOWN, as the server already holds
    kernel.ovs["tapvm"] = OvsPort("tapvm", "br-eth1", None, "vm-port", 5)
    loop.step()
    assert kernel.ovs["tapvm"].tag == 100 and server.statuses["ports"]["vm-port"] == "ACTIVE"
    assert loop.repairs == {}, "a hypervisor plug is not drift"
