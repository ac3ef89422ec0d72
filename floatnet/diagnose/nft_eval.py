"""Walk a port's installed security-group filter with one packet: what would the kernel do with it? (pure)

Input is what ``nft -n -j list table inet floatnet_sg`` and ``… bridge floatnet_sg`` print (numeric: protocols,
ICMP types and conntrack states as numbers). The layout is the documented one (docs/security-groups.md): the
bridge table's ``port_mark`` map gives the port's ``qvb`` device the port's ingress mark; the inet table's
``dispatch`` map jumps from that mark to ``port-<port_id>-in``, which jumps to each group's ``sg-<group>-in``.

The walk evaluates the rules themselves (addresses, prefixes, sets, ranges, protocols, ICMP type/code,
conntrack state "new") rather than trusting names or fingerprints, so a rule the agent has not applied yet —
or applied wrongly — shows up as the packet being dropped. A match this evaluator does not understand is
reported in the trail and treated as not matching (never as a silent accept).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

NFPROTO = {4: 2, 6: 10}
CT_NEW = 8
PAYLOAD_PROTOCOLS = {"tcp": 6, "udp": 17, "sctp": 132, "udplite": 136, "dccp": 33, "icmp": 1, "icmpv6": 58}


@dataclass(frozen=True)
class Packet:
    """The first packet of a new inbound flow as the port's filter sees it (after the router's DNAT)."""

    source: str
    destination: str
    protocol: int
    mark: int
    dport: int | None = None
    icmp_type: int | None = None
    icmp_code: int | None = None

    @property
    def version(self) -> int:
        return ipaddress.ip_address(self.source).version


@dataclass
class Ruleset:
    """The chains (rule expression lists), sets and maps of the two ``floatnet_sg`` tables."""

    chains: dict[str, list[list[dict[str, Any]]]] = field(default_factory=dict)
    sets: dict[str, list[Any]] = field(default_factory=dict)
    maps: dict[str, list[list[Any]]] = field(default_factory=dict)


def parse(*documents: dict[str, Any]) -> Ruleset:
    """A Ruleset from ``nft -j`` documents (several tables merge; names are unique across the two)."""
    rules = Ruleset()
    for document in documents:
        for item in document.get("nftables", []):
            if "chain" in item:
                rules.chains.setdefault(item["chain"]["name"], [])
            elif "rule" in item:
                rules.chains.setdefault(item["rule"]["chain"], []).append(list(item["rule"].get("expr", [])))
            elif "set" in item:
                rules.sets[item["set"]["name"]] = list(item["set"].get("elem", []))
            elif "map" in item:
                rules.maps[item["map"]["name"]] = [e for e in item["map"].get("elem", []) if len(e) == 2]
    return rules


def _plain(elem: Any) -> Any:
    return elem["elem"]["val"] if isinstance(elem, dict) and "elem" in elem else elem


def ingress_mark(rules: Ruleset, qvb: str) -> int | None:
    """The mark the bridge table gives frames entering the port's bridge from OVS (its ``qvb`` device)."""
    for key, value in rules.maps.get("port_mark", []):
        if _plain(key) == qvb:
            return int(value)
    return None


def dispatch_target(rules: Ruleset, mark: int) -> str | None:
    """The chain the inet table's ``dispatch`` map jumps to for ``mark``."""
    for key, verdict in rules.maps.get("dispatch", []):
        if int(_plain(key)) == mark and isinstance(verdict, dict) and "jump" in verdict:
            return str(verdict["jump"]["target"])
    return None


def jumps(rules: Ruleset, chain: str) -> list[str]:
    """The chains ``chain`` jumps to, in order."""
    return [stmt["jump"]["target"] for expr in rules.chains.get(chain, []) for stmt in expr if "jump" in stmt]


class Unknown(Exception):
    """A match the evaluator cannot judge (its JSON is the message)."""


def _field(packet: Packet, left: dict[str, Any]) -> Any:
    """The packet's value for a match's left side; None when the packet has no such header."""
    if "meta" in left:
        key = left["meta"]["key"]
        values: dict[str, int | None] = {
            "nfproto": NFPROTO[packet.version], "l4proto": packet.protocol, "mark": packet.mark,
        }  # fmt: skip
        if key not in values:
            raise Unknown(left)
        return values[key]
    if "ct" in left and left["ct"].get("key") == "state":
        return CT_NEW
    payload = left.get("payload")
    if not payload:
        raise Unknown(left)
    proto, name = payload.get("protocol"), payload.get("field")
    if proto in ("ip", "ip6"):
        if packet.version != (4 if proto == "ip" else 6) or name not in ("saddr", "daddr"):
            return None
        return packet.source if name == "saddr" else packet.destination
    if proto == "th" or PAYLOAD_PROTOCOLS.get(proto) == packet.protocol:
        l4: dict[str, int | None] = {
            "dport": packet.dport, "sport": None, "type": packet.icmp_type, "code": packet.icmp_code,
        }  # fmt: skip
        if name not in l4:
            raise Unknown(left)
        return l4[name]
    return None


def _member(rules: Ruleset, value: Any, right: Any) -> bool:
    """Whether ``value`` (int or address) equals/is in ``right`` (scalar, prefix, range, set, ``@set``)."""
    if isinstance(right, str) and right.startswith("@"):
        return any(_member(rules, value, _plain(e)) for e in rules.sets.get(right[1:], []))
    if isinstance(right, dict) and "set" in right:
        return any(_member(rules, value, _plain(e)) for e in right["set"])
    if isinstance(right, list):
        return any(_member(rules, value, e) for e in right)
    if isinstance(right, dict) and "range" in right:
        low, high = right["range"]
        if isinstance(value, str):
            ip, first, last = (int(ipaddress.ip_address(a)) for a in (value, low, high))
            return first <= ip <= last
        return int(low) <= int(value) <= int(high)
    if isinstance(right, dict) and "prefix" in right:
        net = ipaddress.ip_network(f"{right['prefix']['addr']}/{right['prefix']['len']}")
        return isinstance(value, str) and ipaddress.ip_address(value) in net
    if isinstance(value, str):
        return ipaddress.ip_address(value) == ipaddress.ip_address(str(right))
    return bool(int(value) == int(right))


def _matches(rules: Ruleset, packet: Packet, match: dict[str, Any]) -> bool:
    value = _field(packet, match["left"])
    if value is None:
        return False
    right, op = match["right"], match.get("op", "==")
    if op == "in" and isinstance(value, int) and isinstance(right, (int, list)):  # a flags test (ct state)
        flags = right if isinstance(right, list) else [right]
        return any(value & int(flag) for flag in flags)
    if op in ("==", "in"):
        return _member(rules, value, right)
    if op == "!=":
        return not _member(rules, value, right)
    raise Unknown(match)


@dataclass
class Walk:
    """The walk's verdict (``accept``/``drop``/None when it fell off the end), the rule that decided it as
    ``chain#index``, and the rules it could not judge."""

    verdict: str | None = None
    decided_by: str = ""
    unknown: list[str] = field(default_factory=list)


def walk(rules: Ruleset, chain: str, packet: Packet, result: Walk | None = None, depth: int = 0) -> Walk:
    """Evaluate ``chain`` for ``packet`` the way netfilter does: rules in order, the first verdict wins; a
    ``jump`` evaluates the target and comes back on ``return`` or its end."""
    result = result or Walk()
    if depth > 16:
        raise Unknown(f"jumps nested deeper than 16 from {chain}")
    for index, expr in enumerate(rules.chains.get(chain, [])):
        try:
            if not all(_matches(rules, packet, s["match"]) for s in expr if "match" in s):
                continue
        except (Unknown, ValueError, KeyError, TypeError) as exc:
            result.unknown.append(f"{chain}#{index}: {exc}")
            continue
        for stmt in expr:
            if "jump" in stmt or "goto" in stmt:
                walk(rules, (stmt.get("jump") or stmt["goto"])["target"], packet, result, depth + 1)
                if result.verdict is not None or "goto" in stmt:
                    return result
            elif "return" in stmt:
                return result
            elif "accept" in stmt or "drop" in stmt or "reject" in stmt:
                result.verdict, result.decided_by = ("accept" if "accept" in stmt else "drop"), f"{chain}#{index}"
                return result
    return result
