"""A fast IPv4/IPv6 address dump of one device: raw ``RTM_GETADDR`` on a netlink socket, parsed with ``struct``.

pyroute2 decodes every attribute of every message into objects: ~1.4 s for a gateway device holding 10,000
floating-IP /32s (most of an agent's warm restart). The agent needs only (family, prefix length, address) of
one device, so this reads exactly those fields from the raw messages: the same dump in a few tens of ms.
Call it inside the namespace (:func:`floatnet.linux.netns.run_in`): the socket belongs to the calling thread's
namespace.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct

NETLINK_ROUTE = 0
RTM_GETADDR = 22
RTM_NEWADDR = 20
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST_DUMP = 0x1 | 0x300
IFA_ADDRESS = 1
IFA_LOCAL = 2
_NLMSGHDR = struct.Struct("=IHHII")  # len, type, flags, seq, pid
_IFADDRMSG = struct.Struct("=BBBBI")  # family, prefixlen, flags, scope, index
_RTATTR = struct.Struct("=HH")  # len, type


def _align(n: int) -> int:
    return (n + 3) & ~3


def _request(seq: int) -> bytes:
    body = _IFADDRMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
    return _NLMSGHDR.pack(_NLMSGHDR.size + len(body), RTM_GETADDR, NLM_F_REQUEST_DUMP, seq, 0) + body


def _address_of(msg: memoryview, family: int) -> bytes | None:
    """The message's IFA_LOCAL (the interface's own address), else IFA_ADDRESS."""
    found: dict[int, bytes] = {}
    off = _IFADDRMSG.size
    while off + _RTATTR.size <= len(msg):
        length, kind = _RTATTR.unpack_from(msg, off)
        if length < _RTATTR.size:
            break
        if kind in (IFA_ADDRESS, IFA_LOCAL):
            found[kind] = bytes(msg[off + _RTATTR.size : off + length])
        off += _align(length)
    return found.get(IFA_LOCAL) or found.get(IFA_ADDRESS)


def _parse(chunk: memoryview, index: int, out: list[tuple[int, int, bytes]]) -> bool:
    """Append (family, prefixlen, raw address) of ``index``'s addresses; True once the dump is done."""
    off = 0
    while off + _NLMSGHDR.size <= len(chunk):
        length, kind, _flags, _seq, _pid = _NLMSGHDR.unpack_from(chunk, off)
        if length < _NLMSGHDR.size:
            return True
        if kind == NLMSG_DONE:
            return True
        if kind == NLMSG_ERROR:
            (code,) = struct.unpack_from("=i", chunk, off + _NLMSGHDR.size)
            if code:
                raise OSError(-code, f"RTM_GETADDR: {os.strerror(-code)}")
        elif kind == RTM_NEWADDR:
            msg = chunk[off + _NLMSGHDR.size : off + length]
            family, prefixlen, _f, _scope, ifindex = _IFADDRMSG.unpack_from(msg, 0)
            raw = _address_of(msg, family) if ifindex == index else None
            if raw is not None:
                out.append((family, prefixlen, raw))
        off += _align(length)
    return False


def addresses(index: int) -> list[tuple[int, int, bytes]]:
    """(family, prefix length, packed address) of every address of device ``index`` in this namespace."""
    out: list[tuple[int, int, bytes]] = []
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.bind((0, 0))
        sock.sendall(_request(1))
        done = False
        while not done:
            data = sock.recv(1 << 16)
            if not data:
                break
            done = _parse(memoryview(data), index, out)
    return out


def interface_addresses(index: int) -> set[str]:
    """``ip/len`` of device ``index``'s addresses, IPv6 link-local ones left out."""
    out = set()
    for family, prefixlen, raw in addresses(index):
        if family == socket.AF_INET:
            if raw[:2] != b"\xa9\xfe":  # 169.254.0.0/16
                out.add(f"{socket.inet_ntoa(raw)}/{prefixlen}")
        elif family == socket.AF_INET6 and not ipaddress.IPv6Address(raw).is_link_local:
            out.add(f"{ipaddress.IPv6Address(raw)}/{prefixlen}")
    return out
