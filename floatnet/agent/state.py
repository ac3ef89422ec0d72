"""The observed state: what the kernel holds of floatnet's own objects, as plain immutable values.

:mod:`floatnet.agent.observe` fills these from the kernel (through :mod:`floatnet.linux`); the planner
compares them with the desired state. They are deliberately independent of ``linux``'s own types (but for
the pure rule values of :mod:`floatnet.linux.sg_render`) so
:func:`plan` stays pure and unit-testable without root, and so :func:`floatnet.agent.projection.project` can
compute "what the kernel will hold once these actions succeeded" for the agent's in-memory cache."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from floatnet.linux.nat_pf import PfElement
from floatnet.linux.sg_render import GroupRules
from floatnet.linux.vxlan import VxlanDevice

DEFAULT_ROUTE = "0.0.0.0/0"
DEFAULT_ROUTE6 = "::/0"  # among a namespace's extra routes: one route per destination, whatever the family


def norm_cidr(cidr: str) -> str:
    """A network in canonical text (``10.0.0.0/24``); host bits are dropped."""
    return str(ipaddress.ip_network(cidr, strict=False))


def collapse_cidrs(cidrs: Iterable[str]) -> frozenset[str]:
    """The IPv4 networks among ``cidrs`` merged where adjacent or nested, as the kernel's interval set stores
    them. IPv6 networks are left out: the NAT table is ``ip`` (IPv4) family, and an IPv6 interface on a router
    has no NAT (Neutron does not NAT IPv6 either). A malformed CIDR raises ``ValueError``."""
    nets = [ipaddress.ip_network(c, strict=False) for c in cidrs]
    return frozenset(str(n) for n in ipaddress.collapse_addresses(n for n in nets if n.version == 4))


def norm_iface(cidr: str) -> str:
    """An interface address in canonical text (``10.0.0.1/24``)."""
    return str(ipaddress.ip_interface(cidr))


@dataclass(frozen=True)
class Link:
    """A device inside one of our namespaces: its MAC, its addresses (``ip/len``) and whether it is up (a
    device someone set down is re-plugged: plugging brings both ends up)."""

    name: str
    mac: str | None
    addresses: frozenset[str] = frozenset()
    up: bool = True


@dataclass(frozen=True)
class NatTable:
    """A router's nftables table: its structure (gateway, SNAT, internal CIDRs), the floating-IP maps and the
    port forwardings' map elements."""

    gateway_ip: str | None
    gateway_dev: str | None
    enable_snat: bool
    internal_cidrs: frozenset[str]
    fips: Mapping[str, str] = field(default_factory=dict)  # floating IP -> fixed IP
    forwardings: frozenset[PfElement] = frozenset()

    def structure(self) -> tuple[str | None, str | None, bool, frozenset[str]]:
        """All but the map elements (the floating-IP fast path needs them unchanged)."""
        return (self.gateway_ip, self.gateway_dev, self.enable_snat, self.internal_cidrs)

    def rules(self) -> tuple[str | None, str | None, bool]:
        """What the table's rules are made of: when these differ the table is rebuilt, else only the elements
        of its set (internal networks) and maps (floating IPs) are edited."""
        return (self.gateway_ip, self.gateway_dev, self.enable_snat)


@dataclass(frozen=True)
class Routes:
    """The gatewayed routes floatnet put in a namespace."""

    default_gw: str | None = None
    extra: frozenset[tuple[str, str]] = frozenset()  # (destination cidr, nexthop)


@dataclass(frozen=True)
class Namespace:
    """A ``qrouter-``/``qdhcp-`` namespace: its owned devices, routes, forwarding and (routers) NAT table, the
    configuration of the radvd advertising there and of the keepalived and conntrackd running there (None: none
    runs), and
    whether this replica of an HA router is the VRRP MASTER (it holds the primary VIP on its ``ha-`` device)."""

    name: str
    links: Mapping[str, Link] = field(default_factory=dict)
    routes: Routes = Routes()
    forwarding: bool = False
    nat: NatTable | None = None
    radvd: str | None = None
    keepalived: str | None = None
    conntrackd: str | None = None
    ha_master: bool = False


@dataclass(frozen=True)
class OvsPort:
    """An OVS port floatnet cares about: ours (``qr-``/``qg-``/DHCP ``tap``) or a hypervisor's (iface-id)."""

    name: str
    bridge: str
    tag: int | None
    iface_id: str | None
    ofport: int | None = None
    link_state: str | None = None  # "down": the device behind it went away or down (a vxlan device deleted)

    @property
    def attached(self) -> bool:
        """True when OVS has a working device behind the port (ofport -1 means the device is gone)."""
        return self.ofport is None or self.ofport >= 0


@dataclass(frozen=True)
class FilteredPort:
    """An instance port's security-group filter as installed: its conntrack zone (allocated by the agent,
    read back from the kernel, so stable across restarts), its tap, stateful or not, the fingerprint of its
    chains (``None``: missing or changed by hand — drift) and its elements in the shared maps and sets."""

    zone: int
    tap: str
    stateful: bool
    fingerprint: str | None
    parts: frozenset[str] = frozenset()  # its map and set elements (sg_render.port_parts spelling)


@dataclass(frozen=True)
class Security:
    """The node's security-group tables: filtered ports by id, groups (id -> fingerprint of their chains),
    remote-group members (id -> addresses). ``applied`` is the agent's memory, not the kernel's: the rules it
    last installed per group, kept while the group's fingerprint still matches them, so that a removed rule's
    established flows can be cut (the kernel holds rendered text, not rules)."""

    ports: Mapping[str, FilteredPort] = field(default_factory=dict)
    groups: Mapping[str, str | None] = field(default_factory=dict)
    members: Mapping[str, frozenset[str]] = field(default_factory=dict)
    applied: Mapping[str, GroupRules] = field(default_factory=dict)


Tunnel = VxlanDevice
"""A vxlan device floatnet made in the OVS namespace (``vxlan-<vni>``): the agent's view is the kernel's
(:class:`floatnet.linux.vxlan.VxlanDevice`, with the remote IPs of its flood entries as ``peers``)."""


@dataclass(frozen=True)
class Observed:
    """What the kernel holds. ``namespaces`` covers what was observed (all owned ones on a full observe).

    ``dhcp`` maps network ids with a running dnsmasq to the fingerprint of the configuration it was given
    (empty string when it runs with an unknown configuration); ``security`` is the node's port filters;
    ``tunnels`` the vxlan devices by name.
    """

    namespaces: Mapping[str, Namespace] = field(default_factory=dict)
    ovs_ports: Mapping[str, OvsPort] = field(default_factory=dict)
    dhcp: Mapping[str, str] = field(default_factory=dict)
    security: Security = Security()
    tunnels: Mapping[str, Tunnel] = field(default_factory=dict)

    def ports_by_iface_id(self) -> dict[str, OvsPort]:
        """OVS ports by the Neutron port id a hypervisor (or we) set; an attached one wins over a ghost."""
        found: dict[str, OvsPort] = {}
        for port in sorted(self.ovs_ports.values(), key=lambda p: (p.attached, p.name)):
            if port.iface_id:
                found[port.iface_id] = port
        return found
