"""Set elements added and deleted over nf_tables netlink directly: one batch, no ruleset listing.

libnftables (and the ``nft`` tool) list the table's sets and their elements into a cache before any
``add element`` (to learn the set's key type and check for overlaps): with 1,000 ports' filters installed that
listing is most of the 2–3 ms a one-element change cost. The kernel needs only the table, the set's name and
the key's bytes, so the remote-group member sets (plain ``ipv4_addr`` / ``ipv6_addr`` sets, no intervals) are
edited with ``NFT_MSG_NEWSETELEM`` / ``NFT_MSG_DELSETELEM`` messages (one per set and 2,000 elements) in one
nfnetlink batch (atomic: all of it or nothing), on a socket opened once per namespace — tens of
microseconds, whatever the ruleset.

Sockets are cached per namespace (keyed by its inode, so a re-created namespace of the same name gets a fresh
one) and dropped when floatnet deletes the namespace, as libnftables contexts are (:mod:`floatnet.linux.nft`).
"""

from __future__ import annotations

import os
import socket
import struct
import threading
from collections.abc import Iterable

from floatnet.linux import netns as _netns
from floatnet.linux.errors import KernelError

NETLINK_NETFILTER = 12
NFNL_SUBSYS_NFTABLES = 10
NFNL_MSG_BATCH_BEGIN, NFNL_MSG_BATCH_END = 0x10, 0x11
NFT_MSG_NEWSETELEM, NFT_MSG_DELSETELEM = 12, 14
NLM_F_REQUEST, NLM_F_ACK, NLM_F_CREATE = 0x1, 0x4, 0x400
NLMSG_ERROR = 2
NFPROTO_INET = 1
NLA_F_NESTED = 0x8000
NFTA_SET_ELEM_LIST_TABLE, NFTA_SET_ELEM_LIST_SET, NFTA_SET_ELEM_LIST_ELEMENTS = 1, 2, 3
NFTA_LIST_ELEM = NFTA_SET_ELEM_KEY = NFTA_DATA_VALUE = 1
SOL_NETLINK, NETLINK_CAP_ACK = 270, 10
SO_SNDBUFFORCE = 32
TIMEOUT = 5.0
CHUNK = 2000  # elements per message: an attribute's length is 16 bits (2,000 IPv6 keys = 56 kB)
OPS = {"add": (NFT_MSG_NEWSETELEM, NLM_F_CREATE), "delete": (NFT_MSG_DELSETELEM, 0)}


class ElementError(KernelError):
    """The kernel refused the batch; ``code`` is its errno (ENOENT: a set or an element to delete is missing)."""

    def __init__(self, what: str, where: str, code: int) -> None:
        super().__init__(what, where, os.strerror(code))
        self.code = code


def _attr(kind: int, payload: bytes) -> bytes:
    body = struct.pack("=HH", 4 + len(payload), kind) + payload
    return body + b"\0" * (-len(body) % 4)


def _message(kind: int, flags: int, seq: int, family: int, res_id: int, payload: bytes = b"") -> bytes:
    body = struct.pack("=BBH", family, 0, socket.htons(res_id)) + payload
    return struct.pack("=IHHII", 16 + len(body), kind, flags, seq, 0) + body


def _elements(keys: Iterable[bytes]) -> bytes:
    elems = b"".join(
        _attr(NFTA_LIST_ELEM | NLA_F_NESTED, _attr(NFTA_SET_ELEM_KEY | NLA_F_NESTED, _attr(NFTA_DATA_VALUE, key)))
        for key in keys
    )
    return _attr(NFTA_SET_ELEM_LIST_ELEMENTS | NLA_F_NESTED, elems)


class _Socket:
    """One nfnetlink socket bound in one namespace; batches are serialised by a lock."""

    def __init__(self, name: str | None) -> None:
        self.lock = threading.Lock()
        self.seq = 0
        self.sock = _netns.run_in(name, socket.socket, socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        self.sock.settimeout(TIMEOUT)
        self.sock.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)  # an error's ack without the (large) message
        self.sock.bind((0, 0))

    def batch(self, messages: list[tuple[int, int, bytes]], family: int) -> int:
        """Send ``(type, flags, payload)`` nf_tables messages as one batch; 0 or the first errno refused."""
        with self.lock:
            base, self.seq = self.seq, self.seq + len(messages) + 2
            subsys = NFNL_SUBSYS_NFTABLES << 8
            parts = [_message(NFNL_MSG_BATCH_BEGIN, NLM_F_REQUEST, base, 0, NFNL_SUBSYS_NFTABLES)]
            parts += [
                _message(subsys | kind, NLM_F_REQUEST | NLM_F_ACK | flags, base + 1 + i, family, 0, payload)
                for i, (kind, flags, payload) in enumerate(messages)
            ]
            parts.append(_message(NFNL_MSG_BATCH_END, NLM_F_REQUEST, base + len(messages) + 1, 0, NFNL_SUBSYS_NFTABLES))
            data = b"".join(parts)
            self._fit(len(data))
            self.sock.send(data)
            return self._acks(base, set(range(base + 1, base + 1 + len(messages))))

    def _fit(self, size: int) -> None:
        """Grow the send buffer to hold a batch (one send; a 10,000-member set is ~240 kB), as libnftables does."""
        if self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) >= size + 4096:
            return
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, SO_SNDBUFFORCE, size + 4096)
        except PermissionError:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size + 4096)

    def _acks(self, base: int, waiting: set[int]) -> int:
        """Read the acks of ``waiting`` (the batch's message sequence numbers, after ``base``, its begin); the
        first error code, or 0. A refused batch begin or end is answered alone: its error ends the wait."""
        first, batch = 0, range(base, base + len(waiting) + 2)
        while waiting:
            data = self.sock.recv(65536)
            offset = 0
            while offset + 16 <= len(data):
                length, kind, _, seq, _ = struct.unpack_from("=IHHII", data, offset)
                code = struct.unpack_from("=i", data, offset + 16)[0] if kind == NLMSG_ERROR else 0
                offset += max(16, (length + 3) & ~3)
                if kind != NLMSG_ERROR or seq not in batch:
                    continue
                first = first or -code
                if code and seq not in waiting:
                    return first
                waiting.discard(seq)
        return first

    def close(self) -> None:
        self.sock.close()


_sockets: _netns.Handles[_Socket] = _netns.Handles(_Socket, _Socket.close)


def edit(netns: str | None, op: str, table: str, sets: dict[str, list[bytes]], family: int = NFPROTO_INET) -> None:
    """``add`` or ``delete`` the elements ``sets`` maps set names to (keys as the set's bytes), in one atomic
    batch in ``netns`` (None: the agent's own namespace). Adding a present element is a no-op; deleting a
    missing one, or naming a missing set, fails the whole batch with :class:`ElementError` (``ENOENT``)."""
    kind, flags = OPS[op]
    head = _attr(NFTA_SET_ELEM_LIST_TABLE, table.encode() + b"\0")
    messages = [
        (kind, flags, head + _attr(NFTA_SET_ELEM_LIST_SET, name.encode() + b"\0") + _elements(keys[i : i + CHUNK]))
        for name, keys in sorted(sets.items())
        for i in range(0, len(keys), CHUNK)
    ]
    if not messages:
        return
    where = f"{table} {', '.join(sorted(sets))} (netns {netns or 'root'})"
    try:
        code = _sockets.get(netns).batch(messages, family)
    except OSError as exc:  # a timeout or a broken socket: the next call starts on a fresh one
        _sockets.drop(netns)
        raise KernelError(f"{op} element", where, exc) from exc
    if code:
        raise ElementError(f"{op} element", where, code)
