"""The agent's planner: minimal plans, a fixed point, and deletion only when allowed."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest

from floatnet.agent import actions as A
from floatnet.agent.desired import DEAD_VLAN, DesiredState, DesiredStateError, parse_state
from floatnet.agent.plan import plan
from floatnet.agent.plan_common import PlanContext
from floatnet.agent.projection import project
from floatnet.agent.state import Observed, OvsPort
from tests.unit.agent_fakes import FakeKernel

R1 = "11111111-1111-4111-8111-111111111111"
R2 = "22222222-2222-4222-8222-222222222222"
NET = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
EXT = "eeeeeeee-eeee-4eee-8eee-eeeeeeeeeeee"
CTX = PlanContext(upstream_dns=("198.51.100.53",))


def fip(n: int, fixed: str = "10.0.0.5") -> dict[str, Any]:
    return {
        "id": f"f{n:07d}-0000-4000-8000-000000000000",
        "floating_ip_address": f"203.0.113.{100 + n}",
        "fixed_ip_address": fixed,
        "port_id": "vm-port",
        "status": "DOWN",
    }


def router_doc(rid: str = R1, fips: list[dict[str, Any]] | None = None, snat: bool = True) -> dict[str, Any]:
    return {
        "id": rid,
        "name": "router1",
        "admin_state_up": True,
        "enable_snat": snat,
        "routes": [{"destination": "192.0.2.0/24", "nexthop": "10.0.0.7"}],
        "gateway": {
            "port_id": f"gw{rid}",
            "mac_address": "fa:16:3e:00:00:01",
            "ip_address": "203.0.113.100",
            "prefixlen": 24,
            "gateway_ip": "203.0.113.1",
            "cidr": "203.0.113.0/24",
            "network_id": EXT,
            "bridge": "br-ex",
            "network_type": "flat",
            "segmentation_id": None,
            "mtu": 1500,
        },
        "interfaces": [
            {
                "port_id": f"if{rid}",
                "mac_address": "fa:16:3e:00:00:02",
                "ip_address": "10.0.0.1",
                "prefixlen": 24,
                "subnet_id": "sub1",
                "cidr": "10.0.0.0/24",
                "network_id": NET,
                "bridge": "br-eth1",
                "network_type": "vlan",
                "segmentation_id": 100,
                "mtu": 1500,
            }
        ],
        "floatingips": fips if fips is not None else [fip(1)],
    }


def network_doc(hosts: int = 1, dns: list[str] | None = None) -> dict[str, Any]:
    return {
        "id": NET,
        "name": "vlan_100",
        "admin_state_up": True,
        "mtu": 1500,
        "network_type": "vlan",
        "physical_network": "public_eth1",
        "segmentation_id": 100,
        "bridge": "br-eth1",
        "dhcp": {
            "port": {
                "id": "dhcpport-0000",
                "mac_address": "fa:16:3e:00:00:03",
                "fixed_ips": [{"subnet_id": "sub1", "ip_address": "10.0.0.2", "prefixlen": 24}],
            },
            "subnets": [
                {
                    "id": "sub1",
                    "cidr": "10.0.0.0/24",
                    "gateway_ip": "10.0.0.1",
                    "dns_nameservers": dns or [],
                    "host_routes": [],
                    "enable_dhcp": True,
                }
            ],
            "hosts": [
                {
                    "port_id": f"p{i}",
                    "mac_address": f"fa:16:3e:00:01:{i:02x}",
                    "ip_address": f"10.0.0.{10 + i}",
                    "hostname": f"host-10-0-0-{10 + i}",
                }
                for i in range(hosts)
            ],
        },
    }


def port_doc(pid: str = "vm-port", admin: bool = True, network_type: str = "vlan") -> dict[str, Any]:
    return {
        "id": pid,
        "network_id": NET,
        "mac_address": "fa:16:3e:00:01:00",
        "admin_state_up": admin,
        "status": "DOWN",
        "device_owner": "compute:nova",
        "bridge": "br-eth1",
        "network_type": network_type,
        "segmentation_id": 100 if network_type == "vlan" else None,
        "fixed_ips": [{"subnet_id": "sub1", "ip_address": "10.0.0.5"}],
    }


def state(
    routers: Sequence[Any] = (),
    networks: Sequence[Any] = (),
    ports: Sequence[Any] = (),
    complete: bool = True,
    absent: dict[str, list[str]] | None = None,
    absent_ports: tuple[str, ...] = (),
) -> DesiredState:
    doc = {
        "seq": 7,
        "host": "node1",
        "routers": list(routers),
        "networks": list(networks),
        "ports": list(ports),
        "absent": absent or {"routers": [], "networks": []},
    }
    return parse_state(copy.deepcopy(doc), complete=complete, absent_ports=absent_ports)


def kinds(actions: list[A.Action]) -> list[str]:
    return [type(a).__name__ for a in actions]


def test_create_router_and_dhcp_from_nothing() -> None:
    actions = plan(state([router_doc()], [network_doc()]), Observed(), CTX)
    router = [a for a in actions if a.group == f"qrouter-{R1}"]
    assert kinds(router) == [
        "CreateNamespace",
        "PlugDevice",
        "SyncAddresses",
        "PlugDevice",
        "SyncAddresses",
        "EditRoutes",
        "ReplaceNat",
        "Garp",
    ]
    qg = [a for a in router if isinstance(a, A.SyncAddresses) and a.dev.startswith("qg-")][0]
    assert qg.wanted == frozenset({"203.0.113.100/24", "203.0.113.101/32"})
    plug_qr = [a for a in router if isinstance(a, A.PlugDevice) and a.dev.startswith("qr-")][0]
    assert (plug_qr.bridge, plug_qr.tag, plug_qr.iface_id) == ("br-eth1", 100, f"if{R1}")
    nat = [a for a in router if isinstance(a, A.ReplaceNat)][0].table
    assert nat.fips == {"203.0.113.101": "10.0.0.5"} and nat.internal_cidrs == {"10.0.0.0/24"}
    dhcp = [a for a in actions if a.group == f"qdhcp-{NET}"]
    assert kinds(dhcp) == ["CreateNamespace", "PlugDevice", "SyncAddresses", "EditRoutes", "EnsureDhcp"]
    config = dhcp[-1].config  # type: ignore[attr-defined]
    assert config.dns_servers == ("10.0.0.2",) and config.upstream_dns == ("198.51.100.53",)


def test_identical_state_plans_nothing() -> None:
    """The key property: an agent restarting on a kernel that already matches does nothing at all."""
    desired = state([router_doc(fips=[fip(i) for i in range(1, 50)]), router_doc(R2)], [network_doc(5)])
    assert plan(desired, project(desired, CTX), CTX) == []


def test_one_fip_added_is_address_map_element_and_garp() -> None:
    before = state([router_doc(fips=[fip(1)])])
    after = state([router_doc(fips=[fip(1), fip(2, "10.0.0.6")])])
    actions = plan(after, project(before), CTX)
    assert kinds(actions) == ["EditAddresses", "AddFipMapping", "Garp"]
    add = actions[1]
    assert isinstance(add, A.AddFipMapping) and (add.fip, add.fixed) == ("203.0.113.102", "10.0.0.6")
    assert add.refs == (("floatingip", fip(2)["id"]),)
    assert actions[0].add == {"203.0.113.102/32"} and not actions[0].remove  # type: ignore[attr-defined]
    assert ("floatingip", fip(2)["id"]) in actions[0].refs


def test_one_fip_removed_flushes_conntrack() -> None:
    before = state([router_doc(fips=[fip(1), fip(2, "10.0.0.6")])])
    after = state([router_doc(fips=[fip(1)])])
    actions = plan(after, project(before), CTX)
    assert kinds(actions) == ["DelFipMapping", "EditAddresses", "FlushConntrack"]
    assert actions[-1].ips == ("203.0.113.102",)  # type: ignore[attr-defined]


def test_fip_moved_to_another_instance() -> None:
    before = state([router_doc(fips=[fip(1, "10.0.0.5")])])
    after = state([router_doc(fips=[fip(1, "10.0.0.9")])])
    actions = plan(after, project(before), CTX)
    assert kinds(actions) == ["DelFipMapping", "AddFipMapping", "Garp", "FlushConntrack"]


def test_fip_moved_between_routers() -> None:
    before = state([router_doc(R1, fips=[fip(1)]), router_doc(R2, fips=[])])
    after = state([router_doc(R1, fips=[]), router_doc(R2, fips=[fip(1)])])
    actions = plan(after, project(before), CTX)
    assert kinds([a for a in actions if a.group == f"qrouter-{R1}"]) == [
        "DelFipMapping",
        "EditAddresses",
        "FlushConntrack",
    ]
    assert kinds([a for a in actions if a.group == f"qrouter-{R2}"]) == [
        "EditAddresses",
        "AddFipMapping",
        "Garp",
    ]


def test_structure_change_replaces_the_table_only() -> None:
    before = state([router_doc(snat=True)])
    after = state([router_doc(snat=False)])
    actions = plan(after, project(before), CTX)
    assert kinds(actions) == ["ReplaceNat"]
    assert actions[0].table.enable_snat is False  # type: ignore[attr-defined]


def applied(before: DesiredState, after: DesiredState) -> tuple[list[A.Action], FakeKernel]:
    """The plan from ``before`` (as projected) to ``after``, run on the in-memory kernel, which checks the NAT
    element pairs the way the kernel does (a pair it does not hold, a fixed IP mapped elsewhere: refused)."""
    kernel = FakeKernel()
    view = project(before, CTX)
    kernel.namespaces, kernel.ovs = dict(view.namespaces), dict(view.ovs_ports)
    actions = plan(after, view, CTX)
    result = kernel.apply(actions)
    assert not result.errors, result.errors
    assert dict(kernel.namespaces) == dict(project(after, CTX).namespaces)
    return actions, kernel


def test_interface_added_edits_the_internal_set_only() -> None:
    """The planner diffs the table's elements (linux/nat keeps no memory): a new interface is one set
    element added, the floating IPs untouched, the rules not rebuilt."""
    doc = router_doc(fips=[fip(1), fip(2, "10.0.0.6")])
    bigger = copy.deepcopy(doc)
    bigger["interfaces"].append(dict(doc["interfaces"][0], port_id="if2", ip_address="10.0.2.1", cidr="10.0.2.0/24"))
    actions, _ = applied(state([doc]), state([bigger]))
    edit = [a for a in actions if isinstance(a, A.EditNatInternal)]
    assert "ReplaceNat" not in kinds(actions) and len(edit) == 1
    assert (edit[0].add, edit[0].remove) == ({"10.0.2.0/24"}, set())
    actions, _ = applied(state([bigger]), state([doc]))
    assert [(a.add, a.remove) for a in actions if isinstance(a, A.EditNatInternal)] == [(set(), {"10.0.2.0/24"})]


def test_fixed_ip_handed_to_another_floating_ip() -> None:
    """Floating IP 1 leaves 10.0.0.5 and floating IP 2 takes it, in one plan: the old pair is deleted (named
    from the view) before the new one is added, so the kernel accepts both."""
    actions, _ = applied(state([router_doc(fips=[fip(1, "10.0.0.5")])]), state([router_doc(fips=[fip(2, "10.0.0.5")])]))
    nat = [(type(a).__name__, a.fip, a.fixed) for a in actions if isinstance(a, A.DelFipMapping | A.AddFipMapping)]
    assert nat == [("DelFipMapping", "203.0.113.101", "10.0.0.5"), ("AddFipMapping", "203.0.113.102", "10.0.0.5")]


def test_route_change_is_diffed_against_the_view() -> None:
    doc = router_doc()
    changed = copy.deepcopy(doc)
    changed["routes"] = [{"destination": "198.51.100.0/24", "nexthop": "10.0.0.8"}]
    actions, _ = applied(state([doc]), state([changed]))
    (edit,) = [a for a in actions if isinstance(a, A.EditRoutes)]
    assert edit.add == {("198.51.100.0/24", "10.0.0.8")} and edit.remove == {("192.0.2.0/24", "10.0.0.7")}


def test_gateway_device_change_rebuilds_the_table() -> None:
    """A new gateway port with the same address: the rules match the new ``qg-`` device (an element edit
    would keep the old ``oifname``)."""
    doc = router_doc()
    moved = copy.deepcopy(doc)
    moved["gateway"]["port_id"] = "gwother"
    actions, _ = applied(state([doc]), state([moved]))
    assert "ReplaceNat" in kinds(actions)


def test_gateway_cleared_deletes_nat_and_qg() -> None:
    before = state([router_doc()])
    doc = router_doc(fips=[])
    doc["gateway"] = None
    actions = plan(state([doc]), project(before), CTX)
    assert set(kinds(actions)) == {"UnplugDevice", "EditRoutes", "ReplaceNat", "FlushConntrack"}


def test_stale_router_and_dhcp_swept_only_with_complete_state() -> None:
    old = project(state([router_doc(R1), router_doc(R2)], [network_doc()]), CTX)
    complete = plan(state([router_doc(R1)], complete=True), old, CTX)
    assert kinds(complete) == ["DeleteNamespace", "StopDhcp", "DeleteNamespace"]
    gone = complete[0]
    assert isinstance(gone, A.DeleteNamespace) and gone.ns == f"qrouter-{R2}"
    assert set(gone.ovs_ports) == {f"qr-if{R2}"[:14], f"qg-gw{R2}"[:14]}
    assert plan(state([router_doc(R1)], complete=False), old, CTX) == []
    assert plan(state([], complete=False), old, CTX) == []


def test_partial_state_removes_only_what_the_server_named_absent() -> None:
    old = project(state([router_doc(R1), router_doc(R2)], [network_doc()]), CTX)
    actions = plan(state([], complete=False, absent={"routers": [R2], "networks": []}), old, CTX)
    assert kinds(actions) == ["DeleteNamespace"] and actions[0].ns == f"qrouter-{R2}"  # type: ignore[attr-defined]
    actions = plan(state([], complete=False, absent={"routers": [], "networks": [NET]}), old, CTX)
    assert kinds(actions) == ["StopDhcp", "DeleteNamespace"]


def test_dhcp_host_added_only_reconfigures_dnsmasq() -> None:
    before = state([], [network_doc(hosts=1)])
    actions = plan(state([], [network_doc(hosts=2)]), project(before, CTX), CTX)
    assert kinds(actions) == ["EnsureDhcp"]
    assert len(actions[0].config.hosts) == 2  # type: ignore[attr-defined]


def test_dns_nameservers_win_over_the_dhcp_port() -> None:
    actions = plan(state([], [network_doc(dns=["192.0.2.53"])]), Observed(), CTX)
    assert actions[-1].config.dns_servers == ("192.0.2.53",)  # type: ignore[attr-defined]


def test_instance_port_gets_its_tag() -> None:
    plugged = Observed(ovs_ports={"tapvm": OvsPort("tapvm", "br-eth1", None, "vm-port", 5)})
    actions = plan(state(ports=[port_doc()]), plugged, CTX)
    assert actions == [A.SetTag(group="port:vm-port", refs=(("port", "vm-port"),), port="tapvm", tag=100)]
    tagged = Observed(ovs_ports={"tapvm": OvsPort("tapvm", "br-eth1", 100, "vm-port", 5)})
    assert plan(state(ports=[port_doc()]), tagged, CTX) == []
    assert plan(state(ports=[port_doc(network_type="flat")]), plugged, CTX) == []
    down = plan(state(ports=[port_doc(admin=False)]), tagged, CTX)
    assert [a.tag for a in down] == [DEAD_VLAN]  # type: ignore[attr-defined]


def test_unknown_hypervisor_ports_isolated_only_when_complete() -> None:
    plugged = Observed(ovs_ports={"tapx": OvsPort("tapx", "br-eth1", 100, "gone-port", 5)})
    assert kinds(plan(state(), plugged, CTX)) == ["SetTag"]
    assert plan(state(complete=False), plugged, CTX) == []
    deleted = plan(state(complete=False, absent_ports=("gone-port",)), plugged, CTX)
    assert [a.tag for a in deleted] == [DEAD_VLAN]  # type: ignore[attr-defined]


def test_ghost_ovs_port_is_replugged() -> None:
    desired = state([router_doc()])
    observed = project(desired)
    qg = next(p for p in observed.ovs_ports.values() if p.name.startswith("qg-"))
    ghost = replace(observed, ovs_ports={**observed.ovs_ports, qg.name: replace(qg, ofport=-1)})
    assert kinds(plan(desired, ghost, CTX)) == ["PlugDevice", "SyncAddresses"]


def test_wrong_tag_on_router_port_is_fixed_without_replug() -> None:
    desired = state([router_doc()])
    observed = project(desired)
    qr = next(p for p in observed.ovs_ports.values() if p.name.startswith("qr-"))
    wrong = replace(observed, ovs_ports={**observed.ovs_ports, qr.name: replace(qr, tag=200)})
    assert kinds(plan(desired, wrong, CTX)) == ["SetTag"]


def test_malformed_state_is_rejected() -> None:
    with pytest.raises(DesiredStateError):
        parse_state({"routers": []}, complete=True)
    bad = {"seq": 1, "routers": [{"id": R1, "gateway": {"port_id": 5}}]}
    with pytest.raises(DesiredStateError):
        parse_state(bad, complete=True)
