"""The planner: ``plan(desired, observed) -> [Action]``, a pure function (no I/O, no clock, no randomness).

It produces the *minimal* list of actions that turns what the kernel holds into what the server wants: equal
states give no action at all (an agent restart touches nothing), one floating IP added gives one address
sync, one map-element add and one gratuitous ARP. A router's NAT table is rebuilt only when it is missing
or its rules (gateway, SNAT) differ; otherwise the planner diffs its elements (internal networks, floating
IPs) against the view and edits just those — :mod:`floatnet.linux.nat` keeps no memory and does no diff.
Instance ports get their security-group filter before their tag (:mod:`floatnet.agent.plan_security`).

Deletion is guarded: routers and networks the server named ``absent`` are removed, but a sweep of everything
else floatnet owns and the server no longer lists happens only when ``desired.complete`` (a full snapshot).
With a partial or unknown desired state nothing outside the listed resources is touched (but for security groups
no port needs: every scoped state carries the whole state's ``groups_in_use``)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from floatnet.agent import actions as A
from floatnet.agent.desired import DEAD_VLAN, DesiredState, Router
from floatnet.agent.dhcp_plan import plan_network, remove_dhcp
from floatnet.agent.plan_common import (
    DeviceSpec,
    PlanContext,
    Poisoned,
    ensure_namespace,
    isolated,
    network_refs,
    plan_device,
    remove_namespace,
    router_refs,
    sync_routes,
    unplug_stale,
)
from floatnet.agent.plan_fips import FipDiff, fip_map, pf_elements
from floatnet.agent.plan_ha import plan_ha_daemons, quiet, vrrp_devices
from floatnet.agent.plan_ipv6 import plan_radvd
from floatnet.agent.plan_security import (
    allocate_zones,
    plan_groups,
    plan_port,
    record,
    remove_filters,
    sweep_filters,
    sweep_groups,
)
from floatnet.agent.plan_tunnels import plan_tunnels
from floatnet.agent.state import (
    DEFAULT_ROUTE6,
    NatTable,
    Observed,
    Routes,
    collapse_cidrs,
    norm_cidr,
    norm_iface,
)
from floatnet.linux import names

ROUTER_DEV_PREFIXES = (names.QR_PREFIX, names.QG_PREFIX, names.HA_PREFIX)


def plan(
    desired: DesiredState, observed: Observed, ctx: PlanContext = PlanContext(), poisoned: Poisoned | None = None
) -> list[A.Action]:
    """All actions for ``desired`` against ``observed``, grouped per namespace, in execution order.

    With ``poisoned``, a router or network whose planning raises is recorded there (see
    :func:`~floatnet.agent.plan_common.isolated`) and gets no action — and the sweep keeps what it owns."""
    out: list[A.Action] = []
    for router in sorted(desired.routers.values(), key=lambda r: r.id):
        if router.admin_state_up:
            out += isolated(poisoned, router_refs(router), partial(plan_router, router, observed, ctx), [])
        else:
            out += remove_namespace(names.router_ns(router.id), observed, (("router", router.id),))
    for router_id in sorted(desired.absent_routers - set(desired.routers)):
        out += remove_namespace(names.router_ns(router_id), observed, ())
    for network in sorted(desired.networks.values(), key=lambda n: n.id):
        out += isolated(poisoned, network_refs(network), partial(plan_network, network, observed, ctx), [])
    for network_id in sorted(desired.absent_networks - set(desired.networks)):
        out += remove_dhcp(network_id, observed)
    out += plan_tunnels(desired, observed, ctx.local_ip, poisoned)
    out += plan_instance_ports(desired, observed, poisoned)
    if desired.complete:
        out += sweep(desired, observed, out)
    return out + sweep_groups(desired, observed)  # last: no filter may jump to a group deleted


def router_devices(router: Router) -> list[tuple[DeviceSpec, tuple[A.Ref, ...]]]:
    """The router's ``qr-`` devices (addresses merged per port) and its ``qg-`` device with the FIP /32s; for an
    HA router those addresses are keepalived's and its ``ha-`` device is one more (:mod:`floatnet.agent.plan_ha`)."""
    rref = ("router", router.id)
    specs: dict[str, DeviceSpec] = {}
    for itf in router.interfaces:
        dev = names.qr_dev(itf.port_id)
        known = specs.get(dev)
        addresses = frozenset({norm_iface(f"{itf.ip_address}/{itf.prefixlen}")})
        if known is not None:
            addresses |= known.addresses
        specs[dev] = DeviceSpec(dev, itf.port_id, itf.mac_address, itf.mtu, itf.wiring, addresses)
    qg = _gateway_spec(router)
    wired = list(specs.values()) + ([qg] if qg is not None else [])
    return [(spec, (rref, ("port", spec.iface_id))) for spec in vrrp_devices(router, wired)]


def _gateway_spec(router: Router) -> DeviceSpec | None:
    """The ``qg-`` device: the IPv4 gateway address with the floating IPs' /32s, and the IPv6 gateway address
    (one port; either family may be missing)."""
    ports = [p for p in (router.gateway, router.gateway6) if p is not None]
    if not ports:
        return None
    addresses = {norm_iface(f"{p.ip_address}/{p.prefixlen}") for p in ports}
    if router.gateway is not None:
        addresses |= {f"{f.floating_ip_address}/32" for f in router.floatingips.values()}
    gw = ports[0]
    return DeviceSpec(names.qg_dev(gw.port_id), gw.port_id, gw.mac_address, gw.mtu, gw.wiring, frozenset(addresses))


def router_routes(router: Router) -> Routes:
    """The router namespace's gatewayed routes: default via the external subnet's gateway (IPv4 in
    ``default_gw``, IPv6 as ``::/0`` among the extras — routed, no NAT), plus the extra routes."""
    gw, gw6 = router.gateway, router.gateway6
    extra = {(norm_cidr(d), v) for d, v in router.routes}
    if gw6 is not None and gw6.gateway_ip:
        extra.add((DEFAULT_ROUTE6, gw6.gateway_ip))
    return Routes(gw.gateway_ip if gw else None, frozenset(extra))


def desired_nat(router: Router) -> NatTable:
    """The router's NAT table; without a gateway it has no SNAT and no floating IPs (hairpin rules only)."""
    gw = router.gateway
    return NatTable(
        gateway_ip=gw.ip_address if gw else None,
        gateway_dev=names.qg_dev(gw.port_id) if gw else None,
        enable_snat=router.enable_snat and gw is not None,
        internal_cidrs=collapse_cidrs(i.cidr for i in router.interfaces),
        fips=fip_map(router.floatingips) if gw else {},
        forwardings=pf_elements(router.floatingips) if gw else frozenset(),
    )


def plan_router(router: Router, observed: Observed, ctx: PlanContext = PlanContext()) -> list[A.Action]:
    """Namespace, devices, routes, NAT, conntrack and gratuitous ARP for one router, in that order; for an HA
    router's replica no routes, gratuitous ARP only on the MASTER, and conntrackd and keepalived last
    (:mod:`floatnet.agent.plan_ha`)."""
    ns = names.router_ns(router.id)
    nsobs = observed.namespaces.get(ns)
    rref: tuple[A.Ref, ...] = (("router", router.id),)
    want = desired_nat(router)
    ids = {f.floating_ip_address: f.id for f in router.floatingips.values()}
    unmap, nat, diff = plan_nat(ns, nsobs.nat if nsobs else None, want, ids, rref)
    out = ensure_namespace(ns, nsobs, True, rref, ipv6=not quiet(router)) + unmap
    devices = router_devices(router)
    for spec, refs in devices:
        out += plan_device(ns, spec, observed, refs + diff.refs(diff.arriving))
    out += unplug_stale(ns, nsobs, ROUTER_DEV_PREFIXES, {spec.dev for spec, _ in devices})
    if router.ha is None:
        out += sync_routes(ns, nsobs, router_routes(router), rref)
    master = router.ha is None or (nsobs is not None and nsobs.ha_master)
    announce = diff.announce(ns, want.gateway_dev) if master else []
    replugged = any(isinstance(a, A.PlugDevice) and a.dev.startswith(names.HA_PREFIX) for a in out)
    ha = plan_ha_daemons(router, nsobs, [spec for spec, _ in devices], ctx, replugged)
    return out + nat + announce + plan_radvd(router, nsobs) + ha


def plan_nat(
    ns: str, have: NatTable | None, want: NatTable, ids: Mapping[str, str], refs: tuple[A.Ref, ...]
) -> tuple[list[A.Action], list[A.Action], FipDiff]:
    """The NAT table's part of a router's plan, diffed against the view ``have``: the pairs to unmap (run
    first: a fixed IP must be free before another floating IP takes it), then either the whole table
    (missing, or its rules differ) or the internal networks' set elements and the pairs to map; and the
    floating-IP diff (for refs and announcements). ``ids``: floating IP address -> id."""
    diff = FipDiff.between(have.fips if have else {}, want.fips, ids, have.forwardings if have else frozenset(),
                           want.forwardings)  # fmt: skip
    if have is None or have.rules() != want.rules():
        return [], [A.ReplaceNat(group=ns, refs=refs + diff.refs(tuple(want.fips)), ns=ns, table=want)], diff
    add, remove = want.internal_cidrs - have.internal_cidrs, have.internal_cidrs - want.internal_cidrs
    internal = [A.EditNatInternal(group=ns, refs=refs, ns=ns, add=add, remove=remove)] if add or remove else []
    return diff.unmap(ns), internal + diff.map(ns), diff


def plan_instance_ports(desired: DesiredState, observed: Observed, poisoned: Poisoned | None = None) -> list[A.Action]:
    """Security groups' chains and members first (:mod:`floatnet.agent.plan_security`); then per port its
    filter before its access tag (a port that cannot be filtered is isolated on the dead VLAN, its reason
    recorded in ``poisoned``); ports the server says are gone are isolated and their filters removed. Groups no
    port needs any more are deleted by :func:`plan` once every filter was planned."""
    by_iface = observed.ports_by_iface_id()
    out = plan_groups(desired, observed, by_iface)
    zones = allocate_zones(desired, observed)
    for port in sorted(desired.ports.values(), key=lambda p: p.id):
        found = by_iface.get(port.id)
        actions, reason = plan_port(desired, observed, port, found, zones.get(port.id))
        out += actions
        if reason is not None:
            record(poisoned, port.id, reason)
        tag = port.tag if reason is None else DEAD_VLAN
        if found is not None and found.bridge == port.wiring.bridge and found.tag != tag:
            out.append(A.SetTag(group=f"port:{port.id}", refs=(("port", port.id),), port=found.name, tag=tag))
    own = own_device_names(desired, observed)
    gone = sorted(desired.absent_ports - set(desired.ports))
    for port_id in gone:
        found = by_iface.get(port_id)
        if found is not None and found.name not in own and found.tag != DEAD_VLAN:
            out.append(A.SetTag(group=f"port:{port_id}", port=found.name, tag=DEAD_VLAN))
    return out + remove_filters(observed, gone)


def own_device_names(desired: DesiredState, observed: Observed) -> set[str]:
    """Names of the OVS ports floatnet itself plugs (router and DHCP devices), desired or observed."""
    own = {n for n in observed.ovs_ports if n.startswith(ROUTER_DEV_PREFIXES)}
    for nsobs in observed.namespaces.values():
        own |= set(nsobs.links)
    own |= {names.tap_dev(n.dhcp.port_id) for n in desired.networks.values() if n.dhcp is not None}
    return own


def sweep(desired: DesiredState, observed: Observed, planned: list[A.Action]) -> list[A.Action]:
    """With a complete desired state: remove every owned object the server no longer lists."""
    routers = {names.router_ns(r.id) for r in desired.routers.values() if r.admin_state_up}
    dhcp = {n.id for n in desired.networks.values() if n.dhcp is not None}
    out: list[A.Action] = []
    for ns in sorted(observed.namespaces):
        if ns.startswith(names.ROUTER_NS_PREFIX) and ns not in routers:
            out += remove_namespace(ns, observed, ())
    dhcp_seen = {names.network_id_of(ns) for ns in observed.namespaces} | set(observed.dhcp)
    for network_id in sorted(n for n in dhcp_seen if n and n not in dhcp):
        out += remove_dhcp(network_id, observed)
    return out + _sweep_ovs(desired, observed, planned + out) + sweep_filters(desired, observed)


def _sweep_ovs(desired: DesiredState, observed: Observed, planned: list[A.Action]) -> list[A.Action]:
    """Ghost ``qr-``/``qg-`` OVS ports of no desired router; hypervisor ports of unknown ids → dead VLAN."""
    wanted: set[str] = set()
    for router in desired.routers.values():
        if router.admin_state_up:
            wanted |= _devices_of(router, observed)
    going = {p for a in planned if isinstance(a, A.DeleteNamespace) for p in a.ovs_ports}
    going |= {a.dev for a in planned if isinstance(a, A.UnplugDevice)}
    out: list[A.Action] = []
    for name in sorted(observed.ovs_ports):
        if name.startswith(ROUTER_DEV_PREFIXES) and name not in wanted and name not in going:
            out.append(A.DeleteOvsPort(group="ovs", port=name))
    own = own_device_names(desired, observed)
    for port in sorted(observed.ovs_ports.values(), key=lambda p: p.name):
        if port.iface_id and port.iface_id not in desired.ports and port.name not in own and port.tag != DEAD_VLAN:
            out.append(A.SetTag(group=f"port:{port.iface_id}", port=port.name, tag=DEAD_VLAN))
    return out


def _devices_of(router: Router, observed: Observed) -> set[str]:
    """The router's device names; for a router the planner cannot handle, the ones it has now (kept)."""
    try:
        return {spec.dev for spec, _ in router_devices(router)}
    except Exception:  # poisoned: its planning failure is reported by plan(); its devices stay as they are
        nsobs = observed.namespaces.get(names.router_ns(router.id))
        return set(nsobs.links) if nsobs else set()
