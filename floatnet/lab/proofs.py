"""Checks a person (or ``floatnet demo``) runs against a floating IP, from the lab's namespaces.

Each proof returns a :class:`Proof`: a one-line claim, whether it held, and what was seen. They use
independent tools (``ping``, ``getent``, the lab's whoami probe), never floatnet's own view of itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from floatnet.lab.names import WEB_SERVER, WHOAMI_PORT


@dataclass(frozen=True)
class Proof:
    claim: str
    ok: bool
    seen: str


def _in_ns(ns: str, argv: list[str], timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True, text=True, timeout=timeout,
                          check=False)  # fmt: skip


def whoami(ns: str, host: str, timeout: float = 2.0, port: int = WHOAMI_PORT) -> dict[str, str] | None:
    """``{"peer", "server"}`` from the whoami server on ``host``:``port`` seen from ``ns``; None if
    unreachable."""
    argv = [sys.executable, "-m", "floatnet.lab.probe", "get", host, str(port), "--timeout", str(timeout)]
    proc = _in_ns(ns, argv)
    if proc.returncode != 0:
        return None
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def ping(ns: str, ip: str, claim: str) -> Proof:
    proc = _in_ns(ns, ["ping", "-c", "3", "-i", "0.2", "-W", "1", ip])
    summary = next(
        (line for line in proc.stdout.splitlines() if "packets transmitted" in line), proc.stderr.strip()
    )
    return Proof(claim, proc.returncode == 0, summary)


def tcp_reaches(ns: str, ip: str, server: str, claim: str) -> Proof:
    seen = whoami(ns, ip)
    ok = seen is not None and seen.get("server") == server
    return Proof(claim, ok, f"answered by {seen['server']}" if seen else "no answer")


def seen_as(ns: str, source: str, claim: str, server: str = WEB_SERVER) -> Proof:
    """Holds when the upstream's whoami on ``server`` saw ``source`` as the connection's source address."""
    seen = whoami(ns, server)
    ok = seen is not None and seen.get("peer") == source
    return Proof(claim, ok, f"{server} saw {seen['peer']}" if seen else f"{server} unreachable")


def resolves(ns: str, name: str, expected: str, claim: str) -> Proof:
    proc = _in_ns(ns, ["getent", "ahostsv4", name])
    got = proc.stdout.split()[0] if proc.stdout.split() else ""
    return Proof(claim, got == expected, f"{name} -> {got or 'nothing'}")


# ---- what must NOT get through (security groups): the sender sees no answer ----


def ping_dropped(ns: str, ip: str, claim: str) -> Proof:
    """Holds when no echo reply comes back (3 requests, 1 s each)."""
    seen = ping(ns, ip, claim)
    return Proof(claim, not seen.ok, seen.seen)


def tcp_dropped(ns: str, ip: str, port: int, claim: str) -> Proof:
    """Holds when a TCP connection to ``ip``:``port`` gets no answer within 2 s (dropped, not refused: a
    refusal would mean the packet reached the instance)."""
    argv = [sys.executable, "-m", "floatnet.lab.probe", "get", ip, str(port), "--timeout", "2"]
    proc = _in_ns(ns, argv)
    lines = proc.stdout.strip().splitlines()
    error = str(json.loads(lines[-1]).get("error", "")) if proc.returncode != 0 and lines else ""
    dropped = proc.returncode != 0 and "Timeout" in error
    return Proof(claim, dropped, "no answer (dropped)" if dropped else (error or "it answered"))


def listening(ns: str, port: int, server: str, claim: str) -> Proof:
    """Holds when the whoami server on ``port`` answers inside ``ns`` itself (the listener does exist)."""
    seen = whoami(ns, "127.0.0.1", port=port)
    ok = seen is not None and seen.get("server") == server
    return Proof(claim, ok, f"answered by {seen['server']}" if seen else "nothing listens")


def eventually(make: Callable[[], Proof], timeout: float) -> Proof:
    """Retry a proof until it holds or ``timeout`` seconds passed; says how long it took (convergence)."""
    start = time.monotonic()
    while True:
        proof = make()
        took = time.monotonic() - start
        if proof.ok or took > timeout:
            return replace(proof, seen=f"{proof.seen} (after {took:.1f} s)")
