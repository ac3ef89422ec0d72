"""A router's NAT in the kernel: one nftables table per router namespace (layout in :mod:`.nat_render`).

Full sync (:func:`replace`) is one atomic transaction; one floating IP (:func:`add_fip`, :func:`del_fip`) is
two map elements, no rule touched. libnftables' ``get element`` loads the whole map into its cache first
(~100 ms at 10,000 elements), so the element operations avoid lookups: they use the caller's ``fixed`` or
what this process last wrote or observed in that namespace (a hint, checked by the kernel: a stale hint
makes the transaction fail as a whole, and only then do they look up).
"""

from __future__ import annotations

import ipaddress
import json
import re
import subprocess
import threading
from typing import Any

from floatnet.linux import netns as _netns
from floatnet.linux import nft
from floatnet.linux.errors import KernelError
from floatnet.linux.nat_render import (
    CHAINS,
    DNAT_MAP,
    FAMILY,
    INTERNAL_SET,
    ROLE,
    SNAT_MAP,
    TABLE,
    RouterNat,
    _elements,
    _ip,
    _prefix,
    render,
)

__all__ = ["RouterNat", "render", "observe", "replace", "add_fip", "del_fip", "remove", "listing", "TABLE"]


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
    _hints.reset(netns, dict(nat.fips))
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
    _hints.reset(netns, None)
    if current is None or current.roles() != nat.roles() or current.gateway_ip != nat.gateway_ip:
        nft.run_json(netns, render(nat), "replace nat table")
    else:
        nft.run_json(netns, _element_diff(current, nat), "sync nat elements")
    _hints.reset(netns, dict(nat.fips))
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
        cmds.append({"add": {"element": _elements(INTERNAL_SET, [_prefix(c) for c in sorted(new_nets - old_nets)])}})
    if new:
        cmds.append({"add": {"element": _elements(DNAT_MAP, [[f, x] for f, x in new.items()])}})
        cmds.append({"add": {"element": _elements(SNAT_MAP, [[x, f] for f, x in new.items()])}})
    return cmds


_ELEMENT_RE = re.compile(r"elements = \{ ([0-9.]+) : ([0-9.]+) \}")


class _Hints:
    """Per namespace, the ``{fip: fixed}`` pairs this process last wrote or observed there, both ways."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.fwd: dict[str, dict[str, str]] = {}
        self.rev: dict[str, dict[str, str]] = {}

    def reset(self, netns: str, fips: dict[str, str] | None) -> None:
        with self.lock:
            self.fwd.pop(netns, None)
            self.rev.pop(netns, None)
            if fips is not None:
                self.fwd[netns] = dict(fips)
                self.rev[netns] = {x: f for f, x in fips.items()}

    def fixed_of(self, netns: str, fip: str) -> str | None:
        with self.lock:
            return self.fwd.get(netns, {}).get(fip)

    def fip_of(self, netns: str, fixed: str) -> str | None:
        with self.lock:
            return self.rev.get(netns, {}).get(fixed)

    def set(self, netns: str, fip: str, fixed: str | None) -> None:
        """Record ``fip`` -> ``fixed`` (None: unmapped), dropping the pairs it replaces."""
        with self.lock:
            fwd, rev = self.fwd.setdefault(netns, {}), self.rev.setdefault(netns, {})
            old_fixed = fwd.pop(fip, None)
            if old_fixed is not None:
                rev.pop(old_fixed, None)
            if fixed is not None:
                old_fip = rev.pop(fixed, None)
                if old_fip is not None:
                    fwd.pop(old_fip, None)
                fwd[fip], rev[fixed] = fixed, fip


_hints = _Hints()
_netns.on_forget(lambda name: _hints.reset(name, None))


def _get(netns: str, name: str, key: str) -> str | None:
    """One map element's value, or None if absent (slow on big maps: libnftables caches the map first)."""
    try:
        out = nft.run(netns, f"get element {FAMILY} {TABLE} {name} {{ {_ip(key)} }}", f"get {name} element")
    except nft.NftError as exc:
        if "No such file or directory" in exc.detail:
            return None
        raise
    found = _ELEMENT_RE.search(out)
    return found.group(2) if found and found.group(1) == key else None


def _del(name: str, key: str) -> dict[str, Any]:
    return {"delete": {"element": _elements(name, [key])}}


def _add_pair(fip: str, fixed: str) -> list[dict[str, Any]]:
    return [
        {"add": {"element": _elements(DNAT_MAP, [[fip, fixed]])}},
        {"add": {"element": _elements(SNAT_MAP, [[fixed, fip]])}},
    ]


def _unlink(fip: str, fixed: str, old_fixed: str | None, old_fip: str | None) -> list[dict[str, Any]]:
    """Deletes freeing ``fip`` and ``fixed`` from their previous pairs (``old_*``: their current partners)."""
    cmds = []
    if old_fixed is not None and old_fixed != fixed:
        cmds += [_del(DNAT_MAP, fip), _del(SNAT_MAP, old_fixed)]
    if old_fip is not None and old_fip != fip:
        cmds += [_del(SNAT_MAP, fixed), _del(DNAT_MAP, old_fip)]
    return cmds


def add_fip(netns: str, fip: str, fixed: str) -> None:
    """Map ``fip`` <-> ``fixed``: two map elements in one transaction, no rule touched. Idempotent.

    A floating IP moving to another fixed IP (or a fixed IP getting another floating IP) drops the old pair
    in the same transaction. The table must exist (:func:`replace` first).
    """
    fip, fixed = _ip(fip), _ip(fixed)
    hinted = _unlink(fip, fixed, _hints.fixed_of(netns, fip), _hints.fip_of(netns, fixed))
    try:
        nft.run_json(netns, hinted + _add_pair(fip, fixed), f"add floating IP {fip}")
    except nft.NftError as exc:
        if "File exists" not in exc.detail and "No such file or directory" not in exc.detail:
            raise
        old_fixed, old_fip = _get(netns, DNAT_MAP, fip), _get(netns, SNAT_MAP, fixed)
        cmds = _unlink(fip, fixed, old_fixed, old_fip)
        nft.run_json(netns, cmds + _add_pair(fip, fixed), f"move floating IP {fip}")
    _hints.set(netns, fip, fixed)


def del_fip(netns: str, fip: str, fixed: str | None = None) -> bool:
    """Remove ``fip``'s two map elements in one transaction; False if it was not there. Idempotent.

    ``fixed`` (optional; else this process's hint) saves a lookup. Conntrack entries are not touched here:
    see :func:`floatnet.linux.conntrack.flush_address`.
    """
    fip = _ip(fip)
    guess = _ip(fixed) if fixed is not None else _hints.fixed_of(netns, fip)
    if guess is not None:
        try:
            nft.run_json(netns, [_del(DNAT_MAP, fip), _del(SNAT_MAP, guess)], f"delete floating IP {fip}")
            _hints.set(netns, fip, None)
            return True
        except nft.NftError as exc:
            if "No such file or directory" not in exc.detail:
                raise
    current = _get(netns, DNAT_MAP, fip)
    _hints.set(netns, fip, None)
    if current is None:
        return False
    cmds: list[dict[str, Any]] = [_del(DNAT_MAP, fip)]
    if _get(netns, SNAT_MAP, current) == fip:
        cmds.append(_del(SNAT_MAP, current))
    nft.run_json(netns, cmds, f"delete floating IP {fip}")
    return True


def remove(netns: str) -> bool:
    """Delete the table if it exists (a router losing its last NAT); True if it did."""
    if _list(netns) is None:
        return False
    nft.run_json(netns, [_table_cmd("delete")], "delete nat table")
    _hints.reset(netns, None)
    return True


def listing(netns: str) -> str:
    """``nft list table ip floatnet`` as text, for operators (``router-nat-show``, ``diagnose``)."""
    argv = _netns.exec_argv(netns, ["nft", "list", "table", FAMILY, TABLE])
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    if proc.returncode != 0:
        raise KernelError("list nat table", netns, proc.stderr.strip())
    return proc.stdout
