"""The kernel side of each action: one small function per action type, all through :mod:`floatnet.linux`.

``handlers(dp)`` returns the table :func:`floatnet.agent.apply.run_actions` dispatches on. Devices,
addresses, routes and dnsmasq are "ensure" operations (idempotent); the NAT element operations are exact — the
planner names both ends of each pair from its view and the kernel checks them, a wrong one failing the
transaction as a whole. A plan is never re-run blindly: a namespace whose actions failed is re-observed and
planned again (:mod:`floatnet.agent.loop`).
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable
from typing import Any

from floatnet.agent import actions as A
from floatnet.agent.observe import Dataplane
from floatnet.agent.sg_handlers import SG_HANDLERS
from floatnet.linux import arp, conntrack, dnsmasq, links, names, nat, netns, vxlan
from floatnet.linux.errors import KernelError


def _create_namespace(dp: Dataplane, a: A.CreateNamespace) -> None:
    dp.own([a.ns])
    netns.ensure(a.ns)
    links.static_ipv6(a.ns)
    if not a.ipv6:
        links.no_ipv6(a.ns)
    if a.forwarding:
        links.set_forwarding(a.ns, True)


def _set_forwarding(dp: Dataplane, a: A.SetForwarding) -> None:
    links.set_forwarding(a.ns, a.on)


def _delete_namespace(dp: Dataplane, a: A.DeleteNamespace) -> None:
    router_id = names.router_id_of(a.ns)
    if router_id:  # its radvd, keepalived and conntrackd would outlive the namespace
        dp.radvd.stop(router_id)
        dp.keepalived.stop(router_id)
        dp.conntrackd.stop(router_id)
    for port in a.ovs_ports:
        dp.ovs.delete_port(None, port)
    netns.delete(a.ns)
    dp.own([a.ns], owned=False)


def _plug(dp: Dataplane, a: A.PlugDevice) -> None:
    """Veth ``dev`` on both sides, OVS port with tag and iface-id, TX checksum offload off (netdev trap)."""
    if a.old_bridge is not None:
        dp.ovs.delete_port(a.old_bridge, a.dev)
    created = links.ensure_veth(a.dev, a.dev, a.ns, mac=a.mac, mtu=a.mtu, peer_name=a.dev, netns=dp.ovs_netns)
    if created:
        # a device recreated under an existing OVS port (e.g. its namespace was deleted) is never re-opened by
        # the netdev datapath: re-add the port so OVS attaches the new device
        dp.ovs.delete_port(None, a.dev)
    dp.ovs.ensure_port(a.bridge, a.dev, tag=a.tag, iface_id=a.iface_id)
    if created:
        _up_once_opened(dp, a.dev)
    if dp.datapath_type == "netdev":
        links.tx_offload_off(a.dev, dp.ovs_netns)
        links.tx_offload_off(a.dev, a.ns)


OVS_OPEN_WAIT = 2.0  # seconds to wait for ovs-vswitchd to open a new device before bringing its end up again


def _up_once_opened(dp: Dataplane, dev: str) -> None:
    """Bring the OVS end of ``dev`` up again once ovs-vswitchd has opened it (it wrote the ofport): opening a
    device that appeared moments ago, vswitchd sets PROMISC on its cached copy of the flags, taken while the
    device was still down, and so sets it DOWN (seen after a node's reboot: the replica's keepalived stayed in
    FAULT, issue 15). Bounded: after ``OVS_OPEN_WAIT`` it brings the end up anyway."""
    deadline = time.monotonic() + OVS_OPEN_WAIT
    while time.monotonic() < deadline:
        port = dp.ovs.ports().get(dev)
        if port is not None and port.ofport is not None:
            break
        time.sleep(0.02)
    links.set_up(dp.ovs_netns, dev)


def _unplug(dp: Dataplane, a: A.UnplugDevice) -> None:
    dp.ovs.delete_port(None, a.dev)
    if netns.exists(a.ns):
        links.delete_link(a.dev, a.ns)
    with contextlib.suppress(KernelError):
        links.delete_link(a.dev, dp.ovs_netns)


def _set_tag(dp: Dataplane, a: A.SetTag) -> None:
    dp.ovs.set_tag(a.port, a.tag)


def _delete_ovs_port(dp: Dataplane, a: A.DeleteOvsPort) -> None:
    dp.ovs.delete_port(None, a.port)


def _create_vxlan(dp: Dataplane, a: A.CreateVxlan) -> None:
    """A fresh device (whatever was there had other settings or is gone), its flood entries, and its OVS port
    re-added so that the netdev datapath opens the new device."""
    vxlan.create(dp.ovs_netns, a.vni, a.local, a.mtu)
    vxlan.edit_peers(dp.ovs_netns, a.vni, add=a.peers)
    dev = vxlan.dev_name(a.vni)
    dp.ovs.delete_port(None, dev)
    dp.ovs.ensure_port(a.bridge, dev, tag=a.tag)


def _edit_vxlan_peers(dp: Dataplane, a: A.EditVxlanPeers) -> None:
    vxlan.edit_peers(dp.ovs_netns, a.vni, add=a.add, remove=a.remove)


def _delete_vxlan(dp: Dataplane, a: A.DeleteVxlan) -> None:
    dp.ovs.delete_port(None, a.dev)
    vxlan.delete(dp.ovs_netns, a.dev)


def _sync_addresses(dp: Dataplane, a: A.SyncAddresses) -> None:
    kept = links.get_addresses(a.ns, a.dev, ipv4_link_local=True) & a.keep if a.keep else frozenset()
    links.sync_addresses(a.ns, a.dev, a.wanted | kept)


def _edit_addresses(dp: Dataplane, a: A.EditAddresses) -> None:
    links.edit_addresses(a.ns, a.dev, add=a.add, remove=a.remove)


def _edit_routes(dp: Dataplane, a: A.EditRoutes) -> None:
    links.edit_routes(a.ns, add=sorted(a.add), remove=sorted(a.remove))


def router_nat(table: Any) -> nat.RouterNat:
    """The linux layer's table description for our :class:`~floatnet.agent.state.NatTable`."""
    return nat.RouterNat(
        gateway_ip=table.gateway_ip,
        gateway_dev=table.gateway_dev,
        enable_snat=table.enable_snat,
        internal_cidrs=tuple(sorted(table.internal_cidrs)),
        fips=dict(table.fips),
        forwardings=table.forwardings,
    )


def _replace_nat(dp: Dataplane, a: A.ReplaceNat) -> None:
    nat.replace(a.ns, router_nat(a.table))


def _edit_nat_internal(dp: Dataplane, a: A.EditNatInternal) -> None:
    nat.edit_internal(a.ns, add=a.add, remove=a.remove)


def _add_fip(dp: Dataplane, a: A.AddFipMapping) -> None:
    nat.add_fip(a.ns, a.fip, a.fixed)


def _del_fip(dp: Dataplane, a: A.DelFipMapping) -> None:
    nat.del_fip(a.ns, a.fip, a.fixed)


def _add_forwarding(dp: Dataplane, a: A.AddForwarding) -> None:
    nat.add_forwarding(a.ns, a.elements)


def _del_forwarding(dp: Dataplane, a: A.DelForwarding) -> None:
    """Remove the elements, then end only their sessions (the floating IP's other forwardings keep theirs)."""
    nat.del_forwarding(a.ns, a.elements)
    for e in a.elements:
        conntrack.flush_socket(a.ns, e.fip, e.protocol, e.ext_lo, e.ext_hi)


def _flush_conntrack(dp: Dataplane, a: A.FlushConntrack) -> None:
    for ip in a.ips:
        conntrack.flush_address(a.ns, ip)


GARP_AT_ONCE = 32  # beyond this (a cold sync of a big router) announce from the sender thread, once each


def _garp(dp: Dataplane, a: A.Garp) -> None:
    """The first announcement of each arriving address now (a neighbour that asked before the router held it
    learns it at once), its repeats from :mod:`floatnet.linux.arp`'s sender thread."""
    arp.announce(a.ns, a.dev, a.ips[:GARP_AT_ONCE])
    if a.ips[GARP_AT_ONCE:]:
        arp.announce_later(a.ns, a.dev, a.ips[GARP_AT_ONCE:])


def dhcp_spec(config: A.DhcpConfig) -> dnsmasq.DhcpSpec:
    """The linux layer's dnsmasq description for our :class:`~floatnet.agent.actions.DhcpConfig`."""
    subnets = tuple(
        dnsmasq.DhcpSubnet(
            id=s.id, cidr=s.cidr, gateway_ip=s.gateway_ip, dns_nameservers=s.dns_nameservers,
            host_routes=s.host_routes, ipv6_ra_mode=s.ipv6_ra_mode, ipv6_address_mode=s.ipv6_address_mode,
        )
        for s in config.subnets
    )  # fmt: skip
    hosts = tuple(
        dnsmasq.DhcpHost(h.mac_address, h.ip_address, h.hostname, h.port_id, h.extra_dhcp_opts) for h in config.hosts
    )
    return dnsmasq.DhcpSpec(
        network_id=config.network_id, netns=config.netns, interface=config.interface, subnets=subnets,
        hosts=hosts, dns_servers=config.dns_servers, upstream_dns=config.upstream_dns, domain=config.domain,
        mtu=config.mtu,
    )  # fmt: skip


def _ensure_radvd(dp: Dataplane, a: A.EnsureRadvd) -> None:
    dp.radvd.ensure(a.router_id, a.ns, a.config)


def _stop_radvd(dp: Dataplane, a: A.StopRadvd) -> None:
    dp.radvd.stop(a.router_id)


def _ensure_keepalived(dp: Dataplane, a: A.EnsureKeepalived) -> None:
    dp.keepalived.ensure(a.router_id, a.ns, a.config)


def _stop_keepalived(dp: Dataplane, a: A.StopKeepalived) -> None:
    dp.keepalived.stop(a.router_id)


def _ensure_conntrackd(dp: Dataplane, a: A.EnsureConntrackd) -> None:
    dp.conntrackd.ensure(a.router_id, a.ns, a.config)


def _stop_conntrackd(dp: Dataplane, a: A.StopConntrackd) -> None:
    dp.conntrackd.stop(a.router_id)


def _ensure_dhcp(dp: Dataplane, a: A.EnsureDhcp) -> None:
    dp.dnsmasq.ensure(dhcp_spec(a.config))
    dp.write_record(a.config.network_id, a.config.fingerprint())


def _stop_dhcp(dp: Dataplane, a: A.StopDhcp) -> None:
    dp.dnsmasq.stop(a.network_id)
    dp.forget_record(a.network_id)


_TABLE: dict[type, Callable[[Dataplane, Any], None]] = {
    A.CreateNamespace: _create_namespace,
    A.SetForwarding: _set_forwarding,
    A.DeleteNamespace: _delete_namespace,
    A.PlugDevice: _plug,
    A.UnplugDevice: _unplug,
    A.SetTag: _set_tag,
    A.DeleteOvsPort: _delete_ovs_port,
    A.SyncAddresses: _sync_addresses,
    A.EditAddresses: _edit_addresses,
    A.EditRoutes: _edit_routes,
    A.ReplaceNat: _replace_nat,
    A.EditNatInternal: _edit_nat_internal,
    A.AddFipMapping: _add_fip,
    A.DelFipMapping: _del_fip,
    A.FlushConntrack: _flush_conntrack,
    A.AddForwarding: _add_forwarding,
    A.DelForwarding: _del_forwarding,
    A.Garp: _garp,
    A.EnsureRadvd: _ensure_radvd,
    A.StopRadvd: _stop_radvd,
    A.EnsureKeepalived: _ensure_keepalived,
    A.StopKeepalived: _stop_keepalived,
    A.EnsureConntrackd: _ensure_conntrackd,
    A.StopConntrackd: _stop_conntrackd,
    A.EnsureDhcp: _ensure_dhcp,
    A.StopDhcp: _stop_dhcp,
    A.CreateVxlan: _create_vxlan,
    A.EditVxlanPeers: _edit_vxlan_peers,
    A.DeleteVxlan: _delete_vxlan,
    **SG_HANDLERS,
}


def handlers(dp: Dataplane) -> dict[type, Callable[[Any], None]]:
    """``{action type: fn(action)}`` bound to one dataplane."""
    return {kind: functools.partial(fn, dp) for kind, fn in _TABLE.items()}
