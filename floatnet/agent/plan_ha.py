"""Planning a replica of an HA router (l3-ha): its ``ha-`` device and its keepalived. Pure.

An HA router is built on every replica as any router is — namespace, ``qr-``/``qg-`` devices (with their MACs),
the NAT table with every floating IP's map elements — except for what only the active replica may hold: its
addresses (gateway, internal gateways, floating IP /32s) and its routes (the default route, extra routes) are
keepalived's, which holds them on the VRRP MASTER only (:mod:`floatnet.linux.keepalived`). The planner leaves
those addresses alone where they are (``DeviceSpec.vrrp``), plans no routes, sends no gratuitous ARP (keepalived
does at takeover; the agent only on the MASTER, for a floating IP added there) and runs radvd on the MASTER only
(:func:`floatnet.agent.plan_ipv6.radvd_config`). A floating IP
added or removed is a new keepalived configuration, re-read on SIGHUP without a transition. With ``[agent]
ha_conntrackd_enabled`` every replica also runs conntrackd (:mod:`floatnet.linux.conntrackd`), which keepalived's
notify script drives on each transition.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from floatnet.agent import actions as A
from floatnet.agent.desired import Router
from floatnet.agent.plan_common import DeviceSpec, PlanContext
from floatnet.agent.state import DEFAULT_ROUTE, DEFAULT_ROUTE6, Namespace, norm_cidr, norm_iface
from floatnet.linux import conntrackd, keepalived, names


def quiet(router: Router) -> bool:
    """Whether the replica's namespace is made with IPv6 off on its devices: an HA router with no IPv6 address.

    Every replica's ``qr-``/``qg-`` devices carry the router ports' MACs, the same on every node. A device coming
    up with IPv6 sends DAD and MLD frames from that MAC, so the physical switch learns it on the standby's node
    and sends the active replica's traffic there until the active one sends a frame again (measured: 8 probes
    lost at 20 Hz when a failed node came back; Neutron's bug 1859832). Without IPv6 a standby sends nothing."""
    if router.ha is None or router.gateway6 is not None:
        return False
    return all(ipaddress.ip_address(itf.ip_address).version == 4 for itf in router.interfaces)


def ha_device(router: Router) -> DeviceSpec | None:
    """The replica's ``ha-`` device: its address on the HA subnet, and the primary VIP keepalived adds there
    on the MASTER; None for a router that is not HA."""
    if router.ha is None:
        return None
    port = router.ha.port
    own = frozenset({norm_iface(f"{port.ip_address}/{port.prefixlen}")})
    vip = frozenset({keepalived.primary_vip(router.ha.vr_id)})
    return DeviceSpec(names.ha_dev(port.port_id), port.port_id, port.mac_address, port.mtu, port.wiring, own, vip)


def vrrp_devices(router: Router, specs: list[DeviceSpec]) -> list[DeviceSpec]:
    """The router's ``qr-``/``qg-`` device specs as an HA replica wires them: no address of the planner's, the
    ones it would have had are keepalived's; plus the ``ha-`` device. Unchanged for a router that is not HA."""
    ha = ha_device(router)
    if ha is None:
        return specs
    return [DeviceSpec(s.dev, s.iface_id, s.mac, s.mtu, s.wiring, frozenset(), s.addresses) for s in specs] + [ha]


def conntrackd_config(router: Router, ctx: PlanContext) -> str | None:
    """The conntrackd configuration of this replica (syncing over its ``ha-`` device from its HA address); None
    for a router that is not HA or with ``[agent] ha_conntrackd_enabled`` off."""
    if router.ha is None or not ctx.conntrackd_dir:
        return None
    port = router.ha.port
    instance = conntrackd.SyncInstance(router.ha.vr_id, names.ha_dev(port.port_id), port.ip_address)
    return conntrackd.render(instance, _conntrackd_dir(router, ctx))


def _conntrackd_dir(router: Router, ctx: PlanContext) -> Path:
    return Path(ctx.conntrackd_dir) / router.id


def keepalived_config(router: Router, specs: list[DeviceSpec], ctx: PlanContext) -> str | None:
    """The keepalived configuration of this replica (``specs``: the router's devices as :func:`vrrp_devices`
    made them; with conntrackd, its notify script on every transition); None for a router that is not HA."""
    if router.ha is None:
        return None
    port = router.ha.port
    vips = tuple(keepalived.Vip(cidr, s.dev) for s in specs if not s.dev.startswith(names.HA_PREFIX) for cidr in s.vrrp)
    routes: list[keepalived.VirtualRoute] = []
    for gw in (router.gateway, router.gateway6):
        if gw is not None and gw.gateway_ip:
            default = DEFAULT_ROUTE if gw is router.gateway else DEFAULT_ROUTE6
            routes.append(keepalived.VirtualRoute(default, gw.gateway_ip, names.qg_dev(gw.port_id)))
    routes += [keepalived.VirtualRoute(norm_cidr(dst), via) for dst, via in router.routes]
    notify = str(_conntrackd_dir(router, ctx) / conntrackd.NOTIFY) if ctx.conntrackd_dir else ""
    instance = keepalived.HaInstance(
        router.ha.vr_id, names.ha_dev(port.port_id), ctx.ha_vrrp_advert_int, vips, tuple(routes), notify
    )
    return keepalived.render(instance)


def plan_ha_daemons(
    router: Router, nsobs: Namespace | None, specs: list[DeviceSpec], ctx: PlanContext, replugged: bool = False
) -> list[A.Action]:
    """Start, reconfigure or stop the replica's conntrackd and keepalived where their configuration differs from
    the running one (a daemon killed behind the agent's back, or bound to an ``ha-`` device since re-created,
    observes as none: it is started again). Planned after the devices (keepalived tracks the ``ha-`` device,
    conntrackd binds to it); conntrackd before keepalived, so it runs when keepalived's first notify script asks
    it to commit or resync. ``replugged``: this plan plugs the ``ha-`` device again, which may re-create it
    under the running daemons (a re-plug found by OVS, with the namespace's view unchanged): both are ensured,
    which restarts them only if their device did change."""
    ns, refs = names.router_ns(router.id), (("router", router.id),)
    out: list[A.Action] = []
    sync, have_sync = conntrackd_config(router, ctx), nsobs.conntrackd if nsobs else None
    if sync != have_sync or (sync and replugged):
        out.append(A.EnsureConntrackd(group=ns, refs=refs, router_id=router.id, ns=ns, config=sync) if sync
                   else A.StopConntrackd(group=ns, refs=refs, router_id=router.id, ns=ns))  # fmt: skip
    vrrp, have_vrrp = keepalived_config(router, specs, ctx), nsobs.keepalived if nsobs else None
    if vrrp != have_vrrp or (vrrp and replugged):
        out.append(A.EnsureKeepalived(group=ns, refs=refs, router_id=router.id, ns=ns, config=vrrp) if vrrp
                   else A.StopKeepalived(group=ns, refs=refs, router_id=router.id, ns=ns))  # fmt: skip
    return out
