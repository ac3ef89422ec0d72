"""Gratuitous ARP from raw sockets kept per namespace: the first announcement at once, the repeats later.

After a floating IP appears on (or moves to) a router's gateway device, upstream neighbours keep the old MAC
for a while (a moved IP was unreachable ~38 s in our tests), and one that asked for the address before the
router held it waits a second for its next ARP request, until a gratuitous ARP updates them. ``arping`` takes
about a second per call, so floatnet crafts the frames itself: :func:`announce` sends the first request and
reply from the caller's thread on a packet socket kept for the namespace and device (microseconds, no thread
started, nothing raised) and leaves the repeats, ``interval`` apart, to one long-lived sender thread; failures
are logged. A thread per announcement (and one more to enter the namespace) cost an association tens of
milliseconds on a loaded node, the new threads contending for the interpreter lock with the agent's loop.
"""

from __future__ import annotations

import heapq
import ipaddress
import logging
import socket
import struct
import threading
import time
from collections.abc import Iterable

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


class _Devices:
    """The packet sockets of one namespace, one per device announced on (opened inside it on first use)."""

    def __init__(self, name: str | None) -> None:
        self.name = name
        self.lock = threading.Lock()
        self.sockets: dict[str, socket.socket] = {}

    def send(self, ifname: str, ip: str) -> None:
        """A request and a reply for ``ip``; a socket whose device went (re-created since) is reopened once."""
        for attempt in (0, 1):
            with self.lock:
                sock = self.sockets.get(ifname)
                if sock is None:
                    sock = self.sockets[ifname] = _netns.run_in(self.name, _open, ifname)
                try:
                    mac = sock.getsockname()[4]
                    sock.send(frame(mac, ip, 1))
                    sock.send(frame(mac, ip, 2))
                    return
                except OSError:
                    self.sockets.pop(ifname).close()
                    if attempt:
                        raise

    def close(self) -> None:
        with self.lock:
            for sock in self.sockets.values():
                sock.close()
            self.sockets.clear()


_devices: _netns.Handles[_Devices] = _netns.Handles(_Devices, _Devices.close)


def _send(netns: str | None, ifname: str, ip: str) -> None:
    """One announcement; errors (a missing namespace or device) are logged, never raised."""
    try:
        _devices.get(netns).send(ifname, ip)
    except Exception as exc:
        log.warning("gratuitous ARP for %s on %s (netns %s): %s", ip, ifname, netns, exc)


class _Repeater(threading.Thread):
    """Sends scheduled announcements when they are due: one daemon thread for the whole process, started on
    first use."""

    def __init__(self) -> None:
        super().__init__(name="garp", daemon=True)
        self.cond = threading.Condition()
        self.due: list[tuple[float, int, str | None, str, str, int, float]] = []  # at, order, where, what, left
        self.order = 0

    def schedule(self, at: float, netns: str | None, ifname: str, ips: Iterable[str], left: int, every: float) -> None:
        """Announce ``ips`` at ``at``, then ``left - 1`` more times ``every`` seconds apart."""
        with self.cond:
            for ip in ips:
                self.order += 1
                heapq.heappush(self.due, (at, self.order, netns, ifname, ip, left, every))
            self.cond.notify()

    def run(self) -> None:
        while True:
            with self.cond:
                while not self.due or self.due[0][0] > time.monotonic():
                    self.cond.wait(self.due[0][0] - time.monotonic() if self.due else None)
                at, _, netns, ifname, ip, left, every = heapq.heappop(self.due)
            _send(netns, ifname, ip)
            if left > 1:
                self.schedule(at + every, netns, ifname, (ip,), left - 1, every)


_repeater = _Repeater()
_repeater_started = threading.Lock()


def _later() -> _Repeater:
    with _repeater_started:
        if not _repeater.is_alive():
            _repeater.start()
    return _repeater


def announce(netns: str | None, ifname: str, ips: Iterable[str], count: int = 3, interval: float = 0.2) -> None:
    """Announce each of ``ips`` on ``ifname`` ``count`` times (request + reply each), ``interval`` s apart:
    the first time now, from the calling thread; the others from the sender thread. Never raises."""
    ips = tuple(ips)
    for ip in ips:
        _send(netns, ifname, ip)
    if count > 1 and ips:
        _later().schedule(time.monotonic() + interval, netns, ifname, ips, count - 1, interval)


def announce_later(netns: str | None, ifname: str, ips: Iterable[str], count: int = 1, interval: float = 0.2) -> None:
    """Like :func:`announce` but every time from the sender thread (a cold sync's thousands of addresses
    beyond the first few: the caller does not wait for them)."""
    _later().schedule(time.monotonic(), netns, ifname, ips, count, interval)
