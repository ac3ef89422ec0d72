"""Security groups enforced in the kernel: per-port hybrid plug, nftables filter, conntrack cut.

The small API the agent calls (all idempotent, :class:`KernelError` on failure; ``netns`` is where OVS and
the instances' taps live: None in production, the test OVS's namespace in tests):

- :func:`ensure_plug` / :func:`delete_plug`: ``tap`` -- ``qbr<id>`` -- ``qvb<id>``/``qvo<id>`` (plug ``qvo``
  into OVS instead of the tap), with br_netfilter switched on in ``netns``.
- :func:`replace_port` / :func:`delete_port`: one port's anti-spoofing and stateful chains.
- :func:`replace_group` / :func:`delete_group`: one group's rules (every port of the group jumps to them).
- :func:`add_members` / :func:`remove_members`: remote-group membership, one set element per address.
- :func:`observe`: what is installed (fingerprints, zones, members) for drift repair.
- :func:`cut_zone` / :func:`cut_rules`: delete the conntrack entries a removed port or rules admitted.

Rendering is pure and lives in :mod:`floatnet.linux.sg_render`; docs/security-groups.md has the design.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import socket
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pyroute2 import IPRoute
from pyroute2.conntrack import Conntrack, ConntrackEntry
from pyroute2.netlink.exceptions import NetlinkError

from floatnet.linux import links, nft, nft_elements
from floatnet.linux import netns as _netns
from floatnet.linux import sg_render as r
from floatnet.linux.conntrack import delete_entries, zone_entries
from floatnet.linux.errors import KernelError

BR_NF_SYSCTLS = ("net/bridge/bridge-nf-call-iptables", "net/bridge/bridge-nf-call-ip6tables")


def _nft(netns: str | None | None, text: str, what: str) -> str:
    """Run nft text in ``netns`` (None: the agent's own namespace, through the ``nft`` tool).

    With the tool, a ``list`` is passed as arguments with ``-j`` (JSON out) and anything else is piped to
    ``nft -f -``: nft 1.0 given ``-j -f -`` reads a pipe as a JSON document first, so a piped ``list`` printed
    nothing and a piped transaction failed at line 1 — an agent whose OVS runs in its own namespace (every
    lab node) neither saw nor installed a port filter.
    """
    if netns is not None:
        return nft.run(netns, text, what)
    listing = text.lstrip().startswith("list ")
    argv = ["nft", "-j", *text.split()] if listing else ["nft", "-f", "-"]
    try:
        proc = subprocess.run(argv, input=None if listing else text, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise KernelError(what, "host", exc) from exc
    if proc.returncode != 0:
        raise nft.NftError(what, "host", proc.stderr.strip() or f"nft returned {proc.returncode}")
    return proc.stdout


def _run(netns: str | None | None, lines: list[str], what: str) -> None:
    """One atomic nft transaction (all lines apply or none)."""
    _nft(netns, "\n".join(lines) + "\n", what)


def ensure_tables(netns: str | None) -> None:
    """Create both tables and their base chains (idempotent; re-writes only the three base chains)."""
    _run(netns, r.skeleton(), "sg tables")


def _elem_text(elem: Any) -> str:
    """One element of a concatenated set (``tap . value``) as nft text, from nft's JSON."""
    value = elem.get("elem", {}).get("val", elem) if isinstance(elem, dict) and "elem" in elem else elem
    parts = value["concat"] if isinstance(value, dict) and "concat" in value else [value]
    out = []
    for part in parts:
        if isinstance(part, dict) and "prefix" in part:
            out.append(f"{part['prefix']['addr']}/{part['prefix']['len']}")
        elif isinstance(part, dict) and "range" in part:
            out.append(f"{part['range'][0]}-{part['range'][1]}")
        else:
            out.append(f'"{part}"' if part == parts[0] else str(part))
    return " . ".join(out)


def _bridge_delete_lines(netns: str | None, tap: str, marks: tuple[str, ...] = ()) -> list[str]:
    """Delete lines for the bridge-table elements the kernel holds for this port (read back, not assumed):
    its anti-spoofing elements and the ``port_mark`` keys among ``marks``. Replacing the marks in the same
    transaction keeps a port whose zone was lost with the inet table (and is allocated anew) from clashing
    with its old marks."""
    bridge = _list(netns, "bridge")
    lines = []
    for name in ("filtered", "port_macs", "port_src4", "port_src6"):
        mine = [t for t in map(_elem_text, _elems(bridge, "set", name)) if t.startswith(f'"{tap}"')]
        if mine:
            lines.append(f"delete element bridge {r.TABLE} {name} {{ {', '.join(mine)} }}")
    marked = [f'"{key}"' for key, _ in _pairs(_elems(bridge, "map", "port_mark")) if key in marks]
    if marked:
        lines.append(f"delete element bridge {r.TABLE} port_mark {{ {', '.join(marked)} }}")
    return lines


def replace_port(netns: str | None, port: r.PortFilter) -> None:
    """Install or replace one port's filter in one transaction (tables created on first use).

    A port whose zone changed is deleted first (map elements cannot change value in place)."""
    try:
        lines = [*r.skeleton(), *_bridge_delete_lines(netns, port.tap, (port.tap, r.qvb_dev(port.port_id))),
                 *r.port_lines(port)]
        _run(netns, lines, f"sg port {port.port_id}")
    except nft.NftError:
        old = observe(netns).ports.get(port.port_id)
        if old is None or old.zone == port.zone and old.stateful == port.stateful:
            raise
        delete_port(netns, port.port_id)
        _run(netns, r.port_lines(port), f"sg port {port.port_id}")


def delete_port(netns: str | None, port_id: str) -> bool:
    """Remove one port's filter; False if it had none."""
    old = observe(netns).ports.get(port_id)
    if old is None:
        return False
    lines = [*_bridge_delete_lines(netns, old.tap), *r.port_delete_lines(port_id, old.zone, old.tap, old.stateful)]
    _run(netns, lines, f"sg delete port {port_id}")
    return True


def replace_group(netns: str | None, group: r.GroupRules) -> None:
    """Install or replace one group's rules: touches that group's two chains only. The tables' skeleton (base
    chains flushed and re-added) is sent only when the group's transaction fails without it (the tables do not
    exist yet): a rule change costs its group's lines, not the base chains'."""
    what = f"sg group {group.group_id}"
    try:
        _run(netns, r.group_lines(group), what)
    except nft.NftError:
        _run(netns, [*r.skeleton(), *r.group_lines(group)], what)


def delete_group(netns: str | None, group_id: str) -> bool:
    """Remove a group's chains and member sets (no port may still use it); False if absent."""
    if group_id not in observe(netns).groups:
        return False
    lines = [f"delete chain inet {r.TABLE} {r.group_chain(group_id, d)}" for d in ("ingress", "egress")]
    lines += [f"delete set inet {r.TABLE} {r.group_set(group_id, v)}" for v in (4, 6)]
    _run(netns, lines, f"sg delete group {group_id}")
    return True


def add_members(netns: str | None, group_id: str, addresses: Iterable[str]) -> None:
    """Add member addresses to a group's set (one element each; present ones are no-ops), over nf_tables
    netlink (:mod:`floatnet.linux.nft_elements`: no ruleset listing, whatever the node's size)."""
    keys = r.member_keys(group_id, addresses)
    try:
        nft_elements.edit(netns, "add", r.TABLE, keys)
    except nft_elements.ElementError as exc:
        if exc.code != errno.ENOENT:
            raise
        _run(netns, [*r.skeleton(), *r.group_sets(group_id)], f"sg members {group_id}")  # its sets: not yet
        nft_elements.edit(netns, "add", r.TABLE, keys)


def remove_members(netns: str | None, group_id: str, addresses: Iterable[str]) -> None:
    """Remove member addresses from a group's set; absent ones are ignored (one batch if all exist)."""
    wanted = list(addresses)
    try:
        nft_elements.edit(netns, "delete", r.TABLE, r.member_keys(group_id, wanted))
    except nft_elements.ElementError as exc:
        if exc.code != errno.ENOENT:
            raise
        present = _set_members(netns, group_id)
        nft_elements.edit(netns, "delete", r.TABLE, r.member_keys(group_id, [a for a in wanted
                                                                             if r._host(a) in present]))  # fmt: skip


def _set_members(netns: str | None, group_id: str) -> set[str]:
    found: set[str] = set()
    for version in (4, 6):
        try:
            out = _nft(netns, f"list set inet {r.TABLE} {r.group_set(group_id, version)}", "sg members")
        except nft.NftError:
            continue
        for item in json.loads(out or '{"nftables": []}')["nftables"]:
            found.update(str(e) for e in (item.get("set") or {}).get("elem", []))
    return found


@dataclass(frozen=True)
class InstalledPort:
    """A port's filter as read back from the kernel."""

    zone: int
    tap: str
    stateful: bool
    fingerprint: str | None
    parts: frozenset[str] = frozenset()  # its map/set elements, canonical (sg_render.port_parts when intact)


@dataclass
class Installed:
    """What the node's tables hold: ports (by id), groups (id -> fingerprint) and members (id -> addresses)."""

    ports: dict[str, InstalledPort] = field(default_factory=dict)
    groups: dict[str, str | None] = field(default_factory=dict)
    members: dict[str, set[str]] = field(default_factory=dict)


def _list(netns: str | None, family: str) -> list[dict[str, Any]]:
    try:
        out = _nft(netns, f"list table {family} {r.TABLE}", "sg observe")
    except nft.NftError as exc:
        if "No such file" in exc.detail:
            return []
        raise
    return [item for item in json.loads(out or '{"nftables": []}')["nftables"]]


def _fingerprints(items: list[dict[str, Any]]) -> dict[str, str | None]:
    """Chain name -> the fingerprint its final rule's comment carries (``fp:<hash>/<rules>``); None when that
    rule is missing or the chain no longer holds that many rules (one was added or deleted by hand)."""
    stamps: dict[str, str | None] = {}
    counts: dict[str, int] = {}
    for item in items:
        chain = item.get("chain") or {}
        if chain:
            stamps.setdefault(chain["name"], None)
        rule = item.get("rule") or {}
        if rule:
            counts[rule["chain"]] = counts.get(rule["chain"], 0) + 1
        if str(rule.get("comment", "")).startswith("fp:"):
            stamps[rule["chain"]] = rule["comment"][3:]
    prints: dict[str, str | None] = {}
    for name, stamp in stamps.items():
        fingerprint, _, rules = (stamp or "").partition("/")
        prints[name] = fingerprint if stamp and rules == str(counts.get(name, 0)) else None
    return prints


def _both(prints: dict[str, str | None], inbound: str, outbound: str) -> str | None:
    """The fingerprint of a pair of chains: None unless both carry the same one."""
    found = prints.get(inbound)
    return found if found == prints.get(outbound) else None


def _port_parts(bridge: list[dict[str, Any]], inet: list[dict[str, Any]]) -> dict[int, set[str]]:
    """Conntrack zone -> the canonical elements (:func:`sg_render.port_parts`) found for the port using it."""
    zones = {int(k): int(v) for k, v in _pairs(_elems(inet, "map", "zone"))}
    tap_of = {int(v): str(k) for k, v in _pairs(_elems(bridge, "map", "port_mark")) if int(v) & r.MARK_EGRESS}
    spoof: dict[str, set[str]] = {}
    for name in ("port_macs", "port_src4", "port_src6"):
        for text in map(_elem_text, _elems(bridge, "set", name)):
            tap, _, value = text.partition(" . ")
            spoof.setdefault(tap.strip('"'), set()).add(f"{name} {r.canonical(value)}")
    for tap in _elems(bridge, "set", "filtered"):
        spoof.setdefault(str(tap), set()).add("filtered")
    parts: dict[int, set[str]] = {}
    for mark, zone in zones.items():
        parts.setdefault(zone, set()).add(f"zone {mark:#x} {zone}")
    for name, mark in _pairs(_elems(bridge, "map", "port_mark")):
        parts.setdefault(int(mark) & r.ZONE_MAX, set()).add(f"mark {name} {int(mark):#x}")
    for mark, verdict in _pairs(_elems(inet, "map", "dispatch")):
        target = (verdict.get("jump") or {}).get("target")
        parts.setdefault(int(mark) & r.ZONE_MAX, set()).add(f"dispatch {int(mark):#x} {target}")
    for mark in _elems(inet, "set", "stateless"):
        parts.setdefault(int(mark) & r.ZONE_MAX, set()).add(f"stateless {int(mark):#x}")
    for mark, tap in tap_of.items():
        parts.setdefault(mark & r.ZONE_MAX, set()).update(spoof.get(tap, ()))
    return parts


def _elems(items: list[dict[str, Any]], kind: str, name: str) -> list[Any]:
    for item in items:
        obj = item.get(kind) or {}
        if obj.get("name") == name:
            return list(obj.get("elem", []))
    return []


def observe(netns: str | None) -> Installed:
    """Read the installed ports, groups and members back (fingerprints from the chains' comment rules, each
    port's map and set elements as :func:`sg_render.port_parts` spells them)."""
    inet, bridge = _list(netns, "inet"), _list(netns, "bridge")
    prints, parts = _fingerprints(inet), _port_parts(bridge, inet)
    zones = {int(k): int(v) for k, v in _pairs(_elems(inet, "map", "zone"))}
    notrack = {int(m) for m in _elems(inet, "set", "stateless")}
    taps = {int(v): str(k) for k, v in _pairs(_elems(bridge, "map", "port_mark"))}
    chains = {int(k): str((v.get("jump") or {}).get("target")) for k, v in _pairs(_elems(inet, "map", "dispatch"))}
    found = Installed()
    for mark, zone in zones.items():
        name = chains.get(mark, "")
        if mark & r.MARK_EGRESS and name.startswith("port-") and name.endswith("-out"):
            pid = name[len("port-") : -len("-out")]
            fp = _both(prints, r.port_chain(pid, "ingress"), name)
            stateful = mark not in notrack
            found.ports[pid] = InstalledPort(zone, taps.get(mark, ""), stateful, fp, frozenset(parts.get(zone, ())))
    for name in prints:
        if name.startswith("sg-") and name.endswith("-in"):
            group_id = name[3:-3]
            found.groups[group_id] = _both(prints, name, r.group_chain(group_id, "egress"))
    for item in inet:
        s = item.get("set") or {}
        if s.get("name", "").startswith(("rg4-", "rg6-")):
            found.members.setdefault(s["name"][4:], set()).update(str(e) for e in s.get("elem", []))
    return found


def _pairs(elems: list[Any]) -> list[tuple[Any, Any]]:
    """The ``[key, value]`` elements of a map listed by nft's JSON."""
    return [(e[0], e[1]) for e in elems if isinstance(e, list) and len(e) == 2]


def _sysctl_on(keys: tuple[str, ...]) -> None:
    for key in keys:
        with open(f"/proc/sys/{key}", "r+b", buffering=0) as f:
            if f.read().strip() != b"1":
                f.seek(0)
                f.write(b"1")


def _plug(ipr: IPRoute, port_id: str, tap: str) -> None:
    qbr, qvb, qvo = r.bridge_dev(port_id), r.qvb_dev(port_id), r.qvo_dev(port_id)
    if not ipr.link_lookup(ifname=qbr):
        ipr.link("add", ifname=qbr, kind="bridge")
    if not ipr.link_lookup(ifname=qvb) or not ipr.link_lookup(ifname=qvo):
        for stale in (qvb, qvo):
            for idx in ipr.link_lookup(ifname=stale):
                ipr.link("del", index=idx)
        ipr.link("add", ifname=qvb, kind="veth", peer={"ifname": qvo})
    master = ipr.link_lookup(ifname=qbr)[0]
    for dev in (tap, qvb):
        ipr.link("set", index=ipr.link_lookup(ifname=dev)[0], master=master, state="up")
    for dev in (qbr, qvo):
        ipr.link("set", index=ipr.link_lookup(ifname=dev)[0], state="up")


def ensure_plug(netns: str | None, port_id: str, tap: str | None = None) -> str:
    """Ensure ``tap`` -- ``qbr`` -- ``qvb``/``qvo`` in ``netns`` (the tap must exist); returns ``qvo``, the
    device to plug into OVS in the tap's place. Switches br_netfilter on for the namespace: without it the
    inet hooks never see bridged packets and nothing is filtered (fail-open), so a failure raises."""
    tap = tap or "tap" + port_id[: r.ID_CHARS]

    def body() -> None:
        _sysctl_on(BR_NF_SYSCTLS)
        with IPRoute() as ipr:
            if not ipr.link_lookup(ifname=tap):
                raise KernelError("plug", tap, "the instance's tap does not exist")
            _plug(ipr, port_id, tap)

    try:
        _netns.run_in(netns, body)
    except (NetlinkError, OSError) as exc:
        raise KernelError("plug", f"{port_id} (netns {netns or 'root'})", exc) from exc
    return r.qvo_dev(port_id)


def delete_plug(netns: str | None, port_id: str) -> None:
    """Remove ``qbr`` and the ``qvb``/``qvo`` pair of a port (the tap is the hypervisor's and stays)."""
    for dev in (r.qvb_dev(port_id), r.bridge_dev(port_id)):
        links.delete_link(dev, netns)


def _ct(netns: str | None, op: str, fn: Any) -> int:
    def body() -> int:
        total = 0
        for family in (socket.AF_INET, socket.AF_INET6):
            with Conntrack(nfgen_family=family) as ct:
                total += int(fn(ct))
        return total

    try:
        return int(_netns.run_in(netns, body))
    except (NetlinkError, OSError) as exc:
        raise KernelError(op, f"netns {netns or 'root'}", exc) from exc


def cut_zone(netns: str | None, zone: int) -> int:
    """Delete every conntrack entry of a port's zone (port deleted, or port security turned off)."""
    return _ct(netns, "conntrack cut zone", lambda ct: delete_entries(ct, zone_entries(ct, {zone})))


def _rule_admits(entry: ConntrackEntry, rule: r.Rule, local: list[Any]) -> bool:
    """Would ``rule`` have admitted the flow of ``entry`` (seen from a port whose addresses are ``local``)?"""
    orig = entry.tuple_orig
    try:
        src, dst = ipaddress.ip_address(orig.saddr), ipaddress.ip_address(orig.daddr)
    except (TypeError, ValueError):
        return False
    mine, remote = (dst, src) if rule.direction == "ingress" else (src, dst)
    if mine.version != (6 if rule.ethertype == "IPv6" else 4) or not any(mine in n for n in local):
        return False
    if rule.remote_ip_prefix and remote not in ipaddress.ip_network(rule.remote_ip_prefix):
        return False
    proto = rule.proto_number()
    if proto is not None and orig.proto != proto:
        return False
    lo, hi = rule.port_range_min, rule.port_range_max
    if proto in r.PORT_PROTOCOLS.values() and lo is not None:
        return lo <= int(orig.dport or 0) <= (hi if hi is not None else lo)
    return True


def cut_rules(netns: str | None, rules: Iterable[r.Rule], ports: Iterable[r.PortFilter]) -> int:
    """Delete the conntrack entries one of ``rules`` may have admitted on ``ports`` (the ports of their group
    on this node), as Neutron does when a rule goes: matched by zone, direction, addresses, protocol and port
    range. A remote-group rule cuts every matching flow of the port (members may have changed since). Only
    those ports' zones are dumped (:func:`floatnet.linux.conntrack.zone_entries`), once for all the rules."""
    by_zone = {p.zone: [ipaddress.ip_network(n) for n in (*p.sources(4), *p.sources(6))] for p in ports}
    cut = tuple(rules)

    def body(ct: Conntrack) -> int:
        entries = zone_entries(ct, by_zone)
        return delete_entries(ct, [e for e in entries if any(_rule_admits(e, x, by_zone[e.zone]) for x in cut)])

    return _ct(netns, "conntrack cut rule", body)


def count_zone(netns: str | None, zone: int) -> int:
    """How many conntrack entries a port's zone holds (tests, diagnose)."""
    return _ct(netns, "conntrack list", lambda ct: len(zone_entries(ct, {zone})))
