"""Read-only looks at the kernel through the operator's own tools: ``ip -j``, ``nft -j``, ``ovs-vsctl``,
``conntrack``.

``diagnose`` deliberately does not reuse the agent's kernel code: if that code has a bug, the diagnosis must
not share it. Every function here runs one bounded command (no shell), parses its output and never changes
anything except the ARP probe (one ``ping -c1 -W1``, which is what resolves a neighbour). :func:`shown` gives
the command line an operator can paste to see the same evidence.

The parsers (``parse_*``) are pure and unit-tested on captured outputs.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from floatnet.diagnose.result import CheckFailed

NAT_TABLE = "floatnet"
TIMEOUT = 5.0


class ProbeError(CheckFailed):
    """A probe command could not run or failed: the check fails with the command that did."""

    def __init__(self, command: str, detail: str) -> None:
        fix = "run it by hand to see why (namespaces need root; `--ovsdb` names floatnet's own OVS database)"
        super().__init__(f"`{command}` failed: {detail}", fix, command)
        self.detail = detail


def shown(argv: list[str]) -> str:
    """The shell form of ``argv``, for the ``see:`` line of a result."""
    return shlex.join(argv)


def ns_argv(netns: str, argv: list[str]) -> list[str]:
    """``argv`` run inside ``netns`` with ``ip netns exec``."""
    return ["ip", "netns", "exec", netns, *argv]


def run(argv: list[str], timeout: float = TIMEOUT, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` (bounded by ``timeout``); with ``check`` a non-zero exit raises ProbeError with stderr."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError as exc:
        raise ProbeError(shown(argv), f"{argv[0]} is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise ProbeError(shown(argv), f"no answer within {timeout:g} s") from exc
    if check and done.returncode != 0:
        raise ProbeError(shown(argv), (done.stderr or done.stdout).strip() or f"exit status {done.returncode}")
    return done


def run_json(argv: list[str]) -> Any:
    out = run(argv).stdout.strip()
    return json.loads(out) if out else []


# ---- namespaces, links, addresses, routes, neighbours (iproute2 JSON) ----


def netns_names() -> set[str]:
    return {entry["name"] for entry in run_json(["ip", "-j", "netns", "list"])}


def links(netns: str | None = None) -> dict[str, dict[str, Any]]:
    """Interfaces by name (``ip -j -d addr show``), with flags, operstate, kind and addresses."""
    argv = ["ip", "-j", "-d", "addr", "show"] if netns is None else ["ip", "-j", "-d", "-n", netns, "addr", "show"]
    return {link["ifname"]: link for link in run_json(argv)}


def ipv4_cidrs(link: dict[str, Any]) -> set[str]:
    """The IPv4 ``address/prefixlen`` strings of one ``ip -j addr`` entry."""
    return {f"{a['local']}/{a['prefixlen']}" for a in link.get("addr_info", []) if a.get("family") == "inet"}


def link_kind(link: dict[str, Any]) -> str:
    """``veth``, ``openvswitch``… from ``ip -d``; empty for a plain (physical) device."""
    return str(link.get("linkinfo", {}).get("info_kind", ""))


def is_up(link: dict[str, Any]) -> bool:
    """Administratively up with carrier (``UP`` and ``LOWER_UP``): what forwarding needs."""
    flags = set(link.get("flags", []))
    return "UP" in flags and "LOWER_UP" in flags


def is_promisc(link: dict[str, Any]) -> bool:
    return "PROMISC" in link.get("flags", []) or int(link.get("promiscuity", 0)) > 0


def routes(netns: str, *selector: str) -> list[dict[str, Any]]:
    return list(run_json(["ip", "-j", "-n", netns, "route", "show", *selector]))


def neighbour(netns: str, ip: str, dev: str) -> dict[str, Any] | None:
    entries = run_json(["ip", "-j", "-n", netns, "neigh", "show", ip, "dev", dev])
    return entries[0] if entries else None


def ping_once(netns: str, ip: str) -> bool:
    """One ICMP echo (1 s) from ``netns``: it makes the kernel resolve ``ip``'s MAC; the echo itself may be
    filtered.
    """
    return run(ns_argv(netns, ["ping", "-c1", "-W1", "-q", ip]), check=False).returncode == 0


def arping_once(netns: str, dev: str, ip: str) -> bool:
    """One ARP request for ``ip`` out of ``dev`` (≤ 1 s): True when a reply came, whatever ICMP filtering."""
    argv = ns_argv(netns, ["arping", "-q", "-c", "1", "-C", "1", "-w", "1", "-i", dev, ip])
    return run(argv, timeout=3, check=False).returncode == 0


def ns_sysctl(netns: str, path: str) -> str:
    """A sysctl as seen inside ``netns`` (``path`` under /proc/sys, e.g. ``net/ipv4/ip_forward``)."""
    return run(ns_argv(netns, ["cat", f"/proc/sys/{path}"])).stdout.strip()


# ---- nftables ----


@dataclass(frozen=True)
class NatTable:
    """The router's ``table ip floatnet`` as read back: its maps' elements and, per hook, its rules (JSON)."""

    maps: dict[str, dict[str, str]]
    hooks: dict[str, list[str]]

    def hook_has(self, hook: str, *needles: str) -> bool:
        """Some rule of a chain on ``hook`` mentions every one of ``needles`` (e.g. ``"dnat"``, ``"@fip_dnat"``)."""
        return any(all(needle in rule for needle in needles) for rule in self.hooks.get(hook, []))


def nat_table(netns: str) -> NatTable | None:
    """The router's ``table ip floatnet`` (``nft -j``), or None when the table is missing."""
    done = run(ns_argv(netns, ["nft", "-j", "list", "table", "ip", NAT_TABLE]), check=False)
    if done.returncode != 0:
        if "No such file" in done.stderr:
            return None
        raise ProbeError(shown(ns_argv(netns, ["nft", "list", "table", "ip", NAT_TABLE])), done.stderr.strip())
    document = json.loads(done.stdout)
    return NatTable(parse_nft_maps(document), parse_nft_hooks(document))


def parse_nft_hooks(document: dict[str, Any]) -> dict[str, list[str]]:
    """{hook: [rule expression as JSON text, …]} for the base chains of ``nft -j list table`` output."""
    hook_of = {c["chain"]["name"]: c["chain"].get("hook") for c in document.get("nftables", []) if "chain" in c}
    hooks: dict[str, list[str]] = {}
    for item in document.get("nftables", []):
        rule = item.get("rule")
        if rule and hook_of.get(rule.get("chain")):
            hooks.setdefault(str(hook_of[rule["chain"]]), []).append(json.dumps(rule.get("expr", [])))
    return hooks


def parse_nft_maps(document: dict[str, Any]) -> dict[str, dict[str, str]]:
    """{map name: {key: value}} from ``nft -j list table`` output (elements as [key, value] pairs)."""
    maps: dict[str, dict[str, str]] = {}
    for item in document.get("nftables", []):
        nft_map = item.get("map")
        if not nft_map:
            continue
        elements: dict[str, str] = {}
        for elem in nft_map.get("elem", []):
            if isinstance(elem, list) and len(elem) == 2:
                elements[_nft_scalar(elem[0])] = _nft_scalar(elem[1])
        maps[nft_map["name"]] = elements
    return maps


def _nft_scalar(value: Any) -> str:
    """A map key/value: a plain string, or ``{"elem": {"val": ...}}`` when the element carries a
    timeout/comment.
    """
    if isinstance(value, dict) and "elem" in value:
        return _nft_scalar(value["elem"].get("val"))
    if isinstance(value, dict) and "concat" in value:  # a concatenated key (port forwardings): "a . tcp . 22"
        return " . ".join(_nft_scalar(part) for part in value["concat"])
    return str(value)


SG_TABLE = "floatnet_sg"


def sg_tables(netns: str | None) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The security-group tables (``inet`` and ``bridge`` ``floatnet_sg``) where OVS and the instances' taps live
    (``netns`` None: this namespace), numeric (``nft -n -j``); None when the inet table is missing."""
    documents: list[dict[str, Any]] = []
    for family in ("inet", "bridge"):
        argv = ["nft", "-n", "-j", "list", "table", family, SG_TABLE]
        done = run(ns_argv(netns, argv) if netns else argv, check=False)
        if done.returncode != 0:
            if "No such file" in done.stderr:
                documents.append({"nftables": []})
                continue
            raise ProbeError(shown(ns_argv(netns, argv) if netns else argv), done.stderr.strip())
        documents.append(json.loads(done.stdout))
    inet, bridge = documents
    return (inet, bridge) if inet["nftables"] else None


# ---- conntrack ----


@dataclass(frozen=True)
class Flow:
    """One conntrack entry: the original and the reply tuple's addresses (ports left out)."""

    proto: str
    src: str
    dst: str
    reply_src: str
    reply_dst: str
    line: str


def conntrack_flows(netns: str, selector: str, ip: str) -> list[Flow]:
    """Entries whose original destination (``-d``) or reply destination (``-q``) is ``ip``."""
    done = run(ns_argv(netns, ["conntrack", "-L", selector, ip]), check=False)
    if done.returncode != 0 and "flow entries" not in done.stderr:
        raise ProbeError(shown(ns_argv(netns, ["conntrack", "-L", selector, ip])), done.stderr.strip())
    return parse_conntrack(done.stdout)


def parse_conntrack(text: str) -> list[Flow]:
    """Flows from ``conntrack -L`` text: the first ``src=/dst=`` pair is the original tuple, the second the
    reply.
    """
    flows = []
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        srcs = [w[4:] for w in words if w.startswith("src=")]
        dsts = [w[4:] for w in words if w.startswith("dst=")]
        if len(srcs) >= 2 and len(dsts) >= 2:
            flows.append(Flow(words[0], srcs[0], dsts[0], srcs[1], dsts[1], line.strip()))
    return flows


# ---- Open vSwitch ----


@dataclass(frozen=True)
class OvsPort:
    """An OVS port with the bridge it is on, its VLAN tag (None = untagged) and its interface's columns."""

    name: str
    bridge: str
    tag: int | None
    iface_id: str | None
    iface_type: str
    link_state: str | None
    ofport: int | None
    error: str | None


@dataclass(frozen=True)
class OvsSnapshot:
    """Every port of every bridge, read in one go (three ``ovs-vsctl list`` calls)."""

    ports: list[OvsPort] = field(default_factory=list)
    bridges: list[str] = field(default_factory=list)

    def by_iface_id(self, iface_id: str) -> list[OvsPort]:
        return [port for port in self.ports if port.iface_id == iface_id]

    def on_bridge(self, bridge: str) -> list[OvsPort]:
        return [port for port in self.ports if port.bridge == bridge]


def ovs_argv(db: str | None, *args: str) -> list[str]:
    return ["ovs-vsctl", *([f"--db={db}"] if db else []), "--timeout=5", *args]


def ovs_snapshot(db: str | None) -> OvsSnapshot:
    """Bridges, ports and interfaces from the OVS database at ``db`` (None: the system default socket)."""
    tables = {}
    for table, columns in (
        ("Bridge", "_uuid,name,ports"),
        ("Port", "_uuid,name,tag,interfaces"),
        ("Interface", "_uuid,name,type,external_ids,link_state,ofport,error"),
    ):
        tables[table] = parse_ovs_table(run_json(ovs_argv(db, "-f", "json", f"--columns={columns}", "list", table)))
    return build_snapshot(tables["Bridge"], tables["Port"], tables["Interface"])


def parse_ovs_table(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of ``ovs-vsctl -f json list`` as dicts of plain Python values (uuid → str, set → list, map →
    dict).
    """
    headings = document.get("headings", [])
    return [dict(zip(headings, (_ovs_value(v) for v in row), strict=True)) for row in document.get("data", [])]


def _ovs_value(value: Any) -> Any:
    if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str):
        kind, inner = value
        if kind == "uuid":
            return inner
        if kind == "set":
            return [_ovs_value(v) for v in inner]
        if kind == "map":
            return {_ovs_value(k): _ovs_value(v) for k, v in inner}
    return value


def build_snapshot(
    bridges: list[dict[str, Any]], ports: list[dict[str, Any]], ifaces: list[dict[str, Any]]
) -> OvsSnapshot:
    """Join the three tables: a port's bridge comes from the Bridge row listing it, its columns from its
    interface.
    """
    bridge_of = {port_uuid: br["name"] for br in bridges for port_uuid in _as_list(br.get("ports"))}
    iface_by_uuid = {iface["_uuid"]: iface for iface in ifaces}
    result = []
    for port in ports:
        members = [iface_by_uuid[u] for u in _as_list(port.get("interfaces")) if u in iface_by_uuid]
        iface = members[0] if members else {}
        tag = port.get("tag")
        external_ids = iface.get("external_ids") or {}
        result.append(
            OvsPort(
                name=port["name"],
                bridge=bridge_of.get(port["_uuid"], ""),
                tag=tag if isinstance(tag, int) else None,
                iface_id=external_ids.get("iface-id") if isinstance(external_ids, dict) else None,
                iface_type=str(iface.get("type") or ""),
                link_state=_optional(iface.get("link_state")),
                ofport=iface["ofport"] if isinstance(iface.get("ofport"), int) else None,
                error=_optional(iface.get("error")),
            )
        )
    return OvsSnapshot(ports=result, bridges=sorted(br["name"] for br in bridges))


def _as_list(value: Any) -> list[Any]:
    """OVS prints a one-element set as the bare value and an empty one as ``[]``."""
    if value is None or value == []:
        return []
    return value if isinstance(value, list) else [value]


def _optional(value: Any) -> str | None:
    return None if value in (None, []) else str(value)


# ---- dnsmasq ----


@dataclass(frozen=True)
class Process:
    pid: int
    argv: list[str]

    def option(self, name: str) -> str | None:
        """The value of ``--name=value`` (or ``--name value``) on the command line."""
        for index, word in enumerate(self.argv):
            if word.startswith(f"--{name}="):
                return word.split("=", 1)[1]
            if word == f"--{name}" and index + 1 < len(self.argv):
                return self.argv[index + 1]
        return None


def processes_in_netns(netns: str, comm: str) -> list[Process]:
    """Processes named ``comm`` whose network namespace is ``/run/netns/<netns>`` (compared by inode).

    A process caught in the middle of ``execve`` already has its new ``comm`` but not yet its argument
    area (``/proc/PID/cmdline`` reads empty until the ELF loader lays it out); such a process, like a
    zombie, is left out: it is not yet the program its name says.
    """
    try:
        target = os.stat(f"/run/netns/{netns}")
    except FileNotFoundError:
        return []
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != comm:
                continue
            ns = os.stat(entry / "ns" / "net")
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        words = [a.decode(errors="replace") for a in argv if a]
        if words and (ns.st_dev, ns.st_ino) == (target.st_dev, target.st_ino):
            found.append(Process(int(entry.name), words))
    return found
