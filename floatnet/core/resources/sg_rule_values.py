"""A security group rule's values as Neutron accepts, normalises and compares them (pure logic, no database).

Converters (one per attribute, raising Neutron's typed 400s): ``protocol`` by name or number (``any`` = none),
``ethertype`` case-insensitive, ports 0..65535, ``remote_ip_prefix`` any address or CIDR. :func:`normalize`
then applies Neutron's cross-attribute rules in its order: legacy IPv6 ICMP names, the full port range made
"no range", port-range validation (ICMP type/code in the port fields), the prefix made canonical and checked
against ``ethertype``, IPv6-only protocols refused for IPv4, one remote at most. :func:`rule_key` is the
identity two rules share when one would duplicate the other.
"""

from __future__ import annotations

import contextlib
import ipaddress
from typing import Any

from floatnet.core import sg_errors

IP_PROTOCOL_MAP = {
    "ah": 51, "dccp": 33, "egp": 8, "esp": 50, "gre": 47, "hopopt": 0, "icmp": 1, "igmp": 2, "ip": 0, "ipip": 4,
    "ipv6-encap": 41, "ipv6-frag": 44, "ipv6-icmp": 58, "icmpv6": 58, "ipv6-nonxt": 59, "ipv6-opts": 60,
    "ipv6-route": 43, "ospf": 89, "pgm": 113, "rsvp": 46, "sctp": 132, "tcp": 6, "udp": 17, "udplite": 136,
    "vrrp": 112,
}  # fmt: skip
NUM_TO_NAME = {str(num): name for name, num in IP_PROTOCOL_MAP.items() if name != "icmpv6"}
SUPPORTED_PROTOCOLS = [None, "any", *IP_PROTOCOL_MAP]
ETHERTYPES = ["IPv4", "IPv6"]
PORT_PROTOCOLS = ("dccp", "sctp", "tcp", "udp", "udplite")
PORT_PROTOCOL_NUMBERS = tuple(IP_PROTOCOL_MAP[name] for name in PORT_PROTOCOLS)
ICMP_NUMBERS = (1, 58)
IPV6_ONLY: tuple[str, ...] = ("ipv6-encap", "ipv6-frag", "ipv6-icmp", "icmpv6", "ipv6-nonxt", "ipv6-opts", "ipv6-route")
IPV6_ONLY += tuple(str(IP_PROTOCOL_MAP[name]) for name in IPV6_ONLY if name != "icmpv6")
IPV6_ICMP_LEGACY = ("icmp", "icmpv6")
ANY_PREFIXES = ("0.0.0.0/0", "::/0", None)
DIRECTIONS = ("ingress", "egress")
RULE_KEYS = ("direction", "ethertype", "port_range_max", "port_range_min", "protocol", "remote_group_id",
             "remote_address_group_id", "remote_ip_prefix", "security_group_id")  # fmt: skip


def _invalid_protocol(value: Any) -> sg_errors.SecurityGroupRuleInvalidProtocol:
    return sg_errors.SecurityGroupRuleInvalidProtocol(protocol=value, values=SUPPORTED_PROTOCOLS)


def protocol(value: Any) -> str | None:
    """Neutron's ``convert_protocol``: None/``any`` → None, 0..255 (as text), or a known name (lower-cased)."""
    if value is None or value == "any":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _invalid_protocol(value)
    try:
        number = int(value)
    except ValueError:
        if str(value).lower() in IP_PROTOCOL_MAP:
            return str(value).lower()
        raise _invalid_protocol(value) from None
    if 0 <= number <= 255:
        return str(value)
    raise _invalid_protocol(value)


def ethertype(value: Any) -> str:
    """``IPv4``/``IPv6`` in any case, written Neutron's way."""
    if isinstance(value, str):
        for known in ETHERTYPES:
            if known.lower() == value.lower():
                return known
    raise sg_errors.SecurityGroupRuleInvalidEtherType(ethertype=value, values=ETHERTYPES)


def port(value: Any) -> int | None:
    """A port number 0..65535 (also as text, as oslo's ``is_valid_port``), or None."""
    if value is None:
        return None
    number = -1
    if isinstance(value, int | str) and not isinstance(value, bool):
        with contextlib.suppress(ValueError):
            number = int(value)
    if 0 <= number <= 65535:
        return number
    raise sg_errors.SecurityGroupInvalidPortValue(port=value)


def ip_prefix(value: Any) -> str | None:
    """An address or network (host bits allowed, as netaddr's ``IPNetwork``), as ``addr/len`` text."""
    if value is None or value == "":
        return None
    try:
        return str(ipaddress.ip_interface(value if isinstance(value, str) else "\0"))
    except ValueError:
        raise sg_errors.InvalidCIDR(input=value) from None


def proto_number(name: str | None) -> int | None:
    """The IP protocol number of a (converted) protocol value."""
    if name is None:
        return None
    return IP_PROTOCOL_MAP[name] if name in IP_PROTOCOL_MAP else int(name)


def _check_ports(rule: dict[str, Any]) -> None:
    low, high = rule["port_range_min"], rule["port_range_max"]
    if low is None and high is None:
        return
    if not rule["protocol"]:
        raise sg_errors.SecurityGroupProtocolRequiredWithPorts()
    number = proto_number(rule["protocol"])
    if number in PORT_PROTOCOL_NUMBERS:
        if low == 0 or high == 0:
            raise sg_errors.SecurityGroupInvalidPortValue(port=0)
        if low is None or high is None or low > high:
            raise sg_errors.SecurityGroupInvalidPortRange()
    elif number in ICMP_NUMBERS:
        for attr, field in (("port_range_min", "type"), ("port_range_max", "code")):
            if rule[attr] is not None and not 0 <= rule[attr] <= 255:
                raise sg_errors.SecurityGroupInvalidIcmpValue(field=field, attr=attr, value=rule[attr])
        if low is None:
            raise sg_errors.SecurityGroupMissingIcmpType(value=high)
    else:
        valid = ", ".join(name.upper() for name in PORT_PROTOCOLS)
        raise sg_errors.SecurityGroupInvalidProtocolForPort(protocol=number, valid_port_protocols=valid)


def normalize(rule: dict[str, Any]) -> dict[str, Any]:
    """Apply Neutron's cross-attribute validation to a converted rule (changed in place and returned)."""
    if rule["ethertype"] == "IPv6":
        if rule["protocol"] in IPV6_ICMP_LEGACY:
            rule["protocol"] = "ipv6-icmp"
        elif rule["protocol"] == "1":
            rule["protocol"] = "58"
    if rule["port_range_min"] == 1 and rule["port_range_max"] == 65535:
        rule["port_range_min"] = rule["port_range_max"] = None
    _check_ports(rule)
    prefix = rule["remote_ip_prefix"]
    if prefix and rule["ethertype"] != f"IPv{ipaddress.ip_interface(prefix).version}":
        raise sg_errors.SecurityGroupRuleParameterConflict(ethertype=rule["ethertype"], cidr=prefix)
    if rule["protocol"] in IPV6_ONLY and rule["ethertype"] == "IPv4":
        raise sg_errors.SecurityGroupEthertypeConflictWithProtocol(ethertype="IPv4", protocol=rule["protocol"])
    if prefix and rule.get("remote_group_id"):
        raise sg_errors.SecurityGroupMultipleRemoteEntites()
    return rule


def normalized_cidr(prefix: str | None) -> str | None:
    """The network a prefix denotes (host bits cleared): Neutron's ``normalized_cidr``."""
    return None if not prefix else str(ipaddress.ip_interface(prefix).network)


def _protocol_key(value: str, ether: str | None) -> str:
    if ether == "IPv6" and value in IPV6_ICMP_LEGACY:
        value = "ipv6-icmp"
    elif ether == "IPv6" and value == "1":
        value = "58"
    if value in IP_PROTOCOL_MAP:
        return str([value, str(IP_PROTOCOL_MAP[value])])
    if value in NUM_TO_NAME:
        return str([NUM_TO_NAME[value], value])
    return str([value, value])


def rule_key(rule: dict[str, Any]) -> str:
    """Neutron's ``_rule_to_key``: equal keys = duplicate rules (a protocol's name and number are equal, an
    any-address prefix equals no prefix)."""
    parts = []
    for key in RULE_KEYS:
        value = rule.get(key)
        if key == "remote_ip_prefix" and value in ANY_PREFIXES or value is None:
            parts.append("+")
        elif key == "protocol":
            parts.append(_protocol_key(str(value), rule.get("ethertype")))
        else:
            parts.append(str(value))
    return "_".join(parts)
