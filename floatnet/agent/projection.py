"""Projection: the observed state the kernel will hold once the plan for a desired state has succeeded.

The agent keeps its view of the kernel in memory between full syncs: after a group of actions succeeded it
stores the projection of that router/network instead of re-reading the kernel (re-listing a 10,000-element
nftables map on every floating-IP change would cost more than the change). A failure anywhere in the group
makes the agent re-observe that namespace for real. ``plan(d, project(d)) == []`` is the planner's fixed
point (unit-tested), and ``observe() == project(d)`` after applying is checked against the real kernel
(dataplane tests).
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial

from floatnet.agent.desired import DesiredState, Network, Router
from floatnet.agent.dhcp_plan import dhcp_addresses, dhcp_config, dhcp_routes
from floatnet.agent.plan import desired_nat, router_devices, router_routes
from floatnet.agent.plan_common import PlanContext, Poisoned, isolated, network_refs, router_refs
from floatnet.agent.plan_ha import conntrackd_config, keepalived_config
from floatnet.agent.plan_ipv6 import radvd_config
from floatnet.agent.state import Link, Namespace, Observed, OvsPort, Routes
from floatnet.linux import names


def project_router(router: Router, ctx: PlanContext) -> tuple[Namespace, list[OvsPort]]:
    """The router's namespace and OVS ports as they are once wired (an HA router's replica as a BACKUP holds it:
    keepalived's addresses and routes are not the plan's; :func:`carry_vrrp` keeps its VRRP role)."""
    devices = [spec for spec, _ in router_devices(router)]
    ns = Namespace(
        name=names.router_ns(router.id),
        links={s.dev: Link(s.dev, s.mac, s.addresses) for s in devices},
        routes=router_routes(router) if router.ha is None else Routes(),
        forwarding=True,
        nat=desired_nat(router),
        radvd=radvd_config(router, master=False),
        keepalived=keepalived_config(router, devices, ctx),
        conntrackd=conntrackd_config(router, ctx),
    )
    return ns, [OvsPort(s.dev, s.wiring.bridge, s.wiring.tag, s.iface_id) for s in devices]


def project_network(network: Network, ctx: PlanContext) -> tuple[Namespace, list[OvsPort], str] | None:
    """The network's DHCP namespace, its OVS port and the dnsmasq fingerprint; None without DHCP here."""
    config = dhcp_config(network, ctx)
    if config is None or network.dhcp is None:
        return None
    link = Link(config.interface, network.dhcp.mac_address, dhcp_addresses(network))
    ns = Namespace(name=config.netns, links={link.name: link}, routes=dhcp_routes(network), forwarding=False)
    port = OvsPort(config.interface, network.wiring.bridge, network.wiring.tag, network.dhcp.port_id)
    return ns, [port], config.fingerprint()


def project(desired: DesiredState, ctx: PlanContext = PlanContext(), poisoned: Poisoned | None = None) -> Observed:
    """The observed state once ``desired`` is applied (instance ports are the hypervisor's: left out).

    With ``poisoned``, a resource whose projection raises is recorded there and left out (as :func:`plan`
    does: what the kernel holds of it is not known from its plan)."""
    namespaces: dict[str, Namespace] = {}
    ports: dict[str, OvsPort] = {}
    dhcp: dict[str, str] = {}
    for router in desired.routers.values():
        if router.admin_state_up:
            found = isolated(poisoned, router_refs(router), partial(project_router, router, ctx), None)
            if found is not None:
                ns, router_ports = found
                namespaces[ns.name] = ns
                ports.update((p.name, p) for p in router_ports)
    for network in desired.networks.values():
        projected = isolated(poisoned, network_refs(network), partial(project_network, network, ctx), None)
        if projected is not None:
            ns, net_ports, fingerprint = projected
            namespaces[ns.name] = ns
            ports.update((p.name, p) for p in net_ports)
            dhcp[network.id] = fingerprint
    return Observed(namespaces=namespaces, ovs_ports=ports, dhcp=dhcp)


def carry_vrrp(before: Namespace | None, now: Namespace | None, desired: DesiredState) -> Namespace | None:
    """``now`` (a projection) knowing whether this HA router replica is the VRRP MASTER, as ``before`` held it:
    that is keepalived's doing, not the plan's (its addresses and routes the planner ignores either way); a
    MASTER runs the router's radvd (:func:`floatnet.agent.plan_ipv6.radvd_config`)."""
    if before is None or now is None or now.keepalived is None or not before.ha_master:
        return now
    router = desired.routers.get(names.router_id_of(now.name) or "")
    return replace(now, ha_master=True, radvd=radvd_config(router) if router is not None else now.radvd)
