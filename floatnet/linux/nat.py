"""A router's NAT in the kernel: one nftables table per router namespace (layout in :mod:`.nat_render`).

Observe, add, delete, replace — nothing else: no diff and no memory of what the kernel holds (the agent's
planner diffs its view against the desired table and picks the operations). :func:`replace` builds the whole
table in one atomic transaction; one floating IP is two map elements (:func:`add_fip`, :func:`del_fip`), a
port forwarding one element (:func:`add_forwarding`, :func:`del_forwarding`) and an internal network one set
element (:func:`edit_internal`), no rule touched. Element operations never look
anything up (libnftables' ``get element`` loads the whole map first, ~100 ms at 10,000 elements): the caller
names both ends of a pair, and the kernel checks them — a wrong pair fails the transaction as a whole and
changes nothing.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
from collections.abc import Iterable
from typing import Any

from floatnet.linux import nat_pf, nft
from floatnet.linux import netns as _netns
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
    _obj,
    _prefix,
    render,
)

__all__ = [
    "RouterNat", "render", "observe", "replace", "add_fip", "del_fip", "add_forwarding", "del_forwarding",
    "edit_internal", "remove", "listing", "TABLE",
]  # fmt: skip


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
    pf_elems: dict[str, list[Any]] = {}
    for obj in objs:
        if "map" in obj and obj["map"]["name"] in nat_pf.MAPS:
            maps[obj["map"]["name"]] = {}
            pf_elems[obj["map"]["name"]] = obj["map"].get("elem", [])
        elif "map" in obj:
            maps[obj["map"]["name"]] = {k: v for k, v in obj["map"].get("elem", [])}
        elif "set" in obj and obj["set"]["name"] == INTERNAL_SET:
            internal = [c for e in obj["set"].get("elem", []) for c in _elem_value(e).split(",")]
        elif "chain" in obj:
            c = obj["chain"]
            chains[c["name"]] = (c.get("type"), c.get("hook"), c.get("prio"))
        elif "rule" in obj:
            rules.setdefault(obj["rule"]["chain"], []).append(obj["rule"])
    forwardings = nat_pf.parse(pf_elems.get(nat_pf.ADDR_MAP, []), pf_elems.get(nat_pf.PORT_MAP, []))
    return {"maps": maps, "internal": internal, "chains": chains, "forwardings": forwardings}, rules


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
    try:
        parts, rules = _parse(objs)
    except (ValueError, TypeError, KeyError):  # an element floatnet did not write
        return None
    gw_ip, gw_dev, snat = _gateway(rules)
    dnat = parts["maps"].get(DNAT_MAP, {})
    try:
        nat = RouterNat(gw_ip, gw_dev, snat, parts["internal"], dnat, parts["forwardings"])
    except KernelError:
        return None
    snat_map = parts["maps"].get(SNAT_MAP, {})
    want_chains = {name: ("nat", hook, prio) for name, (hook, prio) in CHAINS.items()}
    have_roles = {chain: [r.get("comment", "") for r in rules.get(chain, [])] for chain in CHAINS}
    consistent = snat_map == {x: f for f, x in nat.fips.items()} and set(parts["maps"]) == {
        DNAT_MAP,
        SNAT_MAP,
        *nat_pf.MAPS,
    }
    if parts["chains"] != want_chains or have_roles != nat.roles() or not consistent:
        return None
    return nat


def replace(netns: str, nat: RouterNat) -> None:
    """Make the namespace's table exactly ``nat``: one atomic transaction that deletes the table (if any) and
    builds it again. Existing connections keep their translation (it lives in conntrack). No observation and
    no diff: deciding between this and element edits is the caller's (the agent's planner)."""
    nft.run_json(netns, render(nat), "replace nat table")


def add_fip(netns: str, fip: str, fixed: str) -> None:
    """Map ``fip`` <-> ``fixed``: two map elements in one transaction, no rule touched.

    Adding the same pair again is a no-op; the kernel refuses (``KernelError``, nothing changed: the
    transaction is atomic) when ``fip`` or ``fixed`` is already mapped to another address — free them first
    (:func:`del_fip`). The table must exist (:func:`replace` first).
    """
    fip, fixed = _ip(fip), _ip(fixed)
    cmds = [
        {"add": {"element": _elements(DNAT_MAP, [[fip, fixed]])}},
        {"add": {"element": _elements(SNAT_MAP, [[fixed, fip]])}},
    ]
    nft.run_json(netns, cmds, f"add floating IP {fip}")


def del_fip(netns: str, fip: str, fixed: str) -> None:
    """Remove the pair ``fip`` <-> ``fixed`` (both map elements) in one transaction; ``KernelError``, nothing
    changed, when the kernel does not hold it. Conntrack entries are not touched here: see
    :func:`floatnet.linux.conntrack.flush_address`."""
    fip, fixed = _ip(fip), _ip(fixed)
    cmds = [
        {"delete": {"element": _elements(DNAT_MAP, [fip])}},
        {"delete": {"element": _elements(SNAT_MAP, [fixed])}},
    ]
    nft.run_json(netns, cmds, f"delete floating IP {fip}")


def add_forwarding(netns: str, elements: Iterable[nat_pf.PfElement]) -> None:
    """Add a port forwarding's elements (both maps) in one transaction, no rule touched; the kernel refuses
    (``KernelError``, nothing changed) an element whose key overlaps one already there."""
    cmds = nat_pf.element_cmds("add", _obj, elements)
    if cmds:
        nft.run_json(netns, cmds, "add port forwarding")


def del_forwarding(netns: str, elements: Iterable[nat_pf.PfElement]) -> None:
    """Delete a port forwarding's map elements in one transaction (``KernelError``, nothing changed, when one
    is not there). Its conntrack entries: :func:`floatnet.linux.conntrack.flush_socket`."""
    cmds = nat_pf.element_cmds("delete", _obj, elements)
    if cmds:
        nft.run_json(netns, cmds, "delete port forwarding")


def edit_internal(netns: str, add: Iterable[str] = (), remove: Iterable[str] = ()) -> None:
    """Delete then add internal networks (CIDRs, as :func:`observe` reports them) in one transaction, rules
    untouched; ``KernelError``, nothing changed, when a removed one is not there."""
    gone, new = [_prefix(c) for c in sorted(remove)], [_prefix(c) for c in sorted(add)]
    cmds = [{"delete": {"element": _elements(INTERNAL_SET, gone)}}] if gone else []
    cmds += [{"add": {"element": _elements(INTERNAL_SET, new)}}] if new else []
    if cmds:
        nft.run_json(netns, cmds, "edit internal networks")


def remove(netns: str) -> bool:
    """Delete the table if it exists (a router losing its last NAT); True if it did."""
    if _list(netns) is None:
        return False
    nft.run_json(netns, [_table_cmd("delete")], "delete nat table")
    return True


def listing(netns: str) -> str:
    """``nft list table ip floatnet`` as text, for operators (``router-nat-show``, ``diagnose``)."""
    argv = _netns.exec_argv(netns, ["nft", "list", "table", FAMILY, TABLE])
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    if proc.returncode != 0:
        raise KernelError("list nat table", netns, proc.stderr.strip())
    return proc.stdout
