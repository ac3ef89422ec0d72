"""Gratuitous ARP, sent in the background from a raw socket inside the namespace.

After a floating IP appears on (or moves to) a router's gateway device, upstream neighbours keep the old MAC
for a while (a moved IP was unreachable ~38 s in our tests) until a gratuitous ARP updates them. ``arping``
takes about a second per call, so floatnet crafts the frame itself and sends it from a thread: the caller's
reconcile loop never waits and never sees an exception from it.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import struct
import threading
import time

from floatnet.linux import netns as _netns

log = logging.getLogger(__name__)
ETH_P_ARP = 0x0806
BROADCAST = b"\xff" * 6


def frame(mac: bytes, ip: str, op: int) -> bytes:
    """An Ethernet broadcast ARP frame announcing ``ip`` at ``mac`` (op 1 request, 2 reply; sender =
    target)."""
    addr = ipaddress.IPv4Address(ip).packed
    eth = BROADCAST + mac + struct.pack("!H", ETH_P_ARP)
    target_mac = b"\x00" * 6 if op == 1 else BROADCAST
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, op) + mac + addr + target_mac + addr
    return eth + arp


def _open(ifname: str) -> socket.socket:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
    try:
        sock.bind((ifname, 0))
    except OSError:
        sock.close()
        raise
    return sock


def _send(netns: str | None, ifname: str, ip: str, count: int, interval: float) -> None:
    try:
        sock = _netns.run_in(netns, _open, ifname)
    except Exception as exc:  # never raise into the caller: log and give up
        log.warning("gratuitous ARP for %s on %s (netns %s): %s", ip, ifname, netns, exc)
        return
    try:
        mac = sock.getsockname()[4]
        for i in range(count):
            if i:
                time.sleep(interval)
            sock.send(frame(mac, ip, 1))
            sock.send(frame(mac, ip, 2))
    except Exception as exc:
        log.warning("gratuitous ARP for %s on %s (netns %s): %s", ip, ifname, netns, exc)
    finally:
        sock.close()


def send_gratuitous(netns: str | None, ifname: str, ip: str, count: int = 3, interval: float = 0.2) -> threading.Thread:
    """Announce ``ip`` on ``ifname`` ``count`` times (request + reply each), ``interval`` s apart.

    Returns at once with the (daemon) sending thread; errors are logged, never raised.
    """
    worker = threading.Thread(target=_send, args=(netns, ifname, ip, count, interval), name=f"garp:{ip}", daemon=True)
    worker.start()
    return worker
