"""The desired state of one host, parsed from the server's ``/v2.0/floatnet/hosts/{host}/state`` answer.

Typed, immutable dataclasses: the planner compares them with what the kernel holds, so they carry exactly
what the dataplane needs and nothing of the API. Parsing is strict: a malformed answer raises
:class:`DesiredStateError` and the agent treats the desired state as *unknown* (it deletes nothing until a
good answer arrives).

``complete`` tells a full snapshot from a filtered one (``state?router_id=…``): only a complete state
authorises the stale sweep (removing namespaces, ports and dnsmasq processes the server no longer lists)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from floatnet.agent.desired_security import SecurityGroup, allowed_pairs, parse_security
from floatnet.linux import nat_pf
from floatnet.linux.nat_pf import PfElement

DEAD_VLAN = 4095  # Neutron's tag for a port that must not reach any network (admin down, unbound)


class DesiredStateError(ValueError):
    """The server's state document is malformed; the agent must not act on it."""


@dataclass(frozen=True)
class Wiring:
    """Where a device plugs in: the OVS bridge and the access VLAN (None for flat = untagged). A vxlan network's
    devices share the integration bridge, told apart by the network's ``local_tag`` on this node
    (:mod:`floatnet.agent.plan_tunnels` chooses it; the server does not know it)."""

    bridge: str
    network_type: str
    segmentation_id: int | None
    local_tag: int | None = None

    @property
    def tag(self) -> int | None:
        """The OVS access tag: the segmentation id on VLAN networks, untagged on flat ones, the local tag on vxlan
        ones (the dead VLAN until one is chosen: never untagged on the shared integration bridge). A ``local``
        network is not carried by floatnet's dataplane: its devices stay on the dead VLAN (fail closed)."""
        if self.network_type == "vlan":
            return self.segmentation_id
        if self.network_type == "flat":
            return None
        return self.local_tag if self.network_type == "vxlan" and self.local_tag is not None else DEAD_VLAN


@dataclass(frozen=True)
class FixedIp:
    subnet_id: str
    ip_address: str
    prefixlen: int | None = None


@dataclass(frozen=True)
class Subnet:
    id: str
    cidr: str
    gateway_ip: str | None
    dns_nameservers: tuple[str, ...] = ()
    host_routes: tuple[tuple[str, str], ...] = ()
    enable_dhcp: bool = True
    ipv6_ra_mode: str | None = None  # IPv6: who advertises and with which flags (None: an external router)
    ipv6_address_mode: str | None = None  # IPv6: slaac, dhcpv6-stateless, dhcpv6-stateful or None (stateful)


@dataclass(frozen=True)
class DhcpHost:
    port_id: str
    mac_address: str
    ip_address: str
    hostname: str
    extra_dhcp_opts: tuple[tuple[str, str, int], ...] = ()  # the port's (name, value, IP version)


@dataclass(frozen=True)
class Dhcp:
    """A network's DHCP service on this host: its port (device in ``qdhcp-``), subnets and static hosts."""

    port_id: str
    mac_address: str
    fixed_ips: tuple[FixedIp, ...]
    subnets: tuple[Subnet, ...]
    hosts: tuple[DhcpHost, ...]


@dataclass(frozen=True)
class Network:
    id: str
    name: str
    admin_state_up: bool
    mtu: int | None
    wiring: Wiring
    dhcp: Dhcp | None
    tunnel_peers: frozenset[str] = frozenset()  # vxlan: the other nodes' tunnel endpoints carrying it


@dataclass(frozen=True)
class Port:
    """An instance port bound to this host: the hypervisor plugs its device, the agent sets the tag."""

    id: str
    network_id: str
    mac_address: str
    admin_state_up: bool
    status: str
    device_owner: str
    wiring: Wiring
    fixed_ips: tuple[FixedIp, ...] = ()
    port_security: bool = False  # True: filtered by its security groups, anti-spoofed (hybrid plug needed)
    security_groups: tuple[str, ...] = ()
    allowed_pairs: tuple[tuple[str, str | None], ...] = ()  # (ip or cidr, mac or None: the port's own)

    @property
    def tag(self) -> int | None:
        """The access tag to set: the network's, or the dead VLAN when the port is administratively down."""
        return self.wiring.tag if self.admin_state_up else DEAD_VLAN


@dataclass(frozen=True)
class RouterPort:
    """A router's interface (``qr-``) or gateway (``qg-``) port, one entry per address; ``gateway_ip`` is set on
    gateways only, the IPv6 modes of the address's subnet on IPv6 interfaces (they drive router advertisements)."""

    port_id: str
    mac_address: str
    ip_address: str
    prefixlen: int
    cidr: str
    network_id: str
    wiring: Wiring
    mtu: int | None
    gateway_ip: str | None = None
    ipv6_ra_mode: str | None = None
    ipv6_address_mode: str | None = None


@dataclass(frozen=True)
class FloatingIp:
    """A floating IP the router translates: associated (``fixed_ip_address``), or shared by port forwardings
    (``fixed_ip_address`` empty, ``forwardings`` their NAT map elements)."""

    id: str
    floating_ip_address: str
    fixed_ip_address: str
    port_id: str | None
    status: str
    forwardings: frozenset[PfElement] = frozenset()


@dataclass(frozen=True)
class HaReplica:
    """This host's replica of an HA router (l3-ha): the router's VRRP id and the replica's HA port (``ha-``
    device on the project's HA network)."""

    vr_id: int
    port: RouterPort


@dataclass(frozen=True)
class Router:
    """A router: ``gateway`` is its IPv4 gateway address (NAT follows it), ``gateway6`` the IPv6 one on the same
    port (routed, never NATed); either may be None. ``ha``: this host's replica when the router is HA (its
    addresses and routes are then keepalived's)."""

    id: str
    name: str
    admin_state_up: bool
    enable_snat: bool
    routes: tuple[tuple[str, str], ...]
    gateway: RouterPort | None
    interfaces: tuple[RouterPort, ...]
    floatingips: Mapping[str, FloatingIp]  # by id: a change replaces entries without scanning the others
    floatingips_partial: bool = False  # the answer listed only the floating IPs asked for
    gateway6: RouterPort | None = None
    ha: HaReplica | None = None


@dataclass(frozen=True)
class DesiredState:
    """What one host must run; ``absent_*`` are ids the server says are gone (filtered answers, deletions)."""

    seq: int
    complete: bool
    networks: Mapping[str, Network] = field(default_factory=dict)
    ports: Mapping[str, Port] = field(default_factory=dict)
    routers: Mapping[str, Router] = field(default_factory=dict)
    absent_routers: frozenset[str] = frozenset()
    absent_networks: frozenset[str] = frozenset()
    absent_ports: frozenset[str] = frozenset()
    groups: Mapping[str, SecurityGroup] = field(default_factory=dict)  # the groups of the listed ports
    members: Mapping[str, frozenset[str]] = field(default_factory=dict)  # remote group -> member addresses
    groups_in_use: frozenset[str] | None = None  # a scoped state: the groups the whole state's ports need


def _get(obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = obj.get(key) if isinstance(obj, Mapping) else None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise DesiredStateError(f"{where}: {key!r} is missing or not {getattr(kind, '__name__', kind)}")
    return value


def _opt(obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    return None if obj.get(key) is None else _get(obj, key, kind, where)


def _wiring(obj: Mapping[str, Any], where: str) -> Wiring:
    return Wiring(
        bridge=_get(obj, "bridge", str, where),
        network_type=_get(obj, "network_type", str, where),
        segmentation_id=_opt(obj, "segmentation_id", int, where),
    )


def _fixed_ips(items: Iterable[Any], where: str) -> tuple[FixedIp, ...]:
    return tuple(
        FixedIp(
            _get(ip, "subnet_id", str, where),
            _get(ip, "ip_address", str, where),
            _opt(ip, "prefixlen", int, where),
        )
        for ip in items
    )


def _strings(items: Iterable[Any], key: str, where: str) -> frozenset[str]:
    values = list(items)
    if not all(isinstance(v, str) for v in values):
        raise DesiredStateError(f"{where}: {key!r} is not a list of strings")
    return frozenset(values)


def _pairs(items: Iterable[Any], first: str, second: str, where: str) -> tuple[tuple[str, str], ...]:
    return tuple((_get(item, first, str, where), _get(item, second, str, where)) for item in items)


def _subnet(obj: Mapping[str, Any]) -> Subnet:
    where = f"subnet {obj.get('id')}"
    return Subnet(
        id=_get(obj, "id", str, where),
        cidr=_get(obj, "cidr", str, where),
        gateway_ip=_opt(obj, "gateway_ip", str, where),
        dns_nameservers=tuple(obj.get("dns_nameservers") or ()),
        host_routes=_pairs(obj.get("host_routes") or (), "destination", "nexthop", where),
        enable_dhcp=bool(obj.get("enable_dhcp", True)),
        ipv6_ra_mode=_opt(obj, "ipv6_ra_mode", str, where),
        ipv6_address_mode=_opt(obj, "ipv6_address_mode", str, where),
    )


def _dhcp_opts(items: Iterable[Any], where: str) -> tuple[tuple[str, str, int], ...]:
    return tuple(
        (_get(o, "opt_name", str, where), _get(o, "opt_value", str, where), _get(o, "ip_version", int, where))
        for o in items
    )


def _dhcp(obj: Mapping[str, Any] | None, where: str) -> Dhcp | None:
    if obj is None:
        return None
    port = _get(obj, "port", Mapping, where)
    hosts = tuple(
        DhcpHost(
            _get(h, "port_id", str, where),
            _get(h, "mac_address", str, where).lower(),
            _get(h, "ip_address", str, where),
            _get(h, "hostname", str, where),
            _dhcp_opts(h.get("extra_dhcp_opts") or (), where),
        )
        for h in obj.get("hosts") or ()
    )
    return Dhcp(
        port_id=_get(port, "id", str, where),
        mac_address=_get(port, "mac_address", str, where).lower(),
        fixed_ips=_fixed_ips(port.get("fixed_ips") or (), where),
        subnets=tuple(_subnet(s) for s in obj.get("subnets") or ()),
        hosts=hosts,
    )


def parse_network(obj: Mapping[str, Any]) -> Network:
    where = f"network {obj.get('id')}"
    return Network(
        id=_get(obj, "id", str, where),
        name=obj.get("name") or "",
        admin_state_up=bool(obj.get("admin_state_up", True)),
        mtu=_opt(obj, "mtu", int, where),
        wiring=_wiring(obj, where),
        dhcp=_dhcp(obj.get("dhcp"), where),
        tunnel_peers=_strings(obj.get("tunnel_peers") or (), "tunnel_peers", where),
    )


def parse_port(obj: Mapping[str, Any]) -> Port:
    where = f"port {obj.get('id')}"
    return Port(
        id=_get(obj, "id", str, where),
        network_id=_get(obj, "network_id", str, where),
        mac_address=_get(obj, "mac_address", str, where).lower(),
        admin_state_up=bool(obj.get("admin_state_up", True)),
        status=obj.get("status") or "DOWN",
        device_owner=obj.get("device_owner") or "",
        wiring=_wiring(obj, where),
        fixed_ips=_fixed_ips(obj.get("fixed_ips") or (), where),
        port_security=obj.get("port_security_enabled") is True,
        security_groups=tuple(sorted(str(g) for g in obj.get("security_groups") or ())),
        allowed_pairs=allowed_pairs(obj.get("allowed_address_pairs") or ()),
    )


def _router_port(obj: Mapping[str, Any], where: str) -> RouterPort:
    return RouterPort(
        port_id=_get(obj, "port_id", str, where),
        mac_address=_get(obj, "mac_address", str, where).lower(),
        ip_address=_get(obj, "ip_address", str, where),
        prefixlen=_get(obj, "prefixlen", int, where),
        cidr=_get(obj, "cidr", str, where),
        network_id=_get(obj, "network_id", str, where),
        wiring=_wiring(obj, where),
        mtu=_opt(obj, "mtu", int, where),
        gateway_ip=_opt(obj, "gateway_ip", str, where),
        ipv6_ra_mode=_opt(obj, "ipv6_ra_mode", str, where),
        ipv6_address_mode=_opt(obj, "ipv6_address_mode", str, where),
    )


def _floatingip(obj: Mapping[str, Any], where: str) -> FloatingIp:
    address = _get(obj, "floating_ip_address", str, where)
    return FloatingIp(
        id=_get(obj, "id", str, where),
        floating_ip_address=address,
        fixed_ip_address=_opt(obj, "fixed_ip_address", str, where) or "",
        port_id=_opt(obj, "port_id", str, where),
        status=obj.get("status") or "DOWN",
        forwardings=frozenset(e for pf in obj.get("port_forwardings") or () for e in _forwarding(address, pf, where)),
    )


def _forwarding(address: str, obj: Mapping[str, Any], where: str) -> list[PfElement]:
    """The NAT map elements of one port forwarding of floating IP ``address``."""
    external = _port_range(_get(obj, "external_port_range", str, where), where)
    internal = _port_range(_get(obj, "internal_port_range", str, where), where)
    protocol = _get(obj, "protocol", str, where)
    return nat_pf.elements(address, protocol, external, _get(obj, "internal_ip_address", str, where), internal)


def _port_range(text: str, where: str) -> tuple[int, int]:
    try:
        low, high = (int(part) for part in text.split(":"))
    except ValueError:
        raise DesiredStateError(f"{where}: port range {text!r} is not N:M") from None
    return low, high


def parse_router(obj: Mapping[str, Any]) -> Router:
    where = f"router {obj.get('id')}"
    gateway, gateway6 = obj.get("gateway"), obj.get("gateway_ipv6")
    return Router(
        id=_get(obj, "id", str, where),
        name=obj.get("name") or "",
        admin_state_up=bool(obj.get("admin_state_up", True)),
        enable_snat=bool(obj.get("enable_snat", True)),
        routes=_pairs(obj.get("routes") or (), "destination", "nexthop", where),
        gateway=_router_port(gateway, where) if gateway else None,
        interfaces=tuple(_router_port(i, where) for i in obj.get("interfaces") or ()),
        floatingips={
            fip.id: fip
            for fip in (_floatingip(f, where) for f in obj.get("floatingips") or ()
                        if f.get("fixed_ip_address") or f.get("port_forwardings"))
        },
        floatingips_partial=obj.get("floatingips_partial") is True,
        gateway6=_router_port(gateway6, where) if gateway6 else None,
        ha=_ha(obj.get("ha"), where),
    )


def _ha(obj: Mapping[str, Any] | None, where: str) -> HaReplica | None:
    if obj is None:
        return None
    vr_id = _get(obj, "vr_id", int, where)
    if not 1 <= vr_id <= 254:
        raise DesiredStateError(f"{where}: VRRP id {vr_id} is outside 1..254")
    return HaReplica(vr_id, _router_port(_get(obj, "port", Mapping, where), where))


def parse_state(doc: Any, complete: bool, absent_ports: Iterable[str] = ()) -> DesiredState:
    """Parse a state document; ``complete`` is True for an unfiltered snapshot. Raises DesiredStateError."""
    if not isinstance(doc, Mapping):
        raise DesiredStateError("state document is not an object")
    try:
        absent = doc.get("absent") or {}
        groups, members = parse_security(doc.get("security"))
        return DesiredState(
            seq=_get(doc, "seq", int, "state"),
            complete=complete,
            networks={n.id: n for n in map(parse_network, doc.get("networks") or ())},
            ports={p.id: p for p in map(parse_port, doc.get("ports") or ())},
            routers={r.id: r for r in map(parse_router, doc.get("routers") or ())},
            absent_routers=frozenset(absent.get("routers") or ()),
            absent_networks=frozenset(absent.get("networks") or ()),
            absent_ports=frozenset(absent_ports),
            groups=groups,
            members=members,
        )
    except (AttributeError, TypeError, KeyError) as exc:
        raise DesiredStateError(f"malformed state document: {exc}") from exc
