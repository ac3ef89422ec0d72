"""Planning routers with IPv6: addresses on ``qr-``/``qg-``, the default route via the external IPv6 subnet's
gateway (routed: no NAT, floating IPs stay IPv4), and a fixed point like IPv4 (applying changes nothing more)."""

from __future__ import annotations

from typing import Any

from floatnet.agent import actions as A
from floatnet.agent.plan import plan
from floatnet.agent.projection import project
from floatnet.agent.state import Observed
from tests.unit.test_agent_plan import R2, router_doc, state


def dual_stack_router(**doc: Any) -> dict[str, Any]:
    router = router_doc()
    v4 = router["interfaces"][0]
    router["interfaces"].append({
        **v4, "port_id": "if6", "mac_address": "fa:16:3e:00:00:06", "ip_address": "2001:db8:1::1", "prefixlen": 64,
        "subnet_id": "sub6", "cidr": "2001:db8:1::/64", "ipv6_ra_mode": "slaac", "ipv6_address_mode": "slaac",
    })  # fmt: skip
    router["gateway_ipv6"] = {
        **router["gateway"], "ip_address": "2001:db8:ff::10", "prefixlen": 64, "cidr": "2001:db8:ff::/64",
        "gateway_ip": "2001:db8:ff::1",
    }  # fmt: skip
    router["routes"].append({"destination": "2001:db8:77::/48", "nexthop": "2001:db8:1::9"})
    return {**router, **doc}


def test_dual_stack_router_is_planned_routed_not_nated() -> None:
    actions = plan(state([dual_stack_router()]), Observed())
    addresses = {a.dev: a.wanted for a in actions if isinstance(a, A.SyncAddresses)}
    assert addresses["qr-if6"] == {"2001:db8:1::1/64"}
    assert addresses[next(d for d in addresses if d.startswith("qg-"))] == {
        "203.0.113.100/24", "203.0.113.101/32", "2001:db8:ff::10/64",
    }  # fmt: skip
    [routes] = [a for a in actions if isinstance(a, A.EditRoutes)]
    assert ("::/0", "2001:db8:ff::1") in routes.add and ("0.0.0.0/0", "203.0.113.1") in routes.add
    assert ("2001:db8:77::/48", "2001:db8:1::9") in routes.add
    [nat] = [a for a in actions if isinstance(a, A.ReplaceNat)]
    assert nat.table.internal_cidrs == {"10.0.0.0/24"} and nat.table.gateway_ip == "203.0.113.100"
    assert [a.forwarding for a in actions if isinstance(a, A.CreateNamespace)] == [True]


def test_ipv6_only_gateway_plugs_qg_without_nat_rules() -> None:
    router = dual_stack_router(gateway=None, floatingips=[])
    actions = plan(state([router]), Observed())
    qg = [a for a in actions if isinstance(a, A.SyncAddresses) and a.dev.startswith("qg-")]
    assert [a.wanted for a in qg] == [{"2001:db8:ff::10/64"}]
    [nat] = [a for a in actions if isinstance(a, A.ReplaceNat)]
    assert nat.table.gateway_ip is None and not nat.table.enable_snat and not nat.table.fips


def test_dual_stack_router_reaches_a_fixed_point() -> None:
    desired = state([dual_stack_router()])
    assert plan(desired, project(desired)) == []


def test_ipv6_gateway_removed_deletes_only_its_address_and_route() -> None:
    before = state([dual_stack_router()])
    after = state([dual_stack_router(gateway_ipv6=None)])
    actions = plan(after, project(before))
    assert {type(a).__name__ for a in actions} == {"EditAddresses", "EditRoutes"}
    [edit] = [a for a in actions if isinstance(a, A.EditAddresses)]
    assert edit.remove == {"2001:db8:ff::10/64"} and not edit.add
    [routes] = [a for a in actions if isinstance(a, A.EditRoutes)]
    assert routes.remove == {("::/0", "2001:db8:ff::1")} and not routes.add


def test_router_advertisements_follow_the_ra_modes() -> None:
    router = dual_stack_router()
    router["interfaces"] += [
        {**router["interfaces"][1], "ip_address": "2001:db8:2::1", "subnet_id": "sub7", "cidr": "2001:db8:2::/64",
         "ipv6_ra_mode": "dhcpv6-stateful", "ipv6_address_mode": "dhcpv6-stateful"},
        {**router["interfaces"][1], "port_id": "if8", "mac_address": "fa:16:3e:00:00:08", "ip_address": "2001:db8:3::1",
         "subnet_id": "sub8", "cidr": "2001:db8:3::/64", "ipv6_ra_mode": None, "ipv6_address_mode": "slaac"},
    ]  # fmt: skip
    [radvd] = [a for a in plan(state([router]), Observed()) if isinstance(a, A.EnsureRadvd)]
    config = radvd.config
    assert "interface qr-if6\n" in config and "qr-if8" not in config  # no ra_mode: an external router advertises
    assert "AdvManagedFlag on;" in config and "AdvOtherConfigFlag" not in config and "AdvLinkMTU 1500;" in config
    assert "prefix 2001:db8:1::/64\n    {\n        AdvOnLink on;\n        AdvAutonomous on;" in config
    assert "prefix 2001:db8:2::/64\n    {\n        AdvOnLink on;\n        AdvAutonomous off;" in config


def test_radvd_reloaded_on_change_and_stopped_when_no_subnet_advertises() -> None:
    before = state([dual_stack_router()])
    stateless = dual_stack_router()
    stateless["interfaces"][1] = {**stateless["interfaces"][1], "ipv6_ra_mode": "dhcpv6-stateless"}
    [changed] = plan(state([stateless]), project(before))
    assert isinstance(changed, A.EnsureRadvd) and "AdvOtherConfigFlag on;" in changed.config
    v4_only = router_doc()
    assert [type(a).__name__ for a in plan(state([v4_only]), project(before))] == [
        "EditAddresses", "UnplugDevice", "EditRoutes", "StopRadvd",
    ]  # fmt: skip


def test_unknown_ra_mode_poisons_only_that_router() -> None:
    bad = dual_stack_router()
    bad["interfaces"][1] = {**bad["interfaces"][1], "ipv6_ra_mode": "bogus"}
    poisoned: dict[A.Ref, str] = {}
    good = router_doc(R2)
    actions = plan(state([bad, good]), Observed(), poisoned=poisoned)
    assert poisoned[("router", bad["id"])].startswith("cannot plan: ValueError: unknown ipv6_ra_mode")
    assert {a.group for a in actions} == {f"qrouter-{R2}"}
