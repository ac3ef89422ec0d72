"""A router's NAT: one nftables table per router namespace, floating IPs in maps (see docs/linux-api.md).

```
table ip floatnet {
  map fip_dnat { type ipv4_addr : ipv4_addr }      floating IP -> fixed IP
  map fip_snat { type ipv4_addr : ipv4_addr }      fixed IP -> floating IP
  set internal { type ipv4_addr; flags interval }  the router's internal subnets
  chain prerouting  (nat, dstnat)  dnat to ip daddr map @fip_dnat
  chain output      (nat, -100)    dnat to ip daddr map @fip_dnat          (the router's own probes)
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
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from floatnet.linux import nft
from floatnet.linux.errors import KernelError

FAMILY = "ip"
TABLE = "floatnet"
DNAT_MAP = "fip_dnat"
SNAT_MAP = "fip_snat"
INTERNAL_SET = "internal"
CHAINS = {"prerouting": ("prerouting", -100), "output": ("output", -100), "postrouting": ("postrouting", 100)}
ROLE = "floatnet:"


def _ip(value: str) -> str:
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
    ``enable_snat`` is False. ``fips`` maps floating IP -> fixed IP.
    """

    gateway_ip: str | None
    gateway_dev: str | None
    enable_snat: bool = True
    internal_cidrs: tuple[str, ...] = ()
    fips: Mapping[str, str] = field(default_factory=dict)

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

    def roles(self) -> dict[str, list[str]]:
        """The rule comments each chain must hold, in order: the table's structure for this configuration."""
        post = []
        if self.gateway_dev:
            post.append(f"{ROLE}fip-snat gw={self.gateway_ip}")
        post += [f"{ROLE}hairpin-fip", f"{ROLE}hairpin"]
        if self.enable_snat:
            post.append(f"{ROLE}snat")
        return {"prerouting": [f"{ROLE}dnat"], "output": [f"{ROLE}dnat"], "postrouting": post}


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
    ]
    for chain, (hook, prio) in CHAINS.items():
        cmds.append({"add": {"chain": _obj(name=chain, type="nat", hook=hook, prio=prio, policy="accept")}})
    dnat = {"dnat": {"addr": _by_map("daddr", DNAT_MAP)}}
    cmds += [_rule("prerouting", f"{ROLE}dnat", dnat), _rule("output", f"{ROLE}dnat", dnat)]
    cmds += _postrouting_rules(nat)
    if nat.internal_cidrs:
        prefixes = [_prefix(c) for c in nat.internal_cidrs]
        cmds.append({"add": {"element": _elements(INTERNAL_SET, prefixes)}})
    if nat.fips:
        cmds.append({"add": {"element": _elements(DNAT_MAP, [[f, x] for f, x in nat.fips.items()])}})
        cmds.append({"add": {"element": _elements(SNAT_MAP, [[x, f] for f, x in nat.fips.items()])}})
    return cmds


def _prefix(cidr: str) -> Any:
    net = ipaddress.IPv4Network(cidr)
    if net.prefixlen == 32:
        return str(net.network_address)
    return {"prefix": {"addr": str(net.network_address), "len": net.prefixlen}}


def _table_cmd(op: str) -> dict[str, Any]:
    return {op: {"table": {"family": FAMILY, "name": TABLE}}}


def _list(netns: str) -> list[dict[str, Any]] | None:
    """The table's objects from ``list table`` (JSON), or None if there is no such table."""
    try:
        out = nft.run_json(netns, [{"list": {"table": {"family": FAMILY, "name": TABLE}}}], "list nat table")
    except nft.NftError as exc:
        if "No such file or directory" in exc.detail:
            return None
        raise
    return list(json.loads(out)["nftables"])


def _elem_value(elem: Any) -> str:
    if isinstance(elem, dict) and "prefix" in elem:
        return f"{elem['prefix']['addr']}/{elem['prefix']['len']}"
    if isinstance(elem, dict) and "range" in elem:
        lo, hi = (ipaddress.IPv4Address(a) for a in elem["range"])
        return ",".join(str(n) for n in ipaddress.summarize_address_range(lo, hi))
    return f"{elem}/32"


def _parse(objs: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """Split a listing into ``{"maps", "internal", "chains"}`` and the rules of each chain, in order."""
    maps: dict[str, dict[str, str]] = {}
    internal: list[str] = []
    chains: dict[str, tuple[Any, ...]] = {}
    rules: dict[str, list[dict[str, Any]]] = {}
    for obj in objs:
        if "map" in obj:
            maps[obj["map"]["name"]] = {k: v for k, v in obj["map"].get("elem", [])}
        elif "set" in obj and obj["set"]["name"] == INTERNAL_SET:
            internal = [c for e in obj["set"].get("elem", []) for c in _elem_value(e).split(",")]
        elif "chain" in obj:
            c = obj["chain"]
            chains[c["name"]] = (c.get("type"), c.get("hook"), c.get("prio"))
        elif "rule" in obj:
            rules.setdefault(obj["rule"]["chain"], []).append(obj["rule"])
    return {"maps": maps, "internal": internal, "chains": chains}, rules


def _gateway(rules: dict[str, list[dict[str, Any]]]) -> tuple[str | None, str | None, bool]:
    """(gateway_ip, gateway_dev, enable_snat) read back from the postrouting rules' comments and matches."""
    gw_ip = gw_dev = None
    snat = False
    for rule in rules.get("postrouting", []):
        comment = rule.get("comment", "")
        if comment.startswith(f"{ROLE}fip-snat gw="):
            gw_ip = comment.split("gw=", 1)[1]
            for e in rule["expr"]:
                if "match" in e and e["match"]["left"] == {"meta": {"key": "oifname"}}:
                    gw_dev = e["match"]["right"]
        elif comment == f"{ROLE}snat":
            snat = any(e.get("snat", {}).get("addr") == gw_ip for e in rule["expr"])
    return gw_ip, gw_dev, snat


def observe(netns: str) -> RouterNat | None:
    """What the kernel holds, or None if there is no table or it is not the structure floatnet renders."""
    objs = _list(netns)
    if objs is None:
        return None
    parts, rules = _parse(objs)
    gw_ip, gw_dev, snat = _gateway(rules)
    dnat = parts["maps"].get(DNAT_MAP, {})
    try:
        nat = RouterNat(gw_ip, gw_dev, snat, parts["internal"], dnat)
    except KernelError:
        return None
    snat_map = parts["maps"].get(SNAT_MAP, {})
    want_chains = {name: ("nat", hook, prio) for name, (hook, prio) in CHAINS.items()}
    have_roles = {chain: [r.get("comment", "") for r in rules.get(chain, [])] for chain in CHAINS}
    consistent = snat_map == {x: f for f, x in nat.fips.items()} and set(parts["maps"]) == {
        DNAT_MAP,
        SNAT_MAP,
    }
    if parts["chains"] != want_chains or have_roles != nat.roles() or not consistent:
        return None
    return nat


def replace(netns: str, nat: RouterNat) -> bool:
    """Make the namespace's table exactly ``nat``, atomically; returns False if it already was (no-op).

    Same structure (gateway, SNAT): one transaction of element deletes/adds, chains untouched. Otherwise (no
    table, other gateway, drift): one transaction that deletes and re-creates the whole table. Existing
    connections keep their translation either way (it lives in conntrack).
    """
    current = observe(netns)
    if current == nat:
        return False
    if current is None or current.roles() != nat.roles() or current.gateway_ip != nat.gateway_ip:
        nft.run_json(netns, render(nat), "replace nat table")
        return True
    nft.run_json(netns, _element_diff(current, nat), "sync nat elements")
    return True


def _element_diff(current: RouterNat, nat: RouterNat) -> list[dict[str, Any]]:
    cmds: list[dict[str, Any]] = []
    gone = {f: x for f, x in current.fips.items() if nat.fips.get(f) != x}
    new = {f: x for f, x in nat.fips.items() if current.fips.get(f) != x}
    old_nets, new_nets = set(current.internal_cidrs), set(nat.internal_cidrs)
    if old_nets - new_nets:
        prefixes = [_prefix(c) for c in sorted(old_nets - new_nets)]
        cmds.append({"delete": {"element": _elements(INTERNAL_SET, prefixes)}})
    if gone:
        cmds.append({"delete": {"element": _elements(DNAT_MAP, list(gone))}})
        cmds.append({"delete": {"element": _elements(SNAT_MAP, list(gone.values()))}})
    if new_nets - old_nets:
        cmds.append(
            {"add": {"element": _elements(INTERNAL_SET, [_prefix(c) for c in sorted(new_nets - old_nets)])}}
        )
    if new:
        cmds.append({"add": {"element": _elements(DNAT_MAP, [[f, x] for f, x in new.items()])}})
        cmds.append({"add": {"element": _elements(SNAT_MAP, [[x, f] for f, x in new.items()])}})
    return cmds


_ELEMENT_RE = re.compile(r"elements = \{ ([0-9.]+) : ([0-9.]+) \}")


def _get(netns: str, name: str, key: str) -> str | None:
    """The value of one map element (one netlink lookup, not a listing), or None if absent."""
    try:
        out = nft.run(netns, f"get element {FAMILY} {TABLE} {name} {{ {_ip(key)} }}", f"get {name} element")
    except nft.NftError as exc:
        if "No such file or directory" in exc.detail:
            return None
        raise
    found = _ELEMENT_RE.search(out)
    return found.group(2) if found and found.group(1) == key else None


def _delete_pair(fip: str, fixed: str) -> list[dict[str, Any]]:
    return [
        {"delete": {"element": _elements(DNAT_MAP, [fip])}},
        {"delete": {"element": _elements(SNAT_MAP, [fixed])}},
    ]


def _add_pair(fip: str, fixed: str) -> list[dict[str, Any]]:
    return [
        {"add": {"element": _elements(DNAT_MAP, [[fip, fixed]])}},
        {"add": {"element": _elements(SNAT_MAP, [[fixed, fip]])}},
    ]


def add_fip(netns: str, fip: str, fixed: str) -> None:
    """Map ``fip`` <-> ``fixed``: two map elements in one transaction, no rule touched. Idempotent.

    A floating IP moving to another fixed IP (or a fixed IP getting another floating IP) replaces the old
    pair in the same transaction. The table must exist (:func:`replace` first).
    """
    fip, fixed = _ip(fip), _ip(fixed)
    try:
        nft.run_json(netns, _add_pair(fip, fixed), f"add floating IP {fip}")
        return
    except nft.NftError as exc:
        if "File exists" not in exc.detail:
            raise
    cmds: list[dict[str, Any]] = []
    old_fixed = _get(netns, DNAT_MAP, fip)
    if old_fixed is not None and old_fixed != fixed:
        cmds.append({"delete": {"element": _elements(DNAT_MAP, [fip])}})
        if _get(netns, SNAT_MAP, old_fixed) == fip:
            cmds.append({"delete": {"element": _elements(SNAT_MAP, [old_fixed])}})
    old_fip = _get(netns, SNAT_MAP, fixed)
    if old_fip is not None and old_fip != fip:
        cmds.append({"delete": {"element": _elements(SNAT_MAP, [fixed])}})
        if _get(netns, DNAT_MAP, old_fip) == fixed:
            cmds.append({"delete": {"element": _elements(DNAT_MAP, [old_fip])}})
    nft.run_json(netns, cmds + _add_pair(fip, fixed), f"move floating IP {fip}")


def del_fip(netns: str, fip: str, fixed: str | None = None) -> bool:
    """Remove ``fip``'s two map elements in one transaction; False if it was not there. Idempotent.

    ``fixed`` (optional) saves a lookup; the ``fip_snat`` element is removed only if it still points at
    ``fip``. Conntrack entries are not touched here: see :func:`floatnet.linux.conntrack.flush_address`.
    """
    fip = _ip(fip)
    if fixed is not None:
        try:
            nft.run_json(netns, _delete_pair(fip, _ip(fixed)), f"delete floating IP {fip}")
            return True
        except nft.NftError as exc:
            if "No such file or directory" not in exc.detail:
                raise
    current = _get(netns, DNAT_MAP, fip)
    if current is None:
        return False
    cmds: list[dict[str, Any]] = [{"delete": {"element": _elements(DNAT_MAP, [fip])}}]
    if _get(netns, SNAT_MAP, current) == fip:
        cmds.append({"delete": {"element": _elements(SNAT_MAP, [current])}})
    nft.run_json(netns, cmds, f"delete floating IP {fip}")
    return True


def remove(netns: str) -> bool:
    """Delete the table if it exists (a router losing its last NAT); True if it did."""
    if _list(netns) is None:
        return False
    nft.run_json(netns, [_table_cmd("delete")], "delete nat table")
    return True


def listing(netns: str) -> str:
    """``nft list table ip floatnet`` as text, for operators (``router-nat-show``, ``diagnose``)."""
    import subprocess

    from floatnet.linux import netns as _netns

    argv = _netns.exec_argv(netns, ["nft", "list", "table", FAMILY, TABLE])
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    if proc.returncode != 0:
        raise KernelError("list nat table", netns, proc.stderr.strip())
    return proc.stdout
