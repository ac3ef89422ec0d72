"""Planning routers with IPv6: addresses on ``qr-``/``qg-``, the default route via the external IPv6 subnet's
gateway (routed: no NAT, floating IPs stay IPv4), and a fixed point like IPv4 (applying changes nothing more)."""

from __future__ import annotations

from typing import Any

from floatnet.agent import actions as A
from floatnet.agent.plan import plan
from floatnet.agent.projection import project
from floatnet.agent.state import Observed
from tests.unit.test_agent_plan import router_doc, state


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
