"""IPv6 frames built byte by byte, sent and captured on a namespace's device with packet sockets.

The port filter's IPv6 tests need packets no ordinary socket sends: router advertisements, redirects and
DHCPv6 server replies from an instance, neighbour solicitations from the unspecified address ``::``. They are
built here whole (Ethernet, IPv6, ICMPv6 or UDP with a correct checksum) and each carries a unique token at
its end, so the receiver judges by what reached its device — an ``AF_PACKET`` socket there sees every frame
the bridge delivered, before the receiver's own IPv6 stack could ignore it.
"""

from __future__ import annotations

import ipaddress
import os
import select
import socket
import struct
import time
from dataclasses import dataclass

from floatnet.linux import netns

ETH_P_ALL, ETH_P_IPV6 = 0x0003, 0x86DD
ICMPV6, UDP = 58, 17
RA, NS, NA, REDIRECT, MLD2_REPORT = 134, 135, 136, 137, 143
ALL_NODES, ALL_DHCP = "ff02::1", "ff02::1:2"


@dataclass(frozen=True)
class Frame:
    """One frame to send and the token that identifies it at the receiver."""

    what: str
    data: bytes
    token: bytes


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def multicast_mac(address: str) -> str:
    """The Ethernet group address of an IPv6 multicast address (RFC 2464: 33:33 + its last 32 bits)."""
    tail = ipaddress.IPv6Address(address).packed[-4:]
    return "33:33:" + ":".join(f"{b:02x}" for b in tail)


def solicited_node(address: str) -> str:
    """The solicited-node multicast address of ``address`` (ff02::1:ffXX:XXXX, RFC 4291)."""
    tail = ipaddress.IPv6Address(address).packed[-3:]
    return str(ipaddress.IPv6Address(bytes.fromhex("ff02" + "0000" * 4 + "0001ff") + tail))


def frame(what: str, src_mac: str, src: str, dst: str, proto: int, l4: bytes, dst_mac: str | None = None) -> Frame:
    """``l4`` (an ICMPv6 message or a UDP datagram, checksum field zero) with a fresh token appended, in an
    IPv6 packet (hop limit 255, as neighbour discovery requires) in an Ethernet frame to ``dst_mac`` (default:
    the multicast group of ``dst``, which must then be multicast)."""
    token = os.urandom(8)
    body = bytearray(l4 + token)
    if proto == UDP:
        struct.pack_into("!H", body, 4, len(body))
    s, d = ipaddress.IPv6Address(src).packed, ipaddress.IPv6Address(dst).packed
    pseudo = s + d + struct.pack("!I3xB", len(body), proto)
    struct.pack_into("!H", body, 6 if proto == UDP else 2, _checksum(pseudo + bytes(body)))
    ip = struct.pack("!IHBB", 0x60000000, len(body), proto, 255) + s + d
    macs = bytes.fromhex((dst_mac or multicast_mac(dst)).replace(":", "")) + bytes.fromhex(src_mac.replace(":", ""))
    return Frame(what, macs + struct.pack("!H", ETH_P_IPV6) + ip + bytes(body), token)


def icmpv6(kind: int, body: bytes) -> bytes:
    """An ICMPv6 message of type ``kind``, code 0, checksum to be filled in."""
    return struct.pack("!BBH", kind, 0, 0) + body


def udp(sport: int, dport: int, data: bytes) -> bytes:
    """A UDP header (length and checksum to be filled in) and its data."""
    return struct.pack("!HHHH", sport, dport, 0, 0) + data


def redirect(target: str, destination: str) -> bytes:
    """A redirect: reach ``destination`` through ``target``."""
    packed = ipaddress.IPv6Address(target).packed + ipaddress.IPv6Address(destination).packed
    return icmpv6(REDIRECT, b"\0" * 4 + packed)


def neighbour_solicit(target: str) -> bytes:
    return icmpv6(NS, b"\0" * 4 + ipaddress.IPv6Address(target).packed)


def neighbour_advert(target: str) -> bytes:
    return icmpv6(NA, struct.pack("!I", 0x60000000) + ipaddress.IPv6Address(target).packed)  # solicited, override


def mld2_report() -> bytes:
    """An MLDv2 report with no records (what a host sends from ``::`` before it has an address)."""
    return icmpv6(MLD2_REPORT, b"\0" * 4)


def dhcp6_reply() -> bytes:
    """A DHCPv6 Reply (server port 547 to client port 546), as a rogue server on an instance would send."""
    return udp(547, 546, bytes([7]) + os.urandom(3))


def _send(dev: str, frames: list[Frame]) -> None:
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as sock:
        sock.bind((dev, 0))
        for item in frames:
            for _ in range(2):
                sock.send(item.data)


def send(ns: str, dev: str, frames: list[Frame]) -> None:
    """Send each frame twice from ``dev`` in namespace ``ns``."""
    netns.run_in(ns, _send, dev, frames)


def _open(dev: str) -> socket.socket:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.bind((dev, 0))
    return sock


def capture(ns: str, dev: str) -> socket.socket:
    """A packet socket on ``dev`` in ``ns`` seeing every frame from now on (close it when done)."""
    return netns.run_in(ns, _open, dev)


def arrived(sock: socket.socket, frames: list[Frame], wait: float = 0.6) -> set[str]:
    """Which of ``frames`` reached the capture (``what`` of each), reading until ``wait`` seconds of quiet
    (at most ten times that in all)."""
    seen: set[str] = set()
    deadline = time.monotonic() + 10 * wait
    while time.monotonic() < deadline and select.select([sock], [], [], wait)[0]:
        data = sock.recv(65535)
        seen |= {item.what for item in frames if data.endswith(item.token)}
    return seen
