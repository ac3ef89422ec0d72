"""Security groups as nftables text: ports, groups and remote-group sets, described and rendered (pure).

:mod:`floatnet.linux.port_filter` applies what this module renders; docs/security-groups.md explains why.
The enforcement point is Neutron's hybrid plug: ``tap`` (the instance) and ``qvb`` (towards OVS) are the two
ports of a per-port Linux bridge ``qbr``, filtered by netfilter. This kernel has no bridge-family conntrack
(``nf_conntrack_bridge``), so the work is split in two tables:

```
table bridge floatnet_sg                  stateless, sees which bridge port a frame came in on
  map port_mark  ifname : mark              tap -> egress mark of the port, qvb -> ingress mark
  set filtered / port_macs / port_src4 / port_src6   tap; tap . MAC; tap . source CIDR (v4, v6)
  chain prerouting (prio -300)              meta mark set iifname map @port_mark; iifname @filtered jump spoof
  chain spoof                               MAC / IP / ARP / DHCP-server / RA anti-spoofing, one for all ports
table inet floatnet_sg                    stateful: br_netfilter hands bridged IP packets to inet hooks
  map zone       mark : ct zone             both marks of a port -> the port's conntrack zone
  set stateless  mark                       marks of ports whose groups are stateless
  map dispatch   mark : verdict             ingress mark -> jump port-<port>-in, egress -> port-<port>-out
  chain raw (prerouting, raw)               notrack or ct zone set meta mark map @zone
  chain filter (prerouting, filter)         meta mark vmap @dispatch
  chain port-<port>-in / -out               est/related accept, invalid drop, DHCP/ND, jump sg-<group>-in…, drop
  chain sg-<group>-in / -out                the group's rules, each "… accept"
  set rg4-<group> / rg6-<group>             the group's member addresses (remote_group_id)
}
```

The inet hooks see the bridge itself as both input and output device, hence the mark set in the bridge
table: it names the port and the direction. Every port chain ends in a ``drop`` whose comment carries a
fingerprint of the :class:`PortFilter` and the chain's rule count (``fp:<hash>/<rules>``), and every group
chain one of its :class:`GroupRules`; :func:`floatnet.linux.port_filter.observe` reads them back for drift
repair without parsing rules, with each port's map and set elements (:func:`port_parts`).
Per-port state is set elements, never anonymous sets: nft fetches every set, anonymous ones included, before
each command, so 8,000 anonymous sets made adding one member cost 250 ms with 1,000 ports.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from floatnet.linux.errors import KernelError

TABLE = "floatnet_sg"
MARK_BASE = 0x0F000000
MARK_EGRESS = 0x00010000
MARK_INGRESS = 0x00020000
ZONE_MAX = 0xFFFF
ID_CHARS = 11
ICMP_NAMES = {"icmp", "1"}
ICMP6_NAMES = {"icmpv6", "ipv6-icmp", "58"}
PORT_PROTOCOLS = {"tcp": 6, "udp": 17, "sctp": 132, "udplite": 136, "dccp": 33}
NAMED_PROTOCOLS = {**PORT_PROTOCOLS, "icmp": 1, "ipv6-icmp": 58, "icmpv6": 58, "gre": 47, "esp": 50, "ah": 51}
_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_MAC = re.compile(r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$")


def _ident(value: str, what: str) -> str:
    if not _ID.match(value or ""):
        raise KernelError("port filter", repr(value), f"not a valid {what}")
    return value


def _mac(value: str) -> str:
    mac = (value or "").lower()
    if not _MAC.match(mac):
        raise KernelError("port filter", repr(value), "not a MAC address")
    return mac


def _net(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError as exc:
        raise KernelError("port filter", repr(value), "not an IP address or CIDR") from exc


def _host(value: str) -> str:
    """A single address (``a.b.c.d`` or a host CIDR ``/32``, ``/128``): remote-group sets hold hosts only."""
    net = _net(value)
    if net.num_addresses != 1:
        raise KernelError("remote group member", value, "only single addresses can be members")
    return str(net.network_address)


def bridge_dev(port_id: str) -> str:
    """The per-port Linux bridge: ``qbr`` + 11 characters of the port id (Neutron's name)."""
    return "qbr" + port_id[:ID_CHARS]


def qvb_dev(port_id: str) -> str:
    """The bridge's veth end towards OVS: ``qvb`` + 11 characters of the port id."""
    return "qvb" + port_id[:ID_CHARS]


def qvo_dev(port_id: str) -> str:
    """The OVS end of that veth: ``qvo`` + 11 characters of the port id (the OVS port of the instance)."""
    return "qvo" + port_id[:ID_CHARS]


PORTS_CACHED = 16384  # filters whose fingerprint and elements are remembered (a node's ports, with room)


def marks(zone: int) -> tuple[int, int]:
    """(egress mark, ingress mark) of the port owning conntrack ``zone``."""
    return MARK_BASE | MARK_EGRESS | zone, MARK_BASE | MARK_INGRESS | zone


@dataclass(frozen=True)
class PortFilter:
    """What one port's filter must enforce. ``tap`` is the instance's device on the bridge (default
    ``tap<id11>``); ``zone`` (1..65535) is its conntrack zone, unique on the node; ``allowed_pairs`` are
    ``(ip_or_cidr, mac_or_None)`` (None: the port's MAC); ``stateful`` False = Neutron's stateless groups."""

    port_id: str
    zone: int
    mac: str
    fixed_ips: tuple[str, ...] = ()
    allowed_pairs: tuple[tuple[str, str | None], ...] = ()
    groups: tuple[str, ...] = ()
    stateful: bool = True
    tap: str = ""

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        _ident(self.port_id, "port id")
        if not 1 <= int(self.zone) <= ZONE_MAX:
            raise KernelError("port filter", self.port_id, f"conntrack zone {self.zone} not in 1..{ZONE_MAX}")
        set_(self, "mac", _mac(self.mac))
        set_(self, "fixed_ips", tuple(sorted({str(_net(ip).network_address) for ip in self.fixed_ips})))
        pairs = {(str(_net(ip)), _mac(mac) if mac else self.mac) for ip, mac in self.allowed_pairs}
        set_(self, "allowed_pairs", tuple(sorted(pairs)))
        set_(self, "groups", tuple(sorted({_ident(g, "group id") for g in self.groups})))
        set_(self, "tap", self.tap or "tap" + self.port_id[:ID_CHARS])

    def fingerprint(self) -> str:
        """A short hash of everything rendered: equal fingerprints mean the installed chains are current."""
        return _fingerprint(self)

    def sources(self, version: int) -> list[str]:
        """The addresses/CIDRs this port may send from in IP ``version`` (fixed IPs + allowed pairs)."""
        nets = [*self.fixed_ips, *(ip for ip, _ in self.allowed_pairs)]
        return sorted({str(_net(n)) for n in nets if _net(n).version == version})

    def macs(self) -> list[str]:
        return sorted({self.mac, *(mac or self.mac for _, mac in self.allowed_pairs)})


@dataclass(frozen=True)
class Rule:
    """One security group rule as Neutron stores it. ``protocol`` None = any; a name or a number. For ICMP,
    ``port_range_min``/``max`` are type/code. ``remote_ip_prefix`` and ``remote_group_id`` exclude each other."""

    direction: str
    ethertype: str = "IPv4"
    protocol: str | None = None
    port_range_min: int | None = None
    port_range_max: int | None = None
    remote_ip_prefix: str | None = None
    remote_group_id: str | None = None

    def __post_init__(self) -> None:
        if self.direction not in ("ingress", "egress") or self.ethertype not in ("IPv4", "IPv6"):
            raise KernelError("sg rule", repr(self), "direction/ethertype invalid")
        if self.remote_ip_prefix and self.remote_group_id:
            raise KernelError("sg rule", repr(self), "remote_ip_prefix and remote_group_id both set")
        if self.remote_ip_prefix:
            object.__setattr__(self, "remote_ip_prefix", str(_net(self.remote_ip_prefix)))
        if self.remote_group_id:
            _ident(self.remote_group_id, "remote group id")
        if self.protocol is not None:
            object.__setattr__(self, "protocol", str(self.protocol).lower())
            self.proto_number()

    def proto_number(self) -> int | None:
        """The IP protocol number (None = any); ``icmp`` on IPv6 means ICMPv6, as in Neutron."""
        if self.protocol in (None, "any"):
            return None
        if self.ethertype == "IPv6" and self.protocol in ICMP_NAMES | ICMP6_NAMES:
            return 58
        number = NAMED_PROTOCOLS.get(str(self.protocol))
        if number is None and str(self.protocol).isdigit() and 0 <= int(str(self.protocol)) <= 255:
            number = int(str(self.protocol))
        if number is None:
            raise KernelError("sg rule", repr(self.protocol), "unknown protocol")
        return number


@dataclass(frozen=True)
class GroupRules:
    """All rules of one security group (the group's chains are replaced as a whole)."""

    group_id: str
    rules: tuple[Rule, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        _ident(self.group_id, "group id")
        object.__setattr__(self, "rules", tuple(sorted(set(self.rules), key=repr)))

    def fingerprint(self) -> str:
        return hashlib.sha256(repr(self).encode()).hexdigest()[:16]

    def remote_groups(self) -> set[str]:
        return {r.remote_group_id for r in self.rules if r.remote_group_id}


def _set(items: list[str]) -> str:
    return "{ " + ", ".join(items) + " }"


def link_local(mac: str) -> str:
    """The EUI-64 IPv6 link-local address of ``mac`` (instances send NDP from it)."""
    octets = [int(x, 16) for x in mac.split(":")]
    octets[0] ^= 0x02
    eui = octets[:3] + [0xFF, 0xFE] + octets[3:]
    return str(ipaddress.IPv6Address(bytes([0xFE, 0x80] + [0] * 6 + eui)))


SPOOF_RULES = (
    "iifname . ether saddr != @port_macs drop",
    "ether type arp iifname . arp saddr ether != @port_macs drop",
    "arp saddr ip 0.0.0.0 return",
    "ether type arp iifname . arp saddr ip != @port_src4 drop",
    "udp sport 68 udp dport 67 ip saddr 0.0.0.0 ip daddr 255.255.255.255 return",
    "ether type ip iifname . ip saddr != @port_src4 drop",
    "udp sport 67 drop",
    "ip6 saddr :: ip6 daddr ff02::/16 icmpv6 type { mld-listener-report, nd-neighbor-solicit, mld2-listener-report } "
    "return",
    "ether type ip6 iifname . ip6 saddr != @port_src6 drop",
    "udp sport 547 drop",
    "icmpv6 type { nd-router-advert, nd-redirect } drop",
    "ether type != { ip, ip6, arp } drop",
)


def spoof_elements(port: PortFilter) -> dict[str, list[str]]:
    """The port's elements of the shared anti-spoofing sets (source CIDRs collapsed: no overlapping intervals)."""
    tap = f'"{port.tap}"'
    v4 = [str(n) for n in ipaddress.collapse_addresses(ipaddress.IPv4Network(c) for c in port.sources(4))]
    lla = [f"{link_local(m)}/128" for m in port.macs()]
    v6 = [str(n) for n in ipaddress.collapse_addresses(ipaddress.IPv6Network(c) for c in [*port.sources(6), *lla])]
    return {
        "filtered": [tap],
        "port_macs": [f"{tap} . {m}" for m in port.macs()],
        "port_src4": [f"{tap} . {n}" for n in v4],
        "port_src6": [f"{tap} . {n}" for n in v6],
    }


def _l4(rule: Rule) -> str:
    proto = rule.proto_number()
    if proto is None:
        return ""
    lo, hi = rule.port_range_min, rule.port_range_max
    if proto in (1, 58):
        kw = "icmp" if proto == 1 else "icmpv6"
        text = f"meta l4proto {proto}"
        text += f" {kw} type {lo}" if lo is not None else ""
        return text + (f" {kw} code {hi}" if lo is not None and hi is not None else "")
    if proto in PORT_PROTOCOLS.values() and lo is not None:
        span = str(lo) if hi is None or hi == lo else f"{lo}-{hi}"
        return f"meta l4proto {proto} th dport {span}"
    return f"meta l4proto {proto}"


def rule_text(rule: Rule) -> str:
    """One rule as an nft rule body ending in ``accept`` (ingress matches the source, egress the destination)."""
    v6 = rule.ethertype == "IPv6"
    fam, addr = ("ip6", "ip6") if v6 else ("ip", "ip")
    side = "saddr" if rule.direction == "ingress" else "daddr"
    parts = [f"meta nfproto {'ipv6' if v6 else 'ipv4'}"]
    if rule.remote_ip_prefix:
        net = _net(rule.remote_ip_prefix)
        if net.version != (6 if v6 else 4):
            raise KernelError("sg rule", rule.remote_ip_prefix, f"does not match ethertype {rule.ethertype}")
        if net.prefixlen:
            parts.append(f"{addr} {side} {net}")
    if rule.remote_group_id:
        parts.append(f"{fam} {side} @{group_set(rule.remote_group_id, 6 if v6 else 4)}")
    parts.append(_l4(rule))
    return " ".join(p for p in parts if p) + " accept"


def group_set(group_id: str, version: int) -> str:
    """The set of a group's member addresses: ``rg4-<id>`` / ``rg6-<id>``."""
    return f"rg{version}-{group_id}"


def group_chain(group_id: str, direction: str) -> str:
    return f"sg-{group_id}-{'in' if direction == 'ingress' else 'out'}"


def port_chain(port_id: str, direction: str) -> str:
    return f"port-{port_id}-{'in' if direction == 'ingress' else 'out'}"


ND_TYPES = {
    "nd_in": "{ nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert, mld-listener-query }",
    "nd_out": "{ nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, mld-listener-report, "
    "mld2-listener-report }",
}
_BASE = {
    "ingress": ("udp sport 67 udp dport 68 accept", "udp sport 547 udp dport 546 accept", "icmpv6 type @nd_in accept"),
    "egress": ("udp sport 68 udp dport 67 accept", "udp sport 546 udp dport 547 accept", "icmpv6 type @nd_out accept"),
}


def skeleton() -> list[str]:
    """Both tables with their maps, sets and base chains; every line is idempotent (``add``)."""
    b, i = f"bridge {TABLE}", f"inet {TABLE}"
    return [
        f"add table {b}",
        f"add map {b} port_mark {{ type ifname : mark; }}",
        f"add set {b} filtered {{ type ifname; }}",
        f"add set {b} port_macs {{ typeof iifname . ether saddr; }}",
        f"add set {b} port_src4 {{ typeof iifname . ip saddr; flags interval; }}",
        f"add set {b} port_src6 {{ typeof iifname . ip6 saddr; flags interval; }}",
        f"add chain {b} spoof",
        f"add chain {b} prerouting {{ type filter hook prerouting priority -300; policy accept; }}",
        f"add table {i}",
        f"add map {i} zone {{ typeof meta mark : ct zone; }}",
        f"add set {i} stateless {{ type mark; }}",
        f"add map {i} dispatch {{ type mark : verdict; }}",
        *(f"add set {i} {name} {{ type icmpv6_type; elements = {types} }}" for name, types in ND_TYPES.items()),
        f"add chain {i} raw {{ type filter hook prerouting priority raw; policy accept; }}",
        f"add chain {i} filter {{ type filter hook prerouting priority filter; policy accept; }}",
        f"flush chain {b} prerouting",
        f"add rule {b} prerouting meta mark set iifname map @port_mark",
        f"add rule {b} prerouting iifname @filtered jump spoof",
        f"flush chain {b} spoof",
        *(f"add rule {b} spoof {rule}" for rule in SPOOF_RULES),
        f"flush chain {i} raw",
        f"add rule {i} raw meta mark @stateless notrack",
        f"add rule {i} raw ct zone set meta mark map @zone",
        f"flush chain {i} filter",
        f"add rule {i} filter meta mark vmap @dispatch",
    ]


def stamp(fingerprint: str, rules: int) -> str:
    """The comment on a chain's final rule: ``fp:<fingerprint>/<number of rules in the chain>`` — a rule added
    or deleted by hand changes the count, so :func:`floatnet.linux.port_filter.observe` reports it as drift."""
    return f"fp:{fingerprint}/{rules}"


@functools.lru_cache(maxsize=PORTS_CACHED)
def _fingerprint(port: PortFilter) -> str:
    return hashlib.sha256(repr(port).encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=PORTS_CACHED)
def port_parts(port: PortFilter) -> frozenset[str]:
    """The port's elements in the shared maps and sets, canonical (see :func:`canonical`): what
    :func:`floatnet.linux.port_filter.observe` reads back for it when nothing was changed by hand.

    Cached by value (like :meth:`PortFilter.fingerprint`): the agent compares every port of a step with
    what is installed, and the address arithmetic of 1,000 ports per step cost it seconds."""
    out_mark, in_mark = marks(port.zone)
    parts = {
        f"mark {port.tap} {out_mark:#x}", f"mark {qvb_dev(port.port_id)} {in_mark:#x}",
        f"zone {out_mark:#x} {port.zone}", f"zone {in_mark:#x} {port.zone}",
        f"dispatch {out_mark:#x} {port_chain(port.port_id, 'egress')}",
        f"dispatch {in_mark:#x} {port_chain(port.port_id, 'ingress')}",
    }  # fmt: skip
    parts |= set() if port.stateful else {f"stateless {out_mark:#x}", f"stateless {in_mark:#x}"}
    for name, elements in spoof_elements(port).items():
        parts |= {f"{name} {canonical(e.split(' . ', 1)[1])}" if " . " in e else name for e in elements}
    return frozenset(parts)


def canonical(value: str) -> str:
    """An element value in one spelling: addresses and networks as ``ipaddress`` prints them, MACs lower."""
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        return value.lower()


def _chain(family: str, name: str, rules: list[str]) -> list[str]:
    full = f"{family} {TABLE} {name}"
    return [f"add chain {full}", f"flush chain {full}", *(f"add rule {full} {r}" for r in rules)]


def port_lines(port: PortFilter) -> list[str]:
    """Create or replace one port's chains and map elements (elements are idempotent for an unchanged zone)."""
    out_mark, in_mark = marks(port.zone)
    qvb = qvb_dev(port.port_id)
    lines = [f"add chain inet {TABLE} {group_chain(g, d)}" for g in port.groups for d in ("ingress", "egress")]
    for direction in ("ingress", "egress"):
        state = ["ct state established,related accept", "ct state invalid drop"] if port.stateful else []
        jumps = [f"jump {group_chain(g, direction)}" for g in port.groups]
        body = [*state, *_BASE[direction], *jumps]
        ends = [f'drop comment "{stamp(port.fingerprint(), len(body) + 1)}"']
        lines += _chain("inet", port_chain(port.port_id, direction), [*body, *ends])
    lines += [
        f'add element bridge {TABLE} port_mark {{ "{port.tap}" : {out_mark:#x}, "{qvb}" : {in_mark:#x} }}',
        f"add element inet {TABLE} zone {{ {out_mark:#x} : {port.zone}, {in_mark:#x} : {port.zone} }}",
        f"add element inet {TABLE} dispatch {{ {out_mark:#x} : jump {port_chain(port.port_id, 'egress')}, "
        f"{in_mark:#x} : jump {port_chain(port.port_id, 'ingress')} }}",
    ]
    if not port.stateful:
        lines.append(f"add element inet {TABLE} stateless {{ {out_mark:#x}, {in_mark:#x} }}")
    lines += [f"add element bridge {TABLE} {name} {_set(e)}" for name, e in spoof_elements(port).items() if e]
    return lines


def port_delete_lines(port_id: str, zone: int, tap: str, stateful: bool) -> list[str]:
    """Remove one port's map elements first (they reference its chains), then the chains."""
    out_mark, in_mark = marks(zone)
    lines = [
        f'delete element bridge {TABLE} port_mark {{ "{tap}", "{qvb_dev(port_id)}" }}',
        f"delete element inet {TABLE} zone {{ {out_mark:#x}, {in_mark:#x} }}",
        f"delete element inet {TABLE} dispatch {{ {out_mark:#x}, {in_mark:#x} }}",
    ]
    if not stateful:
        lines.append(f"delete element inet {TABLE} stateless {{ {out_mark:#x}, {in_mark:#x} }}")
    return lines + [f"delete chain inet {TABLE} {port_chain(port_id, d)}" for d in ("ingress", "egress")]


def group_sets(group_id: str) -> list[str]:
    """The (idempotent) member sets of a group; created before any rule or port can reference them."""
    return [
        f"add set inet {TABLE} {group_set(group_id, 4)} {{ type ipv4_addr; }}",
        f"add set inet {TABLE} {group_set(group_id, 6)} {{ type ipv6_addr; }}",
    ]


def group_lines(group: GroupRules) -> list[str]:
    """Create or replace one group's two chains (and the sets its rules and its members need)."""
    lines = [line for g in sorted({group.group_id} | group.remote_groups()) for line in group_sets(g)]
    for direction in ("ingress", "egress"):
        rules = [rule_text(r) for r in group.rules if r.direction == direction]
        rules.append(f'return comment "{stamp(group.fingerprint(), len(rules) + 1)}"')
        lines += _chain("inet", group_chain(group.group_id, direction), rules)
    return lines


def member_keys(group_id: str, addresses: Iterable[str]) -> dict[str, list[bytes]]:
    """A group's member addresses as set elements: set name (``rg4-``/``rg6-``) -> the packed addresses,
    one element each (:func:`floatnet.linux.nft_elements.edit` writes them without any nft text)."""
    out: dict[str, list[bytes]] = {}
    for host in sorted({ipaddress.ip_address(_host(a)) for a in addresses}, key=lambda h: (h.version, h)):
        out.setdefault(group_set(group_id, host.version), []).append(host.packed)
    return out
