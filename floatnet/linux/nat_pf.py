"""Port forwardings in a router's NAT table: one element per forwarded external port in each of two
concatenated-key maps (pure rendering and parsing; :mod:`floatnet.linux.nat` applies them).

```
map pf_addr { type ipv4_addr . inet_proto . inet_service : ipv4_addr }
map pf_port { type ipv4_addr . inet_proto . inet_service : inet_service }
  203.0.113.101 . tcp . 2222 : 10.0.0.5  /  : 22     a forwarding of one port: one element
chain prerouting / output:
  meta l4proto { tcp, udp } dnat to ip daddr . meta l4proto . th dport map @pf_addr : <the same key> map @pf_port
```

Two maps (address, port) rather than one with ``ipv4_addr . inet_service`` data: nftables 1.0.6's JSON
cannot declare a map with concatenated data (it silently creates a set, and adding elements then crashes
libnftables), and every table change goes through JSON.

Why maps: the lookup costs the same for 1 or 10,000 forwardings and adding one is one element (no rule
rebuilt). Why hash maps, one element per port, and not interval maps with one element per range: deleting
an element of an interval map makes libnftables load the whole map (~90 ms at 10,000 elements), a hash map
element goes in ~0.3 ms either way; and a range to a range (N-N) must keep each port's offset, which a
range element cannot say. Replies need no rule (conntrack reverses the DNAT), and an instance reaching a
forwarding from inside its own subnet is caught by the table's hairpin rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

ADDR_MAP, PORT_MAP = "pf_addr", "pf_port"
MAPS = (ADDR_MAP, PORT_MAP)
PROTOCOLS = ("tcp", "udp")
PF_ROLE = "floatnet:pf-dnat"


@dataclass(frozen=True, order=True)
class PfElement:
    """One element of the map: ``fip``/``protocol``/external ports ``ext_lo..ext_hi`` -> ``internal_ip`` .
    ``internal_port``."""

    fip: str
    protocol: str
    ext_lo: int
    ext_hi: int
    internal_ip: str
    internal_port: int

    def key(self) -> dict[str, Any]:
        port: Any = self.ext_lo if self.ext_lo == self.ext_hi else {"range": [self.ext_lo, self.ext_hi]}
        return {"concat": [self.fip, self.protocol, port]}

    def addr_json(self) -> list[Any]:
        return [self.key(), self.internal_ip]

    def port_json(self) -> list[Any]:
        return [self.key(), self.internal_port]


def elements(fip: str, protocol: str, external: tuple[int, int], internal_ip: str,
             internal: tuple[int, int]) -> list[PfElement]:  # fmt: skip
    """The elements of one forwarding: one per external port (a range to one port (N-1) maps each to it, a range
    to a range (N-N) keeps each port's offset)."""
    ranged = internal[1] > internal[0]
    return [PfElement(fip, protocol, port, port, internal_ip, internal[0] + (port - external[0]) * ranged)
            for port in range(external[0], external[1] + 1)]  # fmt: skip


def _port_key(key: Any) -> tuple[str, str, int, int]:
    fip, protocol, port = key["concat"]
    lo, hi = port["range"] if isinstance(port, dict) else (port, port)
    return str(fip), str(protocol), int(lo), int(hi)


def parse(addr_elem: Iterable[Any], port_elem: Iterable[Any]) -> frozenset[PfElement]:
    """The elements of the two maps' ``list`` answers (JSON), as :class:`PfElement`; ValueError if they are
    not ours (an element in one map only, or not of this shape)."""
    addresses = {_port_key(key): str(ip) for key, ip in addr_elem}
    ports = {_port_key(key): int(port) for key, port in port_elem}
    if set(addresses) != set(ports):
        raise ValueError("pf_addr and pf_port hold different keys")
    return frozenset(PfElement(*key, addresses[key], ports[key]) for key in addresses)


def map_decls(obj: Any) -> list[dict[str, Any]]:
    """The two ``add map`` commands (``obj`` builds a table-scoped object)."""
    key = ["ipv4_addr", "inet_proto", "inet_service"]
    return [{"add": {"map": obj(name=name, type=key, map=data)}}
            for name, data in ((ADDR_MAP, "ipv4_addr"), (PORT_MAP, "inet_service"))]  # fmt: skip


def element_cmds(op: str, obj: Any, elements: Iterable[PfElement]) -> list[dict[str, Any]]:
    """``op`` (add | delete) the elements in both maps (a delete names the keys only)."""
    ordered = sorted(elements)
    if not ordered:
        return []
    if op == "delete":
        keys = [element.key() for element in ordered]
        return [{"delete": {"element": obj(name=name, elem=keys)}} for name in MAPS]
    return [{"add": {"element": obj(name=ADDR_MAP, elem=[e.addr_json() for e in ordered])}},
            {"add": {"element": obj(name=PORT_MAP, elem=[e.port_json() for e in ordered])}}]  # fmt: skip


def dnat_rule(obj: Any, chain: str) -> dict[str, Any]:
    """``meta l4proto { tcp, udp } dnat to <key> map @pf_addr : <key> map @pf_port``."""
    key = {"concat": [{"payload": {"protocol": "ip", "field": "daddr"}}, {"meta": {"key": "l4proto"}},
                      {"payload": {"protocol": "th", "field": "dport"}}]}  # fmt: skip
    protocols = {"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": {"set": list(PROTOCOLS)}}}
    dnat = {"dnat": {"family": "ip", "addr": {"map": {"key": key, "data": f"@{ADDR_MAP}"}},
                     "port": {"map": {"key": key, "data": f"@{PORT_MAP}"}}}}  # fmt: skip
    return {"add": {"rule": obj(chain=chain, comment=PF_ROLE, expr=[protocols, dnat])}}
