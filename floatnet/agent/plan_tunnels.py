"""VXLAN networks on this node: their local tags on the integration bridge and their vxlan devices. Pure.

Every vxlan network this node carries gets one kernel vxlan device ``vxlan-<vni>`` in the OVS namespace (why a
Linux device rather than OVS tunnel ports: :mod:`floatnet.linux.vxlan`), an access port of the integration
bridge, with one flood entry per peer the server lists (``tunnel_peers``: only the nodes carrying the network).

**Local tags.** All vxlan networks share ``br-int``; on it each network is an access VLAN chosen by this node,
as Neutron's OVS agent allocates its local VLANs. The server never knows them. The kernel remembers them: a
network's tag is the tag of its vxlan device's OVS port, read back from the view, so a restarted agent keeps
every tag and changes nothing. A network without one keeps the tag its other devices carry (a device not made
yet, or failing, must not move the network's tag every step), else gets the lowest tag that no port of its bridge
carries (:func:`local_tags`), so a fresh tag is never shared with anything already plugged. :func:`localize` writes
the tags into the desired state's wirings before planning, and every device of the network (router and DHCP
ports, instance ports) is tagged with it by the usual planners. Until a tag is known a vxlan wiring means the
dead VLAN (:attr:`floatnet.agent.desired.Wiring.tag`): never untagged on the shared bridge.

**Repairs.** A device that is missing, down, with other settings, or whose OVS port is gone or detached is
recreated whole (device, flood entries, port re-added so the netdev datapath opens it); otherwise only the
port's tag and the flood entries that differ are edited. Devices of VNIs no listed network uses are removed by
the complete state's sweep only.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from functools import partial

from floatnet.agent import actions as A
from floatnet.agent.desired import DesiredState, Network, Router, RouterPort, Wiring
from floatnet.agent.plan_common import Poisoned, isolated, network_refs
from floatnet.agent.state import Observed
from floatnet.linux import vxlan

VXLAN = "vxlan"
FIRST_TAG, LAST_TAG = 1, 4094


def _wirings(desired: DesiredState) -> Iterator[Wiring]:
    yield from (n.wiring for n in desired.networks.values())
    yield from (p.wiring for p in desired.ports.values())
    for router in desired.routers.values():
        yield from (p.wiring for p in (router.gateway, router.gateway6, *router.interfaces) if p is not None)


def _devices_tags(desired: DesiredState, observed: Observed) -> dict[int, set[int]]:
    """VNI -> the tags the OVS ports of that network's devices (DHCP, router and instance ports, by iface-id)
    carry now."""
    wired: list[tuple[str, Wiring]] = [(p.id, p.wiring) for p in desired.ports.values()]
    wired += [(n.dhcp.port_id, n.wiring) for n in desired.networks.values() if n.dhcp is not None]
    for router in desired.routers.values():
        wired += [(i.port_id, i.wiring) for i in (router.gateway, router.gateway6, *router.interfaces) if i]
    vni_of = {i: w.segmentation_id for i, w in wired if w.network_type == VXLAN and w.segmentation_id is not None}
    found: dict[int, set[int]] = {}
    for port in observed.ovs_ports.values():
        vni = vni_of.get(port.iface_id or "")
        if vni is not None and port.tag is not None and FIRST_TAG <= port.tag <= LAST_TAG:
            found.setdefault(vni, set()).add(port.tag)
    return found


def local_tags(desired: DesiredState, observed: Observed) -> dict[int, int]:
    """VNI -> local tag for every vxlan network ``desired`` names: the tag its device's port holds; else (no
    device yet, or its creation keeps failing) one its other devices already carry, so that the tag does not
    move between steps; else the lowest one free on its bridge. Never one another VNI holds. A bridge with every
    tag taken leaves the VNI out (dead VLAN)."""
    bridges = {w.segmentation_id: w.bridge for w in _wirings(desired) if w.network_type == VXLAN}
    vnis = sorted(v for v in bridges if v is not None)
    tags: dict[int, int] = {}
    for vni in vnis:
        port = observed.ovs_ports.get(vxlan.dev_name(vni))
        tag = port.tag if port is not None else None
        if tag is not None and FIRST_TAG <= tag <= LAST_TAG and tag not in tags.values():
            tags[vni] = tag
    carried = _devices_tags(desired, observed)
    for vni in (v for v in vnis if v not in tags):
        used = {p.tag for p in observed.ovs_ports.values() if p.bridge == bridges[vni]} | set(tags.values())
        own = sorted(carried.get(vni, set()) - set(tags.values()))
        free = own[0] if own else next((t for t in range(FIRST_TAG, LAST_TAG + 1) if t not in used), None)
        if free is not None:
            tags[vni] = free
    return tags


def _localized(wiring: Wiring, tags: Mapping[int, int]) -> Wiring:
    if wiring.network_type != VXLAN or wiring.segmentation_id is None:
        return wiring
    return replace(wiring, local_tag=tags.get(wiring.segmentation_id))


def _localize_router(router: Router, tags: Mapping[int, int]) -> Router:
    def port(p: RouterPort | None) -> RouterPort | None:
        return None if p is None else replace(p, wiring=_localized(p.wiring, tags))

    return replace(
        router,
        gateway=port(router.gateway),
        gateway6=port(router.gateway6),
        interfaces=tuple(replace(i, wiring=_localized(i.wiring, tags)) for i in router.interfaces),
    )


def localize(desired: DesiredState, tags: Mapping[int, int]) -> DesiredState:
    """``desired`` with each vxlan wiring's ``local_tag`` set from ``tags``; nothing else is copied."""
    if not tags:
        return desired

    def vx(wiring: Wiring) -> bool:
        return wiring.network_type == VXLAN

    routers = dict(desired.routers)
    for router_id, router in desired.routers.items():
        if any(vx(p.wiring) for p in (router.gateway, router.gateway6, *router.interfaces) if p is not None):
            routers[router_id] = _localize_router(router, tags)
    return replace(
        desired,
        networks={i: replace(n, wiring=_localized(n.wiring, tags)) if vx(n.wiring) else n
                  for i, n in desired.networks.items()},
        ports={i: replace(p, wiring=_localized(p.wiring, tags)) if vx(p.wiring) else p
               for i, p in desired.ports.items()},
        routers=routers,
    )  # fmt: skip


def plan_tunnel(network: Network, observed: Observed, local_ip: str) -> list[A.Action]:
    """The actions that give a vxlan ``network`` (wiring localized) its device, port, tag and flood entries."""
    vni, tag = network.wiring.segmentation_id, network.wiring.local_tag
    if not local_ip:
        raise ValueError("vxlan network, but this node has no [ovs] local_ip")
    if vni is None or tag is None:
        raise ValueError(f"vxlan network without a VNI or a free local tag (VNI {vni})")
    dev = vxlan.dev_name(vni)
    have, port = observed.tunnels.get(dev), observed.ovs_ports.get(dev)
    group, refs = f"ovs:{dev}", network_refs(network)
    healthy = (
        have is not None
        and (have.vni, have.local, have.port, have.learning, have.up) == (vni, local_ip, vxlan.DSTPORT, False, True)
        and (network.mtu is None or have.mtu == network.mtu)
        and port is not None
        and port.attached
        and port.bridge == network.wiring.bridge
    )
    if not healthy or have is None or port is None:
        return [A.CreateVxlan(group=group, refs=refs, vni=vni, local=local_ip, mtu=network.mtu,
                              bridge=network.wiring.bridge, tag=tag, peers=network.tunnel_peers)]  # fmt: skip
    out: list[A.Action] = []
    if port.tag != tag:
        out.append(A.SetTag(group=group, refs=refs, port=dev, tag=tag))
    add, remove = network.tunnel_peers - have.peers, have.peers - network.tunnel_peers
    if add or remove:
        out.append(A.EditVxlanPeers(group=group, refs=refs, vni=vni, add=add, remove=remove))
    return out


def plan_tunnels(
    desired: DesiredState, observed: Observed, local_ip: str, poisoned: Poisoned | None = None
) -> list[A.Action]:
    """Every listed vxlan network's tunnel (a network the planner cannot handle is recorded in ``poisoned``);
    with a complete state, the devices of VNIs no listed network uses are removed."""
    out: list[A.Action] = []
    wanted: set[str] = set()
    for network in sorted(desired.networks.values(), key=lambda n: n.id):
        if network.wiring.network_type != VXLAN:
            continue
        if network.wiring.segmentation_id is not None:
            wanted.add(vxlan.dev_name(network.wiring.segmentation_id))
        out += isolated(poisoned, network_refs(network), partial(plan_tunnel, network, observed, local_ip), [])
    if desired.complete:
        stale = (set(observed.tunnels) | {n for n in observed.ovs_ports if n.startswith(vxlan.PREFIX)}) - wanted
        out += [A.DeleteVxlan(group=f"ovs:{dev}", dev=dev) for dev in sorted(stale)]
    return out
