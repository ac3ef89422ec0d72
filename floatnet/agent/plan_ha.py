"""Planning a replica of an HA router (l3-ha): its ``ha-`` device and its keepalived. Pure.

An HA router is built on every replica as any router is — namespace, ``qr-``/``qg-`` devices (with their MACs),
the NAT table with every floating IP's map elements — except for what only the active replica may hold: its
addresses (gateway, internal gateways, floating IP /32s) and its routes (the default route, extra routes) are
keepalived's, which holds them on the VRRP MASTER only (:mod:`floatnet.linux.keepalived`). The planner leaves
those addresses alone where they are (``DeviceSpec.vrrp``), plans no routes, sends no gratuitous ARP (keepalived
does at takeover; the agent only on the MASTER, for a floating IP added there) and runs no radvd. A floating IP
added or removed is a new keepalived configuration, re-read on SIGHUP without a transition.
"""

from __future__ import annotations

import ipaddress

from floatnet.agent import actions as A
from floatnet.agent.desired import Router
from floatnet.agent.plan_common import DeviceSpec
from floatnet.agent.state import DEFAULT_ROUTE, DEFAULT_ROUTE6, Namespace, norm_cidr, norm_iface
from floatnet.linux import keepalived, names


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


def keepalived_config(router: Router, specs: list[DeviceSpec], advert_int: float) -> str | None:
    """The keepalived configuration of this replica (``specs``: the router's devices as :func:`vrrp_devices`
    made them); None for a router that is not HA."""
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
    instance = keepalived.HaInstance(router.ha.vr_id, names.ha_dev(port.port_id), advert_int, vips, tuple(routes))
    return keepalived.render(instance)


def plan_keepalived(router: Router, nsobs: Namespace | None, config: str | None) -> list[A.Action]:
    """Start or reload keepalived when its configuration differs from the running one; stop one left from
    when the router was HA. Planned after the devices: keepalived tracks the ``ha-`` device."""
    ns, refs = names.router_ns(router.id), (("router", router.id),)
    have = nsobs.keepalived if nsobs else None
    if config == have:
        return []
    if config is None:
        return [A.StopKeepalived(group=ns, refs=refs, router_id=router.id, ns=ns)]
    return [A.EnsureKeepalived(group=ns, refs=refs, router_id=router.id, ns=ns, config=config)]
