"""Kill the connection-tracking entries of an address, inside a namespace (OSSN-0020).

Removing a floating IP's NAT does not end sessions already translated: their translation lives in conntrack.
Entries must go in both directions: original destination = the address (inbound flows to the floating IP) and
reply destination = the address (outbound flows SNATed to it, whose replies come back to it).

Through ctnetlink (pyroute2's ``Conntrack``) on a socket opened inside the namespace: one dump, filtered here on
both tuples (or, for a port's conntrack zone, by the kernel: :func:`zone_entries`), then one delete per matching
entry — a few milliseconds, where two ``conntrack`` processes under
``ip netns exec`` cost 50–200 ms. The dump is not filtered by the kernel: its reply-tuple filter is broken on
older kernels, and one pass over both directions needs a single dump anyway.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

from pyroute2.conntrack import Conntrack, ConntrackEntry
from pyroute2.netlink.exceptions import NetlinkError

from floatnet.linux import netns as _netns
from floatnet.linux.errors import KernelError


def _address(ip: str) -> str:
    try:
        return str(ipaddress.IPv4Address(ip))
    except ValueError as exc:
        raise KernelError("conntrack", repr(ip), "not an IPv4 address") from exc


def _matches(entry: ConntrackEntry, addr: str) -> bool:
    return bool(entry.tuple_orig.daddr == addr or entry.tuple_reply.daddr == addr)


def _entries(ct: Conntrack, addr: str) -> list[ConntrackEntry]:
    return [entry for entry in ct.dump_entries() if _matches(entry, addr)]


def delete_entries(ct: Conntrack, entries: list[ConntrackEntry]) -> int:
    """Delete ``entries`` (dumped from ``ct``) by original tuple *and zone* — pyroute2's ``delete(entry)``
    omits the zone and so finds nothing outside zone 0; an entry that vanished meanwhile is not counted."""
    deleted = 0
    for entry in entries:
        try:
            ct.entry("del", tuple_orig=entry.tuple_orig, zone=entry.zone)
        except NetlinkError as exc:
            if exc.code != errno.ENOENT:
                raise
        else:
            deleted += 1
    return deleted


def zone_entries(ct: Conntrack, zones: Iterable[int]) -> list[ConntrackEntry]:
    """The entries of ``zones`` (a port's own conntrack zones), one dump per zone filtered by the kernel
    (``CTA_ZONE``): cutting a port's or a rule's flows costs that port's entries, not the node's whole table.
    A kernel that ignores the dump's zone (before Linux 6.7) answers every entry: that one dump, filtered
    here, then serves all the zones."""
    wanted = set(zones)
    found: list[ConntrackEntry] = []
    for zone in sorted(wanted):
        dumped = list(ct.dump_entries(zone=zone))
        if any(entry.zone != zone for entry in dumped):
            return [entry for entry in dumped if entry.zone in wanted]
        found += dumped
    return found


def _delete_all(addr: str) -> int:
    """Inside the namespace: delete the entries to or from ``addr``."""
    with Conntrack() as ct:
        return delete_entries(ct, _entries(ct, addr))


def _count(addr: str) -> int:
    with Conntrack() as ct:
        return len(_entries(ct, addr))


def _in_namespace(netns: str, op: str, fn: Any, addr: str) -> int:
    if not _netns.exists(netns):
        raise KernelError(op, addr, f"namespace {netns} does not exist")
    try:
        return int(_netns.run_in(netns, fn, addr))
    except (NetlinkError, OSError) as exc:
        detail = exc.code if isinstance(exc, NetlinkError) else exc
        raise KernelError(op, f"{addr} (netns {netns})", detail) from exc


def flush_address(netns: str, ip: str) -> int:
    """Delete entries whose original destination or reply destination is ``ip``; returns how many went."""
    return _in_namespace(netns, "conntrack delete", _delete_all, _address(ip))


PROTOCOL_NUMBERS = {"tcp": socket.IPPROTO_TCP, "udp": socket.IPPROTO_UDP}


def _socket_matches(entry: ConntrackEntry, addr: str, proto: int, ports: range) -> bool:
    orig = entry.tuple_orig
    return bool(orig.daddr == addr and orig.proto == proto and orig.dport in ports)


def _delete_socket(addr: str, proto: int, ports: range) -> int:
    with Conntrack() as ct:
        return delete_entries(ct, [e for e in ct.dump_entries() if _socket_matches(e, addr, proto, ports)])


def flush_socket(netns: str, ip: str, protocol: str, lo: int, hi: int) -> int:
    """Delete the entries of one port forwarding: original destination ``ip``, ``protocol`` (tcp | udp) and a
    destination port in ``lo..hi`` — the floating IP's other forwardings keep their sessions. How many went."""
    proto, ports = PROTOCOL_NUMBERS[protocol], range(lo, hi + 1)
    return _in_namespace(netns, "conntrack delete", lambda addr: _delete_socket(addr, proto, ports), _address(ip))


def count_address(netns: str, ip: str) -> int:
    """How many entries have ``ip`` as original or reply destination (for diagnose and tests)."""
    return _in_namespace(netns, "conntrack list", _count, _address(ip))
