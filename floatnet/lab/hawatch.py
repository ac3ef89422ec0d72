"""Watching a floating IP through a failover from the lab's upstream (``python -m floatnet.lab.hawatch FIP``).

Run inside the upstream namespace, it sends at ``--rate`` per second (default 20) two probes, each timestamped
with the wall clock (so a caller can put its own ``node fail`` on the same axis):

* an **ICMP echo** to the floating IP — through the active replica's DNAT to the instance and back, the end-to-end
  answer a user sees; a reply later than ``--timeout`` counts as lost;
* an **ARP probe** for the floating IP (RFC 5227: sender address 0.0.0.0, so no responder learns anything from it
  and the upstream's own neighbour traffic, addressed to 203.0.113.1, is never mistaken for an answer). Every
  replica holding the address answers it; the HA replicas share the gateway port's MAC, so two active replicas
  show as **two answers to one probe** (or two MACs), which is what :func:`duplicates` counts. Gratuitous ARPs
  (a takeover's announcement) are recorded apart.

It stops after ``--duration`` seconds or on SIGTERM/SIGINT and prints one JSON object: the probes as
``[sent, replied or null]`` and the ARP answers as ``[at, probe index, mac]``. :func:`outages` and
:func:`duplicates` read it (pure, for the e2e tests, the demo and ``bench/ha_failover.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

ETH_P_ARP = 0x0806
BROADCAST = b"\xff" * 6
ICMP_ECHO, ICMP_REPLY = 8, 0
ARP_REQUEST, ARP_REPLY = 1, 2
# floatnet's tuned VRRP advertisement interval for the lab (``[DEFAULT] ha_vrrp_advert_int``; Neutron's default is
# 2 s): a BACKUP takes over after 3 intervals plus its skew, about 1.1 s, against about 7.6 s with 2 s.
TUNED_ADVERT_INT = 0.3
LATE_S = 0.5  # how late an ARP answer may still be one probe's (it arrives in a later probe's window)


@dataclass
class Record:
    """What one watch saw: ICMP probes ``[sent, replied or None]``, ARP answers ``[at, probe index, mac]`` and
    gratuitous ARPs ``[at, mac]`` for the watched address, and the probe interval."""

    interval: float
    probes: list[list[float | None]] = field(default_factory=list)
    answers: list[list[Any]] = field(default_factory=list)
    garps: list[list[Any]] = field(default_factory=list)
    arp_sent: list[float] = field(default_factory=list)


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    return ~(total + (total >> 16)) & 0xFFFF


def _echo(ident: int, seq: int) -> bytes:
    head = struct.pack("!BBHHH", ICMP_ECHO, 0, 0, ident, seq)
    return struct.pack("!BBHHH", ICMP_ECHO, 0, _checksum(head + b"floatnet"), ident, seq) + b"floatnet"


def _arp_probe(mac: bytes, target: str) -> bytes:
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, ARP_REQUEST, mac, b"\0" * 4, b"\0" * 6,
                      socket.inet_aton(target))  # fmt: skip
    return BROADCAST + mac + struct.pack("!H", ETH_P_ARP) + arp


def _device_to(target: str) -> str:
    """The upstream's device towards ``target`` (its route)."""
    out = subprocess.run(["ip", "-j", "route", "get", target], capture_output=True, text=True, check=True).stdout
    return str(json.loads(out)[0]["dev"])


class Watch:
    """The two sockets and the probe schedule; :meth:`run` fills a :class:`Record`."""

    def __init__(self, target: str, rate: float, timeout: float) -> None:
        self.target, self.timeout = target, timeout
        self.record = Record(interval=1.0 / rate)
        self.ident = os.getpid() & 0xFFFF
        self.icmp = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        self.arp = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
        self.arp.bind((_device_to(target), ETH_P_ARP))
        self.mac = self.arp.getsockname()[4][:6]

    def _send(self) -> None:
        seq = len(self.record.probes)
        now = time.time()
        self.record.probes.append([now, None])
        self.record.arp_sent.append(now)
        try:  # a probe that cannot even leave (the upstream's link is down) is a lost one
            self.icmp.sendto(_echo(self.ident, seq & 0xFFFF), (self.target, 0))
            self.arp.send(_arp_probe(self.mac, self.target))
        except OSError:
            pass

    def _icmp_in(self) -> None:
        try:
            data, (source, _) = self.icmp.recvfrom(2048)
        except OSError:  # e.g. ENETDOWN, once, while a link of the lab changes: the probe goes on
            return
        header = (data[0] & 0x0F) * 4
        kind, _, _, ident, seq = struct.unpack("!BBHHH", data[header : header + 8])
        if kind != ICMP_REPLY or ident != self.ident or source != self.target:
            return
        now, probes = time.time(), self.record.probes
        for index in range(len(probes) - 1, -1, -1):  # the newest probe of that 16-bit sequence number
            if index & 0xFFFF == seq:
                if probes[index][1] is None and now - float(probes[index][0] or 0) <= self.timeout:
                    probes[index][1] = now
                return

    def _arp_in(self) -> None:
        try:
            frame = self.arp.recv(2048)
        except OSError:  # as in _icmp_in
            return
        if len(frame) < 42:
            return
        op, sha, spa, _tha, tpa = struct.unpack("!6xH6s4s6s4s", frame[14:42])
        if socket.inet_ntoa(spa) != self.target:
            return
        mac, now = sha.hex(":"), time.time()
        if op == ARP_REPLY and tpa == b"\0" * 4:
            self.record.answers.append([now, len(self.record.arp_sent) - 1, mac])
        elif tpa == spa:
            self.record.garps.append([now, mac])

    def run(self, duration: float, stopped: list[bool]) -> Record:
        """Probe until ``duration`` has passed or ``stopped[0]``; then wait one timeout for late replies."""
        start = time.monotonic()
        end, tick = start + duration, 0
        while not stopped[0] and time.monotonic() < end:
            due = start + tick * self.record.interval
            if time.monotonic() >= due:
                self._send()
                tick += 1
            ready, _, _ = select.select([self.icmp, self.arp], [], [], max(0.0, due - time.monotonic()))
            for sock in ready:
                self._icmp_in() if sock is self.icmp else self._arp_in()
        self._drain()
        return self.record

    def _drain(self) -> None:
        end = time.monotonic() + self.timeout
        while (left := end - time.monotonic()) > 0:
            ready, _, _ = select.select([self.icmp, self.arp], [], [], left)
            for sock in ready:
                self._icmp_in() if sock is self.icmp else self._arp_in()


class Watcher:
    """A watch running in a namespace as its own process (``start`` … ``stop``): the caller's view of it."""

    def __init__(self, ns: str, target: str, rate: float = 20.0, python: str = sys.executable) -> None:
        argv = [python, "-m", "floatnet.lab.hawatch", target, "--rate", str(rate)]
        self.proc = subprocess.Popen(["ip", "netns", "exec", ns, *argv], stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        first = self.proc.stdout.readline()
        if not first:
            self.proc.wait(5)
            raise RuntimeError(f"hawatch in {ns} did not start (exit {self.proc.returncode})")
        self.started = float(json.loads(first)["started"])

    def stop(self) -> dict[str, Any]:
        """End the watch (SIGTERM, by PID) and return its record."""
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=30)
        return dict(json.loads(out.strip().splitlines()[-1]))


def outages(record: dict[str, Any], start: float = 0.0, end: float = float("inf")) -> list[dict[str, float]]:
    """The runs of lost ICMP probes sent within ``[start, end]`` (wall clock), each as ``{"from": sent time of
    its first lost probe, "seconds": until the first answered probe after it, "lost": probes}``; a run still
    open at the end counts to the last probe sent."""
    probes = [p for p in record["probes"] if start <= p[0] <= end]
    runs: list[dict[str, float]] = []
    first: float | None = None
    lost = 0
    for sent, replied in probes:
        if replied is None:
            first, lost = (sent if first is None else first), lost + 1
        elif first is not None:
            runs.append({"from": first, "seconds": sent - first, "lost": lost})
            first, lost = None, 0
    if first is not None:
        runs.append({"from": first, "seconds": probes[-1][0] - first + record["interval"], "lost": lost})
    return runs


def duplicates(record: dict[str, Any], start: float = 0.0, end: float = float("inf")) -> list[dict[str, Any]]:
    """The ARP probes (sent within ``[start, end]``) answered by two MACs, or more often than late answers
    explain: two replicas holding the floating IP at once.

    The replicas share the gateway port's MAC, so an answer is tied to a probe only by when it arrives (the
    watcher files it under the newest probe sent). On a loaded machine an answer later than the probe interval
    lands in the next probe's window and leaves its own probe unanswered: one late answer, not two replicas
    (measured at load 15: such pairs while the other replica was powered off). So answers are matched in order
    to the oldest probe still unanswered, sent at most :data:`LATE_S` before; an answer left without a probe is
    a second one. (Right after an outage the unanswered probes of its last LATE_S absorb that many; two
    replicas answering go on longer than that.)"""
    sent, pending, probe = record["arp_sent"], deque[int](), 0
    extra: Counter[int] = Counter()
    counts = Counter(index for _at, index, _mac in record["answers"])
    macs: dict[int, set[str]] = {}
    for at, index, mac in sorted(record["answers"]):
        macs.setdefault(index, set()).add(mac)
        while probe <= index:
            pending.append(probe)
            probe += 1
        while pending and at - sent[pending[0]] > LATE_S:
            pending.popleft()
        if pending:
            pending.popleft()
        else:
            extra[index] += 1
    return [{"at": sent[i], "answers": counts[i], "macs": sorted(found)} for i, found in sorted(macs.items())
            if (extra[i] or len(found) > 1) and start <= sent[i] <= end]  # fmt: skip


def macs(record: dict[str, Any], start: float = 0.0, end: float = float("inf")) -> list[str]:
    """The MACs that answered ARP for the watched address within ``[start, end]``, in order of first answer."""
    return list(dict.fromkeys(mac for at, _i, mac in record["answers"] if start <= at <= end))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m floatnet.lab.hawatch", description=__doc__.split("\n")[0])
    parser.add_argument("target")
    parser.add_argument("--rate", type=float, default=20.0, help="probes per second (each: ICMP + ARP)")
    parser.add_argument("--duration", type=float, default=3600.0, help="seconds (SIGTERM ends it earlier)")
    parser.add_argument("--timeout", type=float, default=1.0, help="an ICMP reply later than this is lost")
    args = parser.parse_args(argv)
    stopped = [False]

    def stop(_signum: int, _frame: object) -> None:
        stopped[0] = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    watch = Watch(args.target, args.rate, args.timeout)
    print(json.dumps({"watching": args.target, "started": time.time()}), flush=True)
    record = watch.run(args.duration, stopped)
    print(json.dumps(record.__dict__), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
