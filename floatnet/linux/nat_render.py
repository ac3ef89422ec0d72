"""A router's NAT table, described and rendered (pure; :mod:`floatnet.linux.nat` applies it).

One nftables table per router namespace, floating IPs in maps (see docs/linux-api.md):

```
table ip floatnet {
  map fip_dnat { type ipv4_addr : ipv4_addr }      floating IP -> fixed IP
  map fip_snat { type ipv4_addr : ipv4_addr }      fixed IP -> floating IP
  map pf_addr, pf_port  { ipv4_addr . inet_proto . inet_service : address / port }   port forwardings
  set internal { type ipv4_addr; flags interval }  the router's internal subnets
  chain prerouting  (nat, dstnat)  port forwardings (:mod:`.nat_pf`), then dnat to ip daddr map @fip_dnat
  chain output      (nat, -100)    the same two rules                      (the router's own probes)
  chain postrouting (nat, srcnat)
    oifname QG snat to ip saddr map @fip_snat                                      instance with a FIP, out
    ct status & dnat == dnat ip saddr @internal ip daddr @internal snat … @fip_snat  hairpin, source has a FIP
    ct status & dnat == dnat ip saddr @internal ip daddr @internal masquerade        hairpin, source has none
    oifname QG ip saddr @internal ct status & dnat == 0 snat to GW                   enable_snat only
}
```

Why maps: a lookup costs the same with 1 or 10,000 floating IPs, and adding one is two element adds (no rule
rebuild). Why hairpin SNAT: an instance reaching another instance's (or its own) floating IP on the same
subnet would otherwise get the reply straight from the fixed IP and drop it. nftables 1.0.6 trap: ``ct status
!= dnat`` is an exact compare; ``ct status & dnat == 0`` is what is meant. Every rule carries a
``floatnet:<role>`` comment: :func:`observe` reads the kernel's table back through them.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from floatnet.linux import nat_pf
from floatnet.linux.errors import KernelError
from floatnet.linux.nat_pf import PfElement

FAMILY = "ip"
TABLE = "floatnet"
DNAT_MAP = "fip_dnat"
SNAT_MAP = "fip_snat"
INTERNAL_SET = "internal"
CHAINS = {"prerouting": ("prerouting", -100), "output": ("output", -100), "postrouting": ("postrouting", 100)}
ROLE = "floatnet:"


def _ip(value: str) -> str:
    """``value`` as canonical dotted-quad text; KernelError if it is not an IPv4 address.

    ``inet_pton`` first (strict dotted quad, ~20 times cheaper than ``ipaddress``: a 10,000-element table is
    normalised on every observe and replace); anything unusual goes through ``ipaddress``."""
    try:
        if socket.inet_ntop(socket.AF_INET, socket.inet_pton(socket.AF_INET, value)) == value:
            return value
    except (OSError, TypeError):
        pass
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError as exc:
        raise KernelError("nat", repr(value), "not an IPv4 address") from exc


def _cidrs(values: Iterable[str]) -> tuple[str, ...]:
    try:
        nets = [ipaddress.IPv4Network(v, strict=False) for v in values]
    except ValueError as exc:
        raise KernelError("nat", repr(list(values)), "not IPv4 CIDRs") from exc
    return tuple(str(n) for n in ipaddress.collapse_addresses(nets))


@dataclass(frozen=True)
class RouterNat:
    """What one router's NAT table must hold. Normalised on creation, so equal inputs compare equal.

    Without a gateway (``gateway_ip`` or ``gateway_dev`` None) there is no outbound NAT: both are None and
    ``enable_snat`` is False. ``fips`` maps floating IP -> fixed IP; ``forwardings`` are the port forwardings'
    map elements (:func:`floatnet.linux.nat_pf.elements`).
    """

    gateway_ip: str | None
    gateway_dev: str | None
    enable_snat: bool = True
    internal_cidrs: tuple[str, ...] = ()
    fips: Mapping[str, str] = field(default_factory=dict)
    forwardings: frozenset[PfElement] = frozenset()

    def __post_init__(self) -> None:
        has_gw = bool(self.gateway_ip and self.gateway_dev)
        set_ = object.__setattr__
        set_(self, "gateway_ip", _ip(self.gateway_ip) if has_gw and self.gateway_ip else None)
        set_(self, "gateway_dev", self.gateway_dev if has_gw else None)
        set_(self, "enable_snat", bool(self.enable_snat) and has_gw)
        set_(self, "internal_cidrs", _cidrs(self.internal_cidrs))
        fips = {_ip(f): _ip(x) for f, x in dict(self.fips).items()}
        fixed = list(fips.values())
        if len(set(fixed)) != len(fixed):
            raise KernelError("nat", "fips", "a fixed IP may have only one floating IP")
        set_(self, "fips", dict(sorted(fips.items())))
        set_(self, "forwardings", frozenset(self.forwardings))

    def roles(self) -> dict[str, list[str]]:
        """The rule comments each chain must hold, in order: the table's structure for this configuration."""
        post = []
        if self.gateway_dev:
            post.append(f"{ROLE}fip-snat gw={self.gateway_ip}")
        post += [f"{ROLE}hairpin-fip", f"{ROLE}hairpin"]
        if self.enable_snat:
            post.append(f"{ROLE}snat")
        dnat = [nat_pf.PF_ROLE, f"{ROLE}dnat"]
        return {"prerouting": dnat, "output": list(dnat), "postrouting": post}


def _obj(**kw: Any) -> dict[str, Any]:
    return {"family": FAMILY, "table": TABLE, **kw}


def _payload(field_: str) -> dict[str, Any]:
    return {"payload": {"protocol": "ip", "field": field_}}


def _match(left: Any, right: Any, op: str = "==") -> dict[str, Any]:
    return {"match": {"op": op, "left": left, "right": right}}


def _ct_dnat(is_dnat: bool) -> dict[str, Any]:
    # ``ct status & dnat == dnat`` / ``== 0``; never ``!= dnat`` (exact compare in nft 1.0.6)
    return _match({"&": [{"ct": {"key": "status"}}, "dnat"]}, "dnat" if is_dnat else 0)


def _by_map(field_: str, name: str) -> dict[str, Any]:
    return {"map": {"key": _payload(field_), "data": f"@{name}"}}


def _rule(chain: str, comment: str, *expr: dict[str, Any]) -> dict[str, Any]:
    return {"add": {"rule": _obj(chain=chain, comment=comment, expr=list(expr))}}


def _postrouting_rules(nat: RouterNat) -> list[dict[str, Any]]:
    internal = [_match(_payload("saddr"), f"@{INTERNAL_SET}"), _match(_payload("daddr"), f"@{INTERNAL_SET}")]
    roles = nat.roles()["postrouting"]
    rules = []
    oif = _match({"meta": {"key": "oifname"}}, nat.gateway_dev)
    if nat.gateway_dev:
        rules.append(_rule("postrouting", roles[0], oif, {"snat": {"addr": _by_map("saddr", SNAT_MAP)}}))
    rules.append(
        _rule("postrouting", f"{ROLE}hairpin-fip", _ct_dnat(True), *internal,
              {"snat": {"addr": _by_map("saddr", SNAT_MAP)}})
    )  # fmt: skip
    rules.append(_rule("postrouting", f"{ROLE}hairpin", _ct_dnat(True), *internal, {"masquerade": None}))
    if nat.enable_snat:
        rules.append(
            _rule("postrouting", f"{ROLE}snat", oif, internal[0], _ct_dnat(False),
                  {"snat": {"addr": nat.gateway_ip}})
        )  # fmt: skip
    return rules


def _elements(name: str, elem: list[Any]) -> dict[str, Any]:
    return _obj(name=name, elem=elem)


def render(nat: RouterNat) -> list[dict[str, Any]]:
    """The JSON commands that build the whole table from scratch, as one transaction (delete + create)."""
    cmds: list[dict[str, Any]] = [
        {"add": {"table": {"family": FAMILY, "name": TABLE}}},
        {"delete": {"table": {"family": FAMILY, "name": TABLE}}},
        {"add": {"table": {"family": FAMILY, "name": TABLE}}},
        {"add": {"map": _obj(name=DNAT_MAP, type="ipv4_addr", map="ipv4_addr")}},
        {"add": {"map": _obj(name=SNAT_MAP, type="ipv4_addr", map="ipv4_addr")}},
        {"add": {"set": _obj(name=INTERNAL_SET, type="ipv4_addr", flags=["interval"])}},
        *nat_pf.map_decls(_obj),
    ]
    for chain, (hook, prio) in CHAINS.items():
        cmds.append({"add": {"chain": _obj(name=chain, type="nat", hook=hook, prio=prio, policy="accept")}})
    dnat = {"dnat": {"addr": _by_map("daddr", DNAT_MAP)}}
    for chain in ("prerouting", "output"):
        cmds += [nat_pf.dnat_rule(_obj, chain), _rule(chain, f"{ROLE}dnat", dnat)]
    cmds += _postrouting_rules(nat)
    if nat.internal_cidrs:
        prefixes = [_prefix(c) for c in nat.internal_cidrs]
        cmds.append({"add": {"element": _elements(INTERNAL_SET, prefixes)}})
    if nat.fips:
        cmds.append({"add": {"element": _elements(DNAT_MAP, [[f, x] for f, x in nat.fips.items()])}})
        cmds.append({"add": {"element": _elements(SNAT_MAP, [[x, f] for f, x in nat.fips.items()])}})
    return cmds + nat_pf.element_cmds("add", _obj, nat.forwardings)


def _prefix(cidr: str) -> Any:
    net = ipaddress.IPv4Network(cidr)
    if net.prefixlen == 32:
        return str(net.network_address)
    return {"prefix": {"addr": str(net.network_address), "len": net.prefixlen}}
