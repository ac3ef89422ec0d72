"""Building blocks shared by the router and DHCP planners: namespaces, devices, routes. Pure.

A device floatnet wires is a veth named the same on both ends: the OVS end (on the network's bridge, with
the port's iface-id and the VLAN tag) and the end inside the router/DHCP namespace (with the port's MAC and
addresses)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import TypeVar

from floatnet.agent import actions as A
from floatnet.agent.desired import Network, Router, Wiring
from floatnet.agent.state import DEFAULT_ROUTE, Namespace, Observed, Routes

log = logging.getLogger(__name__)
T = TypeVar("T")
Poisoned = MutableMapping[A.Ref, str]  # resources whose planning raised -> the reason


@dataclass(frozen=True)
class PlanContext:
    """Agent settings the plan depends on (nothing here is read from the environment)."""

    upstream_dns: tuple[str, ...] = ()
    domain: str = "openstacklocal"
    local_ip: str = ""  # [ovs] local_ip: this node's VXLAN endpoint ("" = it carries no vxlan network)
    ha_vrrp_advert_int: float = 2.0  # [DEFAULT] ha_vrrp_advert_int: keepalived's advertisement interval (s)
    conntrackd_dir: str = ""  # [agent] ha_conntrackd_enabled: where HA routers' conntrackd files live ("" = off)


@dataclass(frozen=True)
class DeviceSpec:
    """A device floatnet wires: veth ``dev`` inside a namespace, its OVS end on ``wiring.bridge``."""

    dev: str
    iface_id: str
    mac: str
    mtu: int | None
    wiring: Wiring
    addresses: frozenset[str]
    vrrp: frozenset[str] = frozenset()  # addresses keepalived holds there on the MASTER: never the planner's


def plan_device(ns: str, spec: DeviceSpec, observed: Observed, refs: tuple[A.Ref, ...]) -> list[A.Action]:
    """Plug the device when it or its OVS port is missing, down or wrong, else fix the tag; then sync
    addresses. "Down" is either end of the veth: the namespace's end administratively down, or OVS reporting
    the port's link down (its own end down, or no carrier because the peer is) — an HA replica whose device
    has no carrier sits in keepalived's FAULT state and can never take over (issue 15)."""
    nsobs = observed.namespaces.get(ns)
    link = nsobs.links.get(spec.dev) if nsobs else None
    port = observed.ovs_ports.get(spec.dev)
    healthy = (
        link is not None
        and link.mac == spec.mac
        and link.up
        and port is not None
        and port.bridge == spec.wiring.bridge
        and port.iface_id == spec.iface_id
        and port.attached
        and port.link_state != "down"
    )
    out: list[A.Action] = []
    if not healthy:
        old_bridge = port.bridge if port is not None and port.bridge != spec.wiring.bridge else None
        out.append(
            A.PlugDevice(
                group=ns, refs=refs, ns=ns, dev=spec.dev, bridge=spec.wiring.bridge, tag=spec.wiring.tag,
                iface_id=spec.iface_id, mac=spec.mac, mtu=spec.mtu, old_bridge=old_bridge,
            )
        )  # fmt: skip
    elif port is not None and port.tag != spec.wiring.tag:
        out.append(A.SetTag(group=ns, refs=refs, port=spec.dev, tag=spec.wiring.tag))
    if not healthy or link is None:
        out.append(A.SyncAddresses(group=ns, refs=refs, ns=ns, dev=spec.dev, wanted=spec.addresses, keep=spec.vrrp))
    elif link.addresses - spec.vrrp != spec.addresses:
        add, remove = spec.addresses - link.addresses, link.addresses - spec.vrrp - spec.addresses
        out.append(A.EditAddresses(group=ns, refs=refs, ns=ns, dev=spec.dev, add=add, remove=remove))
    return out


def unplug_stale(ns: str, nsobs: Namespace | None, prefixes: tuple[str, ...], keep: set[str]) -> list[A.Action]:
    """Unplug devices with our ``prefixes`` inside ``ns`` that the desired state no longer has."""
    if nsobs is None:
        return []
    stale = sorted(n for n in nsobs.links if n.startswith(prefixes) and n not in keep)
    return [A.UnplugDevice(group=ns, ns=ns, dev=dev) for dev in stale]


def sync_routes(ns: str, nsobs: Namespace | None, want: Routes, refs: tuple[A.Ref, ...]) -> list[A.Action]:
    """The routes to delete and add (replace) for the namespace to hold ``want``, diffed against the view."""
    have = nsobs.routes if nsobs else Routes()
    if have == want:
        return []
    old, new = _kernel_routes(have), _kernel_routes(want)
    remove = frozenset((d, v) for d, v in old.items() if d not in new)
    add = frozenset((d, v) for d, v in new.items() if old.get(d) != v)
    return [A.EditRoutes(group=ns, refs=refs, ns=ns, add=add, remove=remove)] if add or remove else []


def _kernel_routes(routes: Routes) -> dict[str, str]:
    """``{destination: nexthop}`` as the kernel's main table holds them (one route per destination; the
    default route is ``default_gw``)."""
    out = {dst: via for dst, via in sorted(routes.extra) if dst != DEFAULT_ROUTE}
    if routes.default_gw:
        out[DEFAULT_ROUTE] = routes.default_gw
    return out


def ensure_namespace(
    ns: str, nsobs: Namespace | None, forwarding: bool, refs: tuple[A.Ref, ...], ipv6: bool = True
) -> list[A.Action]:
    if nsobs is None:
        return [A.CreateNamespace(group=ns, refs=refs, ns=ns, forwarding=forwarding, ipv6=ipv6)]
    if nsobs.forwarding != forwarding:
        return [A.SetForwarding(group=ns, refs=refs, ns=ns, on=forwarding)]
    return []


def remove_namespace(ns: str, observed: Observed, refs: tuple[A.Ref, ...]) -> list[A.Action]:
    """Delete an owned namespace (if present) with the OVS ports of the devices inside it."""
    nsobs = observed.namespaces.get(ns)
    if nsobs is None:
        return []
    ports = tuple(sorted(n for n in nsobs.links if n in observed.ovs_ports))
    return [A.DeleteNamespace(group=ns, refs=refs, ns=ns, ovs_ports=ports)]


def router_refs(router: Router) -> tuple[A.Ref, ...]:
    """Every resource a router's plan is for: the router, its ports and its floating IPs."""
    gateways = [g.port_id for g in (router.gateway, router.gateway6) if g is not None]
    gateways += [router.ha.port.port_id] if router.ha is not None else []
    ports = dict.fromkeys([i.port_id for i in router.interfaces] + gateways)
    return (("router", router.id), *(("port", p) for p in ports), *(("floatingip", f) for f in router.floatingips))


def network_refs(network: Network) -> tuple[A.Ref, ...]:
    return (("network", network.id),)


def isolated(poisoned: Poisoned | None, refs: Iterable[A.Ref], fn: Callable[[], T], default: T) -> T:
    """``fn()``; when it raises and ``poisoned`` is given, ``refs`` are recorded there with the reason and
    ``default`` is returned instead: one resource the planner cannot handle (a bug, an input it does not
    support) never stops the others. Without ``poisoned`` the exception propagates (tests, callers that
    want it). The reason is deterministic for the same input: such a failure is permanent, not retried until
    the resource changes."""
    if poisoned is None:
        return fn()
    try:
        return fn()
    except Exception as exc:  # any planning failure is that resource's problem
        reason = f"cannot plan: {type(exc).__name__}: {exc}"
        refs = tuple(refs)
        if refs and refs[0] not in poisoned:
            log.error("%s %s: %s", refs[0][0], refs[0][1], reason, exc_info=True)
        for ref in refs:
            poisoned.setdefault(ref, reason)
        return default
