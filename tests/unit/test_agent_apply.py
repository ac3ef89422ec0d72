"""Failure isolation in apply, statuses, and the bookkeeping of incremental changes (pure logic, no root)."""

from __future__ import annotations

from typing import Any

from floatnet.agent import actions as A
from floatnet.agent import status as S
from floatnet.agent.apply import run_actions
from floatnet.agent.merge import complete_routers, merge, touched
from floatnet.agent.state import Observed, OvsPort
from floatnet.linux.errors import KernelError
from tests.unit.test_agent_plan import R1, R2, fip, port_doc, router_doc, state


def _recorder(fail: set[str]) -> tuple[list[str], dict[type, Any]]:
    """Handlers recording what ran; KernelError for actions whose ``ns``/``port`` is in ``fail``."""
    ran: list[str] = []

    def handle(action: A.Action) -> None:
        target = getattr(action, "ns", None) or getattr(action, "port", "")
        if target in fail:
            raise KernelError(type(action).__name__, target, "injected")
        ran.append(f"{type(action).__name__}:{target}")

    kinds = [A.CreateNamespace, A.SyncAddresses, A.AddFipMapping, A.SetTag, A.Garp]
    return ran, {kind: handle for kind in kinds}


def test_one_failing_resource_does_not_stop_the_others() -> None:
    actions = [
        A.AddFipMapping(group="qrouter-a", refs=(("floatingip", "f1"),), ns="qrouter-a", fip="1.1.1.1", fixed="x"),
        A.SetTag(group="port:p1", refs=(("port", "p1"),), port="tapbroken", tag=100),
        A.AddFipMapping(group="qrouter-b", refs=(("floatingip", "f2"),), ns="qrouter-b", fip="1.1.1.2", fixed="y"),
    ]
    ran, handlers = _recorder({"tapbroken"})
    result = run_actions(actions, handlers)
    assert ran == ["AddFipMapping:qrouter-a", "AddFipMapping:qrouter-b"]
    assert list(result.errors) == [("port", "p1")] and "injected" in result.errors[("port", "p1")]
    assert result.failed_groups == {"port:p1"} and result.done == 2


def test_a_namespace_that_cannot_be_created_skips_its_group_only() -> None:
    actions = [
        A.CreateNamespace(group="qrouter-a", refs=(("router", "a"),), ns="qrouter-a", forwarding=True),
        A.SyncAddresses(group="qrouter-a", refs=(("port", "qg"),), ns="qrouter-a", dev="qg-x", wanted=frozenset()),
        A.CreateNamespace(group="qrouter-b", refs=(("router", "b"),), ns="qrouter-b", forwarding=True),
    ]
    ran, handlers = _recorder({"qrouter-a"})
    result = run_actions(actions, handlers)
    assert ran == ["CreateNamespace:qrouter-b"]
    assert result.errors[("port", "qg")].startswith("skipped: ")
    assert set(result.errors) == {("router", "a"), ("port", "qg")}


def test_a_bug_in_a_handler_is_contained_too() -> None:
    def broken(action: A.Action) -> None:
        raise ZeroDivisionError("bug")

    action = A.SetTag(group="port:p", refs=(("port", "p"),), port="tap", tag=1)
    result = run_actions([action, action], {A.SetTag: broken})
    assert result.errors == {("port", "p"): "bug"} and result.done == 0


def test_statuses_active_down_error() -> None:
    desired = state([router_doc(fips=[fip(1), fip(2)])], ports=[port_doc("vm1"), port_doc("vm2")])
    observed = Observed(ovs_ports={"tapvm1": OvsPort("tapvm1", "br-eth1", 100, "vm1", 3)})
    out = S.compute(desired, observed, {("floatingip", fip(2)["id"]): "nft failed"}, gone_fips=["old"])
    assert out["routers"] == {R1: "ACTIVE"}
    assert out["floatingips"] == {fip(1)["id"]: "ACTIVE", fip(2)["id"]: "ERROR", "old": "DOWN"}
    assert out["ports"]["vm1"] == "ACTIVE" and out["ports"]["vm2"] == "DOWN"
    assert out["ports"][f"gw{R1}"] == "ACTIVE"


def test_status_deltas_skip_what_the_server_already_has() -> None:
    desired = state(ports=[port_doc("vm1")])
    statuses = {"ports": {"vm1": "DOWN"}, "floatingips": {}, "routers": {}}
    assert S.changed(statuses, S.known(desired)) == {"ports": {}, "floatingips": {}, "routers": {}}


def test_touched_ids_of_a_change_batch() -> None:
    changes = [
        {"seq": 1, "kind": "floatingip", "id": "f", "op": "update", "router_id": R1, "network_id": None},
        {"seq": 2, "kind": "port", "id": "p", "op": "delete", "router_id": None, "network_id": "n"},
        {"seq": 3, "kind": "router", "id": R2, "op": "create"},
    ]
    batch = touched(changes)
    assert (batch.routers, batch.networks, batch.gone_ports) == ({R1, R2}, {"n"}, {"p"})
    assert batch.fips == {R1: {"f"}} and not batch.fips_only


def test_a_batch_of_floating_ip_changes_is_narrowed() -> None:
    changes = [
        {"kind": "floatingip", "id": "f1", "op": "update", "router_id": R1},
        {"kind": "floatingip", "id": "f2", "op": "update", "router_id": R1},
        {"kind": "floatingip", "id": "f2", "op": "update", "router_id": R2},
    ]
    batch = touched(changes)
    assert batch.fips_only and batch.fips == {R1: {"f1", "f2"}, R2: {"f2"}}
    assert not touched([*changes, {"kind": "router", "id": R2, "op": "update", "router_id": R2}]).fips_only


def test_narrowed_routers_are_completed_from_the_cached_state() -> None:
    full = state([router_doc(R1, fips=[fip(1), fip(2), fip(3)])])
    moved = dict(fip(2), fixed_ip_address="10.0.0.9")
    answer_doc = router_doc(R1, fips=[moved])
    answer_doc["floatingips_partial"] = True
    answer = state([answer_doc], complete=False)
    asked = {fip(2)["id"], fip(3)["id"]}  # 2 moved, 3 disassociated (absent from the answer)
    done = complete_routers(answer, full, asked)
    assert done is not None
    router = done.routers[R1]
    assert not router.floatingips_partial
    assert {i: f.fixed_ip_address for i, f in router.floatingips.items()} == {
        fip(1)["id"]: "10.0.0.5",
        fip(2)["id"]: "10.0.0.9",
    }
    assert complete_routers(answer, state([]), asked) is None


def test_merge_replaces_refetched_routers_and_drops_absent_ones() -> None:
    full = state([router_doc(R1, fips=[fip(1)]), router_doc(R2)], ports=[port_doc("vm1")])
    partial = state([router_doc(R1, fips=[fip(1), fip(2)])], complete=False, absent={"routers": [R2], "networks": []})
    merged = merge(full, partial, {R1, R2}, set())
    assert set(merged.routers) == {R1} and len(merged.routers[R1].floatingips) == 2
    assert set(merged.ports) == {"vm1"} and merged.complete
