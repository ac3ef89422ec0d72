"""Planning a router's IPv6 router advertisements (radvd in its ``qrouter-`` namespace). Pure.

A ``qr-`` device advertises the IPv6 subnets whose ``ipv6_ra_mode`` is set (Neutron: without it an external
router advertises, not ours), with the flags and MTU :func:`floatnet.linux.radvd.render` derives. The running
radvd's configuration is part of the namespace's view (``Namespace.radvd``): equal text, no action."""

from __future__ import annotations

from floatnet.agent import actions as A
from floatnet.agent.desired import Router
from floatnet.agent.state import Namespace
from floatnet.linux import names, radvd


def ra_interfaces(router: Router) -> tuple[radvd.RaInterface, ...]:
    """The router's advertising devices with their prefixes, merged per port."""
    prefixes: dict[str, list[radvd.RaPrefix]] = {}
    mtus: dict[str, int | None] = {}
    for itf in router.interfaces:
        if itf.ipv6_ra_mode is not None and ":" in itf.ip_address:
            dev = names.qr_dev(itf.port_id)
            prefixes.setdefault(dev, []).append(radvd.RaPrefix(itf.cidr, itf.ipv6_ra_mode))
            mtus[dev] = itf.mtu
    return tuple(radvd.RaInterface(dev, mtus[dev], tuple(found)) for dev, found in sorted(prefixes.items()))


def radvd_config(router: Router, master: bool = True) -> str | None:
    """The radvd configuration the router needs; None when no device advertises (no radvd runs) — and on an HA
    router's replica that is not the VRRP MASTER (``master`` False): as Neutron's HA routers, only the active
    replica advertises (two would announce the same prefixes from two routers; a BACKUP's qr- devices hold no
    gateway address to route with)."""
    if router.ha is not None and not master:
        return None
    interfaces = ra_interfaces(router)
    return radvd.render(interfaces) if interfaces else None


def plan_radvd(router: Router, nsobs: Namespace | None) -> list[A.Action]:
    """Start/reload radvd when its configuration differs from the running one; stop it when none is wanted
    (on an HA replica: started when it became the MASTER, stopped when it became a BACKUP — the address events
    of the takeover make the agent re-observe the namespace). Planned after the devices: radvd binds to ``qr-``
    devices that must exist."""
    ns = names.router_ns(router.id)
    want = radvd_config(router, nsobs is not None and nsobs.ha_master)
    have = nsobs.radvd if nsobs else None
    if want == have:
        return []
    if want is None:
        return [A.StopRadvd(group=ns, refs=(("router", router.id),), router_id=router.id, ns=ns)]
    return [A.EnsureRadvd(group=ns, refs=(("router", router.id),), router_id=router.id, ns=ns, config=want)]
