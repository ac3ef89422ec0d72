"""Planning one network's DHCP service: the ``qdhcp-<network_id>`` namespace, its port device and dnsmasq.

Pure like :mod:`floatnet.agent.plan`. The dnsmasq configuration is a :class:`DhcpConfig`; a running dnsmasq
whose recorded fingerprint equals the desired one needs nothing (no SIGHUP, no restart)."""

from __future__ import annotations

import ipaddress

from floatnet.agent import actions as A
from floatnet.agent.desired import Network
from floatnet.agent.plan_common import (
    DeviceSpec,
    PlanContext,
    ensure_namespace,
    plan_device,
    remove_namespace,
    sync_routes,
    unplug_stale,
)
from floatnet.agent.state import Observed, Routes, norm_iface
from floatnet.linux import names


def dhcp_config(network: Network, ctx: PlanContext) -> A.DhcpConfig | None:
    """What dnsmasq must serve for ``network`` (None when it has no DHCP here).

    DNS servers handed out: the subnets' ``dns_nameservers`` if any, else the DHCP port's own addresses, where
    dnsmasq answers and forwards to the agent's ``upstream_dns``.
    """
    dhcp = network.dhcp
    if dhcp is None:
        return None
    subnets = tuple(s for s in dhcp.subnets if s.enable_dhcp)
    served = {s.id for s in subnets}
    dns: list[str] = []
    for subnet in subnets:
        dns += [d for d in subnet.dns_nameservers if d not in dns]
    if not dns:
        dns = [ip.ip_address for ip in dhcp.fixed_ips if ip.subnet_id in served]
    return A.DhcpConfig(
        network_id=network.id,
        netns=names.dhcp_ns(network.id),
        interface=names.tap_dev(dhcp.port_id),
        subnets=subnets,
        hosts=tuple(sorted(dhcp.hosts, key=lambda h: (h.ip_address, h.mac_address))),
        dns_servers=tuple(dns),
        upstream_dns=tuple(ctx.upstream_dns),
        domain=ctx.domain,
        mtu=network.mtu,
    )


def dhcp_addresses(network: Network) -> frozenset[str]:
    """The DHCP port's addresses as ``ip/len`` (prefix length from the state, else from the subnet's CIDR)."""
    assert network.dhcp is not None
    cidrs = {s.id: s.cidr for s in network.dhcp.subnets}
    out = set()
    for ip in network.dhcp.fixed_ips:
        if ip.prefixlen is not None:
            out.add(norm_iface(f"{ip.ip_address}/{ip.prefixlen}"))
        elif ip.subnet_id in cidrs:
            out.add(norm_iface(f"{ip.ip_address}/{ipaddress.ip_network(cidrs[ip.subnet_id]).prefixlen}"))
    return frozenset(out)


def dhcp_routes(network: Network) -> Routes:
    """A default route via the first IPv4 DHCP subnet's gateway (the router): dnsmasq forwards DNS through it.
    (The namespace's routes are IPv4 ones; IPv6 gets its default route from router advertisements.)"""
    assert network.dhcp is not None
    own = {ip.subnet_id for ip in network.dhcp.fixed_ips}
    for subnet in network.dhcp.subnets:
        if subnet.gateway_ip and subnet.id in own and ipaddress.ip_network(subnet.cidr, strict=False).version == 4:
            return Routes(default_gw=subnet.gateway_ip)
    return Routes()


def plan_network(network: Network, observed: Observed, ctx: PlanContext) -> list[A.Action]:
    """Namespace, DHCP device, route and dnsmasq for one network; removal when it has no DHCP here."""
    config = dhcp_config(network, ctx)
    if config is None or network.dhcp is None:
        return remove_dhcp(network.id, observed)
    ns = config.netns
    nsobs = observed.namespaces.get(ns)
    nref: tuple[A.Ref, ...] = (("network", network.id),)
    spec = DeviceSpec(
        config.interface, network.dhcp.port_id, network.dhcp.mac_address, network.mtu, network.wiring,
        dhcp_addresses(network),
    )  # fmt: skip
    out = ensure_namespace(ns, nsobs, False, nref)
    out += plan_device(ns, spec, observed, nref + (("port", spec.iface_id),))
    out += unplug_stale(ns, nsobs, (names.TAP_PREFIX,), {spec.dev})
    out += sync_routes(ns, nsobs, dhcp_routes(network), nref)
    if observed.dhcp.get(network.id) != config.fingerprint():
        out.append(A.EnsureDhcp(group=ns, refs=nref, config=config))
    return out


def remove_dhcp(network_id: str, observed: Observed) -> list[A.Action]:
    """Stop the network's dnsmasq (if running) and delete its namespace (if present)."""
    ns = names.dhcp_ns(network_id)
    out: list[A.Action] = []
    if network_id in observed.dhcp:
        out.append(A.StopDhcp(group=ns, network_id=network_id))
    return out + remove_namespace(ns, observed, ())
