"""The lab's DHCPv6 probe: one Solicit (stateful) or Information-Request (stateless) from an instance's
interface, and what the server answered — the address it offers, the DNS servers and the domain search list.

Neither busybox nor the lab ships a DHCPv6 client; this asks the question a client asks (RFC 8415: DUID-LL from
the MAC, IA_NA for an address, option request for DNS servers and domains) and reads the answer, without
configuring anything: the instance's address in a stateful subnet is checked against the server's offer, and
a stateless subnet's options by what the reply carries. Runs inside the instance's namespace (the socket is
opened there, bound to the interface's link-local scope).
"""

from __future__ import annotations

import os
import select
import socket
import struct
import time
from dataclasses import dataclass

from floatnet.linux import netns

SOLICIT, ADVERTISE, REPLY, INFORMATION_REQUEST = 1, 2, 7, 11
OPT_CLIENTID, OPT_IA_NA, OPT_IAADDR, OPT_ORO, OPT_ELAPSED = 1, 3, 5, 6, 8
OPT_DNS_SERVERS, OPT_DOMAIN_LIST = 23, 24
SERVERS = "ff02::1:2"  # All_DHCP_Relay_Agents_and_Servers
ETH_P_IPV6 = 0x86DD


@dataclass(frozen=True)
class Dhcp6Answer:
    """What a DHCPv6 server answered: the offered addresses (stateful), DNS servers and search domains."""

    addresses: tuple[str, ...]
    dns_servers: tuple[str, ...]
    domains: tuple[str, ...]


def _option(code: int, data: bytes) -> bytes:
    return struct.pack("!HH", code, len(data)) + data


def _options(data: bytes) -> list[tuple[int, bytes]]:
    out: list[tuple[int, bytes]] = []
    off = 0
    while off + 4 <= len(data):
        code, length = struct.unpack_from("!HH", data, off)
        out.append((code, data[off + 4 : off + 4 + length]))
        off += 4 + length
    return out


def _domains(data: bytes) -> list[str]:
    """Names in DNS wire format (RFC 1035 labels, uncompressed), as the domain list option carries them."""
    names: list[str] = []
    labels: list[str] = []
    off = 0
    while off < len(data):
        length = data[off]
        if length == 0:
            names.append(".".join(labels))
            labels = []
        else:
            labels.append(data[off + 1 : off + 1 + length].decode(errors="replace"))
        off += 1 + length
    return names


def request(mac: str, stateful: bool, xid: bytes | None = None) -> bytes:
    """The Solicit (``stateful``) or Information-Request message of the client with ``mac``."""
    duid = struct.pack("!HH", 3, 1) + bytes.fromhex(mac.replace(":", ""))  # DUID-LL, Ethernet
    kind = SOLICIT if stateful else INFORMATION_REQUEST
    body = _option(OPT_CLIENTID, duid) + _option(OPT_ORO, struct.pack("!HH", OPT_DNS_SERVERS, OPT_DOMAIN_LIST))
    body += _option(OPT_ELAPSED, b"\0\0")
    if stateful:
        body += _option(OPT_IA_NA, struct.pack("!III", 1, 0, 0))
    return bytes([kind]) + (xid or os.urandom(3)) + body


def parse(message: bytes) -> Dhcp6Answer:
    """The answer an Advertise or Reply carries."""
    addresses: list[str] = []
    servers: list[str] = []
    domains: list[str] = []
    for code, data in _options(message[4:]):
        if code == OPT_IA_NA:
            for sub, value in _options(data[12:]):
                if sub == OPT_IAADDR:
                    addresses.append(socket.inet_ntop(socket.AF_INET6, value[:16]))
        elif code == OPT_DNS_SERVERS:
            servers += [socket.inet_ntop(socket.AF_INET6, data[i : i + 16]) for i in range(0, len(data), 16)]
        elif code == OPT_DOMAIN_LIST:
            domains += _domains(data)
    return Dhcp6Answer(tuple(addresses), tuple(servers), tuple(domains))


def _udp_payload(frame: bytes) -> bytes | None:
    """The UDP payload of an Ethernet frame carrying IPv6 (no extension headers) to the client port 546."""
    if len(frame) < 62 or frame[12:14] != b"\x86\xdd" or frame[20] != socket.IPPROTO_UDP:
        return None
    return frame[62:] if struct.unpack_from("!H", frame, 56)[0] == 546 else None


def _ask(dev: str, mac: str, stateful: bool, timeout: float) -> Dhcp6Answer | None:
    """Send from port 546 and read the answer off the wire (a packet socket on ``dev``): an instance's own
    DHCPv6 client bound to port 546 may be the socket the kernel hands the reply to."""
    index = socket.if_nametoindex(dev)
    xid = os.urandom(3)
    wanted = ADVERTISE if stateful else REPLY
    with (
        socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IPV6)) as wire,
        socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock,
    ):
        wire.bind((dev, ETH_P_IPV6))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev.encode())
        sock.bind(("::", 546, 0, index))
        sock.sendto(request(mac, stateful, xid), (SERVERS, 547, 0, index))
        deadline = time.monotonic() + timeout
        while select.select([wire], [], [], max(0.0, deadline - time.monotonic()))[0]:
            data = _udp_payload(wire.recv(65535))
            if data is not None and len(data) >= 4 and data[0] == wanted and data[1:4] == xid:
                return parse(data)
    return None


def ask(ns: str, dev: str, mac: str, stateful: bool, timeout: float = 3.0) -> Dhcp6Answer | None:
    """Ask the DHCPv6 server on ``dev``'s link from namespace ``ns``; None when nobody answered in time
    (the interface's link-local address must be usable: no longer tentative)."""
    return netns.run_in(ns, _ask, dev, mac, stateful, timeout)
