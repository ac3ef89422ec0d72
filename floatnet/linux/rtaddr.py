"""A few addresses added to and removed from one device over rtnetlink directly, on a socket kept per namespace.

A floating IP's association puts one /32 on the router's gateway device: it is on the associate → first
connect path (the router answers ARP for the address only once it holds it). Through pyroute2 that edit cost a
thread entering the namespace, a new ``IPRoute`` and a link lookup on every call — 1.5 ms idle, tens of
milliseconds on a loaded node (a thread start waits for the interpreter lock). Here the namespace is entered
once, when its socket is opened: each edit is then one ``RTM_GETLINK`` for the device's index and one
``RTM_DELADDR``/``RTM_NEWADDR`` per address, all in one ``send`` and read back in the calling thread — no thread,
no dump, the same work whatever the number of addresses the device holds.

Sockets are cached per namespace (keyed by its inode, so a re-created namespace of the same name gets a fresh
one) and dropped when floatnet deletes the namespace, as the nf_tables sockets are (:mod:`.nft_elements`).
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import struct
import threading
from collections.abc import Iterable

from floatnet.linux import netns as _netns
from floatnet.linux.errors import KernelError

RTM_NEWLINK, RTM_GETLINK, RTM_NEWADDR, RTM_DELADDR = 16, 18, 20, 21
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
NLMSG_ERROR = 2
IFLA_IFNAME = 3
IFA_ADDRESS, IFA_LOCAL = 1, 2
IFA_F_NODAD = 0x02
SOL_NETLINK, NETLINK_CAP_ACK = 270, 10
TIMEOUT = 5.0
ALREADY = {"add": {errno.EEXIST}, "del": {errno.EADDRNOTAVAIL, errno.ENOENT}}  # not an error: nothing to do


def _attr(kind: int, payload: bytes) -> bytes:
    body = struct.pack("=HH", 4 + len(payload), kind) + payload
    return body + b"\0" * (-len(body) % 4)


def _header(kind: int, flags: int, seq: int, body: bytes) -> bytes:
    return struct.pack("=IHHII", 16 + len(body), kind, flags, seq, 0) + body


def _address_body(op: str, index: int, cidr: str) -> bytes:
    """``ifaddrmsg`` and its local/address attributes for ``cidr`` (IPv6 added without duplicate detection,
    as the rest of floatnet adds them)."""
    iface = ipaddress.ip_interface(cidr)
    family = socket.AF_INET if iface.version == 4 else socket.AF_INET6
    flags = IFA_F_NODAD if op == "add" and iface.version == 6 else 0
    packed = iface.ip.packed
    head = struct.pack("=BBBBI", family, iface.network.prefixlen, flags, 0, index)
    return head + _attr(IFA_LOCAL, packed) + _attr(IFA_ADDRESS, packed)


class _Socket:
    """One rtnetlink socket bound in one namespace; requests are serialised by a lock."""

    def __init__(self, name: str | None) -> None:
        self.lock = threading.Lock()
        self.seq = 0
        self.sock = _netns.run_in(name, socket.socket, socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        self.sock.settimeout(TIMEOUT)
        self.sock.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)  # an error's ack without our request echoed
        self.sock.bind((0, 0))

    def index(self, dev: str) -> int | None:
        """The device's index (one ``RTM_GETLINK`` by name), None when there is no such device."""
        body = struct.pack("=BxHiII", socket.AF_UNSPEC, 0, 0, 0, 0) + _attr(IFLA_IFNAME, dev.encode() + b"\0")
        with self.lock:
            self.seq += 1
            self.sock.send(_header(RTM_GETLINK, NLM_F_REQUEST, self.seq, body))
            kind, payload = self._collect({self.seq})[self.seq]
        if kind == NLMSG_ERROR:
            code = -struct.unpack_from("=i", payload)[0]
            if code == errno.ENODEV:
                return None
            raise OSError(code, f"RTM_GETLINK {dev}")
        return int(struct.unpack_from("=i", payload, 4)[0])

    def edit(self, index: int, ops: list[tuple[str, str]]) -> list[int]:
        """Send ``(op, cidr)`` requests (``add``/``del``) in order in one ``send``; their errnos (0: done)."""
        parts, seqs = [], []
        with self.lock:
            for op, cidr in ops:
                self.seq += 1
                kind, flags = (RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL) if op == "add" else (RTM_DELADDR, 0)
                parts.append(_header(kind, NLM_F_REQUEST | NLM_F_ACK | flags, self.seq, _address_body(op, index, cidr)))
                seqs.append(self.seq)
            self.sock.send(b"".join(parts))
            answers = self._collect(set(seqs))
        return [-struct.unpack_from("=i", answers[seq][1])[0] for seq in seqs]

    def _collect(self, wanted: set[int]) -> dict[int, tuple[int, bytes]]:
        """The answers (type, payload) to the ``wanted`` sequence numbers; others (a timed-out call's) skipped."""
        found: dict[int, tuple[int, bytes]] = {}
        while len(found) < len(wanted):
            data = self.sock.recv(65536)
            offset = 0
            while offset + 16 <= len(data):
                length, kind, _, seq, _ = struct.unpack_from("=IHHII", data, offset)
                if seq in wanted and kind in (NLMSG_ERROR, RTM_NEWLINK):
                    found[seq] = (kind, data[offset + 16 : offset + length])
                offset += max(16, (length + 3) & ~3)
        return found

    def close(self) -> None:
        self.sock.close()


_sockets: _netns.Handles[_Socket] = _netns.Handles(_Socket, _Socket.close)


def edit(netns: str, dev: str, add: Iterable[str] = (), remove: Iterable[str] = ()) -> tuple[set[str], set[str]]:
    """Remove then add addresses (``ip/len``, normalised) on ``dev`` in ``netns``, leaving its others alone;
    returns what was added and removed (already there / already gone is not an error, and not listed).
    Raises :class:`KernelError` for a missing namespace or device, or any other refusal."""
    where = f"{dev} (netns {netns})"
    if not _netns.exists(netns):
        raise KernelError("edit addresses", where, f"namespace {netns} does not exist")
    ops = [("del", c) for c in sorted(set(remove))] + [("add", c) for c in sorted(set(add))]
    try:
        handle = _sockets.get(netns)
        index = handle.index(dev)
        if index is None:
            raise KernelError("edit addresses", where, "no such device")
        codes = handle.edit(index, ops)
    except OSError as exc:  # a timeout or a broken socket: the next call starts on a fresh one
        _sockets.drop(netns)
        raise KernelError("edit addresses", where, exc) from exc
    done: dict[str, set[str]] = {"add": set(), "del": set()}
    for (op, cidr), code in zip(ops, codes, strict=True):
        if code and code not in ALREADY[op]:
            raise KernelError(f"{op} address {cidr}", where, f"{errno.errorcode.get(code, code)}: {code}")
        if not code:
            done[op].add(cidr)
    return done["add"], done["del"]
