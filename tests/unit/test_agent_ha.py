"""The agent's plan for a replica of an HA router (l3-ha, issue 15): the ``ha-`` device, keepalived holding the
addresses and routes (the planner leaves them alone on a MASTER), the NAT maps on every replica, gratuitous ARP
only from the MASTER, a floating IP as a keepalived reload, the way back to a plain router, and the replica's
``ha_state`` in the statuses."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from floatnet.agent import actions as A
from floatnet.agent import status as S
from floatnet.agent.desired import DesiredStateError, parse_state
from floatnet.agent.plan import plan
from floatnet.agent.plan_common import PlanContext
from floatnet.agent.projection import carry_vrrp, project
from floatnet.agent.state import Link, Namespace, Observed, Routes
from tests.unit.test_agent_ipv6 import dual_stack_router
from tests.unit.test_agent_plan import R1, fip, kinds, router_doc, state

CTX = PlanContext(ha_vrrp_advert_int=0.5)
SYNC_CTX = PlanContext(ha_vrrp_advert_int=0.5, conntrackd_dir="/var/lib/floatnet/conntrackd")
NS = f"qrouter-{R1}"
HA_PORT = "hahahaha-0000-4000-8000-000000000000"
QG, QR, HA = f"qg-gw{R1}"[:14], f"qr-if{R1}"[:14], "ha-hahahaha-00"


def ha_doc(fips: list[dict[str, Any]] | None = None, vr_id: int = 7) -> dict[str, Any]:
    doc = router_doc(fips=fips)
    doc["ha"] = {
        "vr_id": vr_id,
        "port": {"port_id": HA_PORT, "mac_address": "fa:16:3e:00:00:aa", "ip_address": "169.254.192.5",
                 "prefixlen": 18, "subnet_id": "hasub", "cidr": "169.254.192.0/18", "network_id": "hanet",
                 "bridge": "br-eth1", "network_type": "vlan", "segmentation_id": 150, "mtu": 1500},
    }  # fmt: skip
    return doc


def as_master(observed: Observed) -> Observed:
    """The kernel once keepalived made this replica the MASTER: the VIPs, the routes, the primary VIP."""
    ns = observed.namespaces[NS]
    links = dict(ns.links)
    links[HA] = replace(links[HA], addresses=links[HA].addresses | {"169.254.0.7/24"})
    links[QG] = replace(links[QG], addresses=frozenset({"203.0.113.100/24", "203.0.113.101/32"}))
    links[QR] = replace(links[QR], addresses=frozenset({"10.0.0.1/24"}))
    routes = Routes("203.0.113.1", frozenset({("192.0.2.0/24", "10.0.0.7")}))
    return replace(observed, namespaces={NS: replace(ns, links=links, routes=routes, ha_master=True)})


def test_a_replica_is_wired_without_the_addresses_keepalived_holds() -> None:
    actions = plan(state([ha_doc()]), Observed(), CTX)
    assert kinds(actions) == ["CreateNamespace", "PlugDevice", "SyncAddresses", "PlugDevice", "SyncAddresses",
                              "PlugDevice", "SyncAddresses", "ReplaceNat", "EnsureKeepalived"]  # fmt: skip
    syncs = {a.dev: a for a in actions if isinstance(a, A.SyncAddresses)}
    assert syncs[QG].wanted == frozenset() and syncs[QG].keep == {"203.0.113.100/24", "203.0.113.101/32"}
    assert syncs[QR].wanted == frozenset() and syncs[QR].keep == {"10.0.0.1/24"}
    assert syncs[HA].wanted == {"169.254.192.5/18"} and syncs[HA].keep == {"169.254.0.7/24"}
    plug = next(a for a in actions if isinstance(a, A.PlugDevice) and a.dev == HA)
    assert (plug.bridge, plug.tag, plug.iface_id) == ("br-eth1", 150, HA_PORT)
    nat = next(a for a in actions if isinstance(a, A.ReplaceNat)).table
    assert nat.fips == {"203.0.113.101": "10.0.0.5"}  # the maps on every replica
    config = next(a for a in actions if isinstance(a, A.EnsureKeepalived)).config
    assert "virtual_router_id 7" in config and "advert_int 0.5" in config and f"interface {HA}" in config
    for line in (f"203.0.113.101/32 dev {QG}", f"203.0.113.100/24 dev {QG}", f"10.0.0.1/24 dev {QR}",
                 f"0.0.0.0/0 via 203.0.113.1 dev {QG}", "192.0.2.0/24 via 10.0.0.7"):  # fmt: skip
        assert line in config


def test_fixed_point_on_a_backup_and_on_the_master() -> None:
    desired = state([ha_doc(fips=[fip(i) for i in range(1, 20)])])
    assert plan(desired, project(desired, CTX), CTX) == []
    master = as_master(project(state([ha_doc()]), CTX))
    assert plan(state([ha_doc()]), master, CTX) == []  # keepalived's addresses and routes are left alone


@pytest.mark.parametrize("dev", [QG, QR, HA])
def test_a_device_whose_ovs_end_is_down_is_plugged_again(dev: str) -> None:
    """OVS sees the port's link down (the veth's OVS end left down, or no carrier): keepalived holds such a
    replica in FAULT, so the agent re-plugs it (which brings both ends up) and leaves its addresses as they are.
    A re-plug of the ``ha-`` device may re-create it: keepalived (and conntrackd) are ensured after it, which
    restarts them only if the device they are bound to changed."""
    observed = project(state([ha_doc()]), SYNC_CTX)
    down = replace(observed, ovs_ports={**observed.ovs_ports, dev: replace(observed.ovs_ports[dev], link_state="down")})
    actions = plan(state([ha_doc()]), down, SYNC_CTX)
    daemons = ["EnsureConntrackd", "EnsureKeepalived"] if dev == HA else []
    assert kinds(actions) == ["PlugDevice", "SyncAddresses", *daemons]
    assert {a.dev for a in actions[:2]} == {dev}  # type: ignore[attr-defined]
    up = replace(observed, ovs_ports={**observed.ovs_ports, dev: replace(observed.ovs_ports[dev], link_state="up")})
    assert plan(state([ha_doc()]), up, SYNC_CTX) == []


def test_a_stray_address_is_still_removed_from_a_replica() -> None:
    observed = project(state([ha_doc()]), CTX)
    ns = observed.namespaces[NS]
    stray = replace(ns.links[QG], addresses=frozenset({"198.51.100.9/32"}))
    actions = plan(state([ha_doc()]), replace(observed, namespaces={NS: replace(ns, links={**ns.links, QG: stray})}),
                   CTX)  # fmt: skip
    assert [(type(a).__name__, a.remove) for a in actions] == [("EditAddresses", {"198.51.100.9/32"})]  # type: ignore[attr-defined]


@pytest.mark.parametrize("master", [False, True])
def test_a_floating_ip_is_a_keepalived_reload_announced_by_the_master_only(master: bool) -> None:
    before = project(state([ha_doc(fips=[fip(1)])]), CTX)
    before = as_master(before) if master else before
    actions = plan(state([ha_doc(fips=[fip(1), fip(2, "10.0.0.6")])]), before, CTX)
    assert kinds(actions) == ["AddFipMapping", *(["Garp"] if master else []), "EnsureKeepalived"]
    assert f"203.0.113.102/32 dev {QG}" in actions[-1].config  # type: ignore[attr-defined]


def test_back_to_a_plain_router_stops_keepalived_and_unplugs_ha() -> None:
    before = project(state([ha_doc()]), CTX)
    actions = plan(state([router_doc()]), before, CTX)
    assert ("UnplugDevice", HA) in [(type(a).__name__, getattr(a, "dev", None)) for a in actions]
    assert kinds(actions)[-1] == "StopKeepalived" and "EditRoutes" in kinds(actions)
    assert {a.dev for a in actions if isinstance(a, A.EditAddresses)} == {QG, QR}


def test_ha_state_is_reported_from_the_vrrp_role() -> None:
    desired = state([ha_doc()])
    backup = project(desired, CTX)
    assert S.compute(desired, backup, {})["ha_states"] == {R1: "standby"}
    assert S.compute(desired, as_master(backup), {})["ha_states"] == {R1: "active"}
    assert S.compute(desired, backup, {})["ports"][HA_PORT] == "ACTIVE"
    assert S.compute(state([router_doc()]), backup, {})["ha_states"] == {}


def test_a_projection_keeps_the_observed_vrrp_role() -> None:
    master = as_master(project(state([ha_doc()]), CTX)).namespaces[NS]
    projected = project(state([ha_doc(fips=[])]), CTX).namespaces[NS]
    assert carry_vrrp(master, projected, state([ha_doc(fips=[])])).ha_master is True  # type: ignore[union-attr]
    plain = Namespace(NS, links={QG: Link(QG, "fa:16:3e:00:00:01")})
    assert carry_vrrp(master, plain, state([ha_doc()])) is plain


def test_bad_vrrp_id_is_a_malformed_state() -> None:
    with pytest.raises(DesiredStateError):
        parse_state({"seq": 1, "routers": [ha_doc(vr_id=300)]}, complete=True)


def test_with_conntrackd_each_replica_runs_it_before_keepalived_which_notifies_it() -> None:
    actions = plan(state([ha_doc()]), Observed(), SYNC_CTX)
    assert kinds(actions)[-2:] == ["EnsureConntrackd", "EnsureKeepalived"]
    sync = next(a for a in actions if isinstance(a, A.EnsureConntrackd)).config
    for line in ("Group 3787", "IPv4_interface 169.254.192.5", f"Interface {HA}", f"/conntrackd/{R1}/lock"):
        assert line in sync
    vrrp = next(a for a in actions if isinstance(a, A.EnsureKeepalived)).config
    assert f'notify_master "/bin/sh /var/lib/floatnet/conntrackd/{R1}/notify.sh master"' in vrrp
    assert (
        "notify"
        not in next(a for a in plan(state([ha_doc()]), Observed(), CTX) if isinstance(a, A.EnsureKeepalived)).config
    )
    desired = state([ha_doc()])
    assert plan(desired, project(desired, SYNC_CTX), SYNC_CTX) == []  # fixed point


def test_a_killed_conntrackd_is_started_again_and_turning_it_off_stops_it() -> None:
    desired = state([ha_doc()])
    observed = project(desired, SYNC_CTX)
    killed = replace(observed, namespaces={NS: replace(observed.namespaces[NS], conntrackd=None)})
    assert kinds(plan(desired, killed, SYNC_CTX)) == ["EnsureConntrackd"]  # keepalived untouched: no transition
    off = plan(desired, observed, replace(SYNC_CTX, conntrackd_dir=""))
    assert kinds(off) == ["StopConntrackd", "EnsureKeepalived"]  # and keepalived loses its notify lines
    plain = plan(state([router_doc()]), observed, SYNC_CTX)
    assert {"StopConntrackd", "StopKeepalived"} <= set(kinds(plain))


def test_radvd_runs_only_on_the_master_replica_as_neutrons_ha_routers() -> None:
    """An HA router with an IPv6 subnet advertising (slaac): a BACKUP runs no radvd, the MASTER does; a
    MASTER that became a BACKUP stops it; the projection of a MASTER carries it (fixed point)."""
    desired = state([{**dual_stack_router(), "ha": ha_doc()["ha"]}])
    backup = project(desired, CTX)
    assert backup.namespaces[NS].radvd is None and plan(desired, backup, CTX) == []
    master_ns = replace(backup.namespaces[NS], ha_master=True)
    started = plan(desired, replace(backup, namespaces={NS: master_ns}), CTX)
    assert kinds(started) == ["EnsureRadvd"] and "prefix 2001:db8:1::/64" in started[0].config  # type: ignore[attr-defined]
    carried = carry_vrrp(master_ns, backup.namespaces[NS], desired)
    assert carried is not None and carried.radvd == started[0].config  # type: ignore[attr-defined]
    assert plan(desired, replace(backup, namespaces={NS: carried}), CTX) == []
    demoted = replace(carried, ha_master=False)
    assert kinds(plan(desired, replace(backup, namespaces={NS: demoted}), CTX)) == ["StopRadvd"]


def test_an_ipv4_only_replica_gets_a_namespace_without_ipv6() -> None:
    """The replicas share the router ports' MACs: an IPv4-only replica's devices must send no IPv6 of their own
    (DAD, MLD) when they come up, or the switch learns the active replica's MAC on a standby's node."""
    [create] = [a for a in plan(state([ha_doc()]), Observed(), CTX) if isinstance(a, A.CreateNamespace)]
    assert create.ipv6 is False
    [plain] = [a for a in plan(state([router_doc()]), Observed(), CTX) if isinstance(a, A.CreateNamespace)]
    assert plain.ipv6 is True
    doc = ha_doc()
    doc["interfaces"].append({**doc["interfaces"][0], "ip_address": "2001:db8::1", "prefixlen": 64,
                              "cidr": "2001:db8::/64", "subnet_id": "sub6"})  # fmt: skip
    [dual] = [a for a in plan(state([doc]), Observed(), CTX) if isinstance(a, A.CreateNamespace)]
    assert dual.ipv6 is True  # its IPv6 addresses are keepalived's: IPv6 stays on
