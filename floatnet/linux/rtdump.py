"""Fast rtnetlink dumps (addresses of one device, gatewayed IPv4 routes, a vxlan device's flood entries): raw
messages parsed with ``struct``.

pyroute2 decodes every attribute of every message into objects: ~1.4 s to list a gateway device holding
10,000 floating-IP /32s, and ~0.5 s to list a router's few routes (it decodes the 10,000 local routes those
addresses create, then filters). The agent needs a handful of fields, so these functions send the same dump
request on a plain netlink socket and read exactly those fields: the same answers in a few tens of ms.
Call them inside the namespace (:func:`floatnet.linux.netns.run_in`): the socket belongs to the calling
thread's namespace. Errors raise ``OSError``.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
from collections.abc import Iterator

NETLINK_ROUTE = 0
RTM_NEWADDR, RTM_GETADDR, RTM_NEWROUTE, RTM_GETROUTE, RTM_NEWNEIGH, RTM_GETNEIGH = 20, 22, 24, 26, 28, 30
NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_REQUEST_DUMP = 0x1 | 0x300
IFA_ADDRESS, IFA_LOCAL = 1, 2
RTA_DST, RTA_GATEWAY, RTA_TABLE = 1, 5, 15
NDA_DST, NDA_LLADDR = 1, 2
_NLMSGHDR = struct.Struct("=IHHII")  # len, type, flags, seq, pid
_IFADDRMSG = struct.Struct("=BBBBI")  # family, prefixlen, flags, scope, index
_RTMSG = struct.Struct("=BBBBBBBBI")  # family, dst_len, src_len, tos, table, protocol, scope, type, flags
_RTATTR = struct.Struct("=HH")  # len, type
_IFINFOMSG = struct.Struct("=BxHiII")  # family, type, index, flags, change
_NDMSG = struct.Struct("=BxxxiHBB")  # family, ifindex, state, flags, type


def _align(n: int) -> int:
    return (n + 3) & ~3


def _attrs(msg: memoryview, offset: int, wanted: tuple[int, ...]) -> dict[int, bytes]:
    """The ``wanted`` attributes of one message body (after its fixed header at ``offset``)."""
    found: dict[int, bytes] = {}
    while offset + _RTATTR.size <= len(msg):
        length, kind = _RTATTR.unpack_from(msg, offset)
        if length < _RTATTR.size:
            break
        if kind in wanted:
            found[kind] = bytes(msg[offset + _RTATTR.size : offset + length])
        offset += _align(length)
    return found


def _messages(request_type: int, header: bytes, reply_type: int) -> Iterator[memoryview]:
    """Send one dump request; yield the body of every reply message of ``reply_type``."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.bind((0, 0))
        length = _NLMSGHDR.size + len(header)
        sock.sendall(_NLMSGHDR.pack(length, request_type, NLM_F_REQUEST_DUMP, 1, 0) + header)
        while True:
            chunk = memoryview(sock.recv(1 << 16))
            off = 0
            while off + _NLMSGHDR.size <= len(chunk):
                size, kind = _NLMSGHDR.unpack_from(chunk, off)[:2]
                if kind == NLMSG_DONE or size < _NLMSGHDR.size:
                    return
                if kind == NLMSG_ERROR:
                    (code,) = struct.unpack_from("=i", chunk, off + _NLMSGHDR.size)
                    if code:
                        raise OSError(-code, f"rtnetlink dump: {os.strerror(-code)}")
                elif kind == reply_type:
                    yield chunk[off + _NLMSGHDR.size : off + size]
                off += _align(size)
            if not chunk:
                return


def interface_addresses(index: int, ipv4_link_local: bool = False) -> set[str]:
    """``ip/len`` of device ``index``'s addresses (IFA_LOCAL, else IFA_ADDRESS), link-local ones left out — but
    for IPv4 ones with ``ipv4_link_local`` (an HA router's VRRP addresses live in 169.254.0.0/16)."""
    out = set()
    header = _IFADDRMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
    for msg in _messages(RTM_GETADDR, header, RTM_NEWADDR):
        family, prefixlen, _flags, _scope, ifindex = _IFADDRMSG.unpack_from(msg, 0)
        if ifindex != index:
            continue
        found = _attrs(msg, _IFADDRMSG.size, (IFA_ADDRESS, IFA_LOCAL))
        raw = found.get(IFA_LOCAL) or found.get(IFA_ADDRESS)
        if raw is None:
            continue
        if family == socket.AF_INET and (ipv4_link_local or raw[:2] != b"\xa9\xfe"):  # not 169.254.0.0/16
            out.add(f"{socket.inet_ntoa(raw)}/{prefixlen}")
        elif family == socket.AF_INET6 and not ipaddress.IPv6Address(raw).is_link_local:
            out.add(f"{ipaddress.IPv6Address(raw)}/{prefixlen}")
    return out


def gateway_routes(table: int, proto: int | None) -> dict[str, str]:
    """Routes of ``table`` that have a gateway, IPv4 and IPv6, ``{dst/len: via}`` (the default routes are
    ``0.0.0.0/0`` and ``::/0``), only protocol ``proto`` unless None."""
    out = {}
    for family in (socket.AF_INET, socket.AF_INET6):
        header = _RTMSG.pack(family, 0, 0, 0, 0, 0, 0, 0, 0)
        for msg in _messages(RTM_GETROUTE, header, RTM_NEWROUTE):
            found_family, dst_len, _src, _tos, short_table, protocol = _RTMSG.unpack_from(msg, 0)[:6]
            if found_family != family or (proto is not None and protocol != proto):
                continue
            found = _attrs(msg, _RTMSG.size, (RTA_DST, RTA_GATEWAY, RTA_TABLE))
            in_table = struct.unpack("=I", found[RTA_TABLE])[0] if RTA_TABLE in found else short_table
            if in_table != table or RTA_GATEWAY not in found:
                continue
            blank = b"\0" * len(found[RTA_GATEWAY])
            dst = ipaddress.ip_address(found.get(RTA_DST, blank))
            out[f"{dst}/{dst_len}"] = str(ipaddress.ip_address(found[RTA_GATEWAY]))
    return out


def flood_destinations(index: int) -> set[str]:
    """The remote IPs of device ``index``'s all-zero FDB entries (a vxlan device's flood list). The request names
    the device (``ifi_index``, as ``bridge fdb show dev`` does), so the kernel dumps its entries alone rather
    than every bridge port's of the namespace (the OVS namespace holds one Linux bridge per instance)."""
    out = set()
    header = _IFINFOMSG.pack(socket.AF_BRIDGE, 0, index, 0, 0)
    for msg in _messages(RTM_GETNEIGH, header, RTM_NEWNEIGH):
        ifindex = _NDMSG.unpack_from(msg, 0)[1]
        found = _attrs(msg, _NDMSG.size, (NDA_DST, NDA_LLADDR))
        if ifindex == index and found.get(NDA_LLADDR) == b"\0" * 6 and NDA_DST in found:
            out.add(str(ipaddress.ip_address(found[NDA_DST])))
    return out
