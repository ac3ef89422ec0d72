"""Does a security group rule admit a packet? Neutron's matching semantics, pure, for ``floatnet diagnose``.

A rule (as ``GET /v2.0/security-groups`` shows it) admits an ingress packet when every attribute it sets
matches; an attribute left ``null`` matches anything (Neutron's "any"):

- ``direction`` is ``ingress`` and ``ethertype`` is the packet's IP version (``IPv4``/``IPv6``);
- ``protocol`` by name or number (``tcp`` = ``6``); on an ``IPv6`` rule ``icmp`` means ICMPv6, as Neutron's
  firewall drivers read it; ``null`` or ``any`` = every protocol;
- for TCP, UDP, SCTP, UDP-Lite and DCCP, ``port_range_min``/``port_range_max`` bound the destination port
  (``max`` null = ``min`` alone); for ICMP/ICMPv6 they are the type and the code (each null = any);
- ``remote_ip_prefix`` contains the source; ``remote_group_id`` admits a source that is an address (a fixed
  IP or an allowed-address-pair IP/CIDR) of a port in that group.

The diagnosis reimplements this on purpose instead of importing the agent's renderer: a bug there must not
be a blind spot here. Port security off means no filtering at all; the caller decides that before asking.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Neutron's IP_PROTOCOL_MAP (neutron-lib constants): the names a rule's ``protocol`` may carry.
PROTOCOL_NUMBERS = {
    "ah": 51, "dccp": 33, "egp": 8, "esp": 50, "gre": 47, "hopopt": 0, "icmp": 1, "igmp": 2, "ip": 0, "ipip": 4,
    "ipv6-encap": 41, "ipv6-frag": 44, "ipv6-icmp": 58, "icmpv6": 58, "ipv6-nonxt": 59, "ipv6-opts": 60,
    "ipv6-route": 43, "ospf": 89, "pgm": 113, "rsvp": 46, "sctp": 132, "tcp": 6, "udp": 17, "udplite": 136,
    "vrrp": 112,
}  # fmt: skip
PORT_PROTOCOLS = frozenset({6, 17, 132, 136, 33})
ICMP_PROTOCOLS = frozenset({1, 58})
ECHO_REQUEST = {1: 8, 58: 128}
NAMES = {number: name for name, number in PROTOCOL_NUMBERS.items() if name not in ("ip", "icmpv6")}


class QueryError(ValueError):
    """The traffic asked about cannot exist (unknown protocol, a port without a port protocol, …)."""


def protocol_number(value: Any, ethertype: str = "IPv4") -> int | None:
    """A rule's or a query's protocol as an IP protocol number; None for any (``null``, ``any``, empty)."""
    if value is None or str(value).strip().lower() in ("", "any"):
        return None
    text = str(value).strip().lower()
    number = int(text) if text.isdigit() else PROTOCOL_NUMBERS.get(text)
    if number is None or not 0 <= number <= 255:
        raise QueryError(f"unknown protocol {value!r}: tcp, udp, icmp, … (Neutron's names) or a number 0-255")
    return 58 if ethertype == "IPv6" and number == 1 else number


@dataclass(frozen=True)
class Traffic:
    """One new inbound flow: from ``source`` to the port, IP ``protocol`` (a number), the destination ``port``
    for port protocols, ``icmp_type``/``icmp_code`` for ICMP."""

    source: str
    protocol: int
    port: int | None = None
    icmp_type: int | None = None
    icmp_code: int | None = None

    @property
    def version(self) -> int:
        return ipaddress.ip_address(self.source).version

    @property
    def ethertype(self) -> str:
        return f"IPv{self.version}"

    def label(self) -> str:
        """``tcp/22``, ``icmp type 8 code 0``, ``gre``: how the diagnosis names the traffic."""
        name = NAMES.get(self.protocol, str(self.protocol))
        if self.protocol in PORT_PROTOCOLS and self.port is not None:
            return f"{name}/{self.port}"
        if self.protocol in ICMP_PROTOCOLS and self.icmp_type is not None:
            code = f" code {self.icmp_code}" if self.icmp_code is not None else ""
            return f"{name} type {self.icmp_type}{code}"
        return name


def make_traffic(source: str, protocol: str, port: int | None = None, icmp_type: int | None = None,
                 icmp_code: int | None = None) -> Traffic:  # fmt: skip
    """A :class:`Traffic` from what an operator typed (QueryError when it cannot exist). ICMP without a type
    is a ping (echo request, code 0); a port needs a port protocol."""
    try:
        address = ipaddress.ip_address(source)
    except ValueError as exc:
        raise QueryError(f"source {source!r} is not an IP address") from exc
    number = protocol_number(protocol, f"IPv{address.version}")
    if number is None:
        raise QueryError("give the protocol of the traffic (tcp, udp, icmp, a number)")
    if port is not None and (number not in PORT_PROTOCOLS or not 0 < port < 65536):
        raise QueryError(f"--port {port} needs tcp, udp, sctp, udplite or dccp and 1-65535")
    if number in ICMP_PROTOCOLS:
        if icmp_type is None:
            icmp_type, icmp_code = ECHO_REQUEST[number], 0 if icmp_code is None else icmp_code
        return Traffic(str(address), number, icmp_type=icmp_type, icmp_code=icmp_code)
    if icmp_type is not None or icmp_code is not None:
        raise QueryError("--icmp-type/--icmp-code need --protocol icmp")
    return Traffic(str(address), number, port=port)


def _in_range(value: int | None, low: Any, high: Any) -> bool:
    if low is None:
        return True
    top = low if high is None else high
    return value is not None and int(low) <= value <= int(top)


def _l4_matches(rule: Mapping[str, Any], traffic: Traffic) -> bool:
    proto = protocol_number(rule.get("protocol"), str(rule.get("ethertype") or "IPv4"))
    if proto is None:
        return True
    if proto != traffic.protocol:
        return False
    low, high = rule.get("port_range_min"), rule.get("port_range_max")
    if proto in PORT_PROTOCOLS:
        return _in_range(traffic.port, low, high)
    if proto in ICMP_PROTOCOLS:
        type_ok = low is None or traffic.icmp_type == int(low)
        return type_ok and (high is None or traffic.icmp_code == int(high))
    return True


def _contains(cidrs: Iterable[str], address: str) -> bool:
    ip = ipaddress.ip_address(address)
    for cidr in cidrs:
        net = ipaddress.ip_network(cidr, strict=False)
        if net.version == ip.version and ip in net:
            return True
    return False


def rule_admits(rule: Mapping[str, Any], traffic: Traffic, members: Mapping[str, Sequence[str]],
                direction: str = "ingress") -> bool:  # fmt: skip
    """Whether ``rule`` admits ``traffic`` into (``ingress``) or out of (``egress``: ``traffic.source`` is then
    the destination) a port of its group; ``members`` maps a remote group's id to its members' addresses
    (fixed IPs and allowed-address-pair IPs/CIDRs)."""
    if rule.get("direction") != direction or (rule.get("ethertype") or "IPv4") != traffic.ethertype:
        return False
    if rule.get("remote_address_group_id"):  # address groups are not served here: never assume they admit
        return False
    prefix, group = rule.get("remote_ip_prefix"), rule.get("remote_group_id")
    if prefix and not _contains([prefix], traffic.source):
        return False
    if group and not _contains(members.get(group, ()), traffic.source):
        return False
    return _l4_matches(rule, traffic)


def reply_of(traffic: Traffic) -> Traffic:
    """The instance's answer to ``traffic``, as a stateless group must admit it by an egress rule: back to the
    peer, the same protocol, the peer's port unknown (an ephemeral one: only a rule without a port range is
    sure to admit it), an ICMP echo answered by an echo reply."""
    echo = traffic.protocol in ICMP_PROTOCOLS and traffic.icmp_type == ECHO_REQUEST[traffic.protocol]
    reply_type = {1: 0, 58: 129}[traffic.protocol] if echo else None
    return Traffic(traffic.source, traffic.protocol, icmp_type=reply_type, icmp_code=0 if echo else None)


def rule_label(rule: Mapping[str, Any]) -> str:
    """A rule in the words of ``security-group-rule-list``: ``tcp/22 from 0.0.0.0/0``, ``any from group X``."""
    proto, low, high = rule.get("protocol"), rule.get("port_range_min"), rule.get("port_range_max")
    what = "any" if proto in (None, "any") else str(proto)
    if low is not None and proto not in (None, "any"):
        what = f"{what}/{low}" if high in (None, low) else f"{what}/{low}-{high}"
    remote = rule.get("remote_ip_prefix") or (f"group {rule['remote_group_id']}" if rule.get("remote_group_id")
                                              else "anywhere")  # fmt: skip
    return f"{rule.get('ethertype') or 'IPv4'} {what} from {remote}"


def fix_command(group: str, traffic: Traffic) -> str:
    """The ``floatnet security-group-rule-create …`` that admits exactly ``traffic`` into ``group``."""
    host = 32 if traffic.version == 4 else 128
    argv = ["floatnet security-group-rule-create --direction ingress"]
    argv += ["--ethertype IPv6"] if traffic.version == 6 else []
    argv.append(f"--protocol {NAMES.get(traffic.protocol, traffic.protocol)}")
    if traffic.port is not None:
        argv.append(f"--port-range-min {traffic.port} --port-range-max {traffic.port}")
    if traffic.icmp_type is not None:
        argv.append(f"--port-range-min {traffic.icmp_type}")
    argv.append(f"--remote-ip-prefix {traffic.source}/{host} {group}")
    return " ".join(argv)
