"""Checks a person (or ``floatnet demo``) runs against a floating IP, from the lab's namespaces.

Each proof returns a :class:`Proof`: a one-line claim, whether it held, and what was seen. They use
independent tools (``ping``, ``getent``, the lab's whoami probe), never floatnet's own view of itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass

from floatnet.lab.names import WEB_SERVER, WHOAMI_PORT


@dataclass(frozen=True)
class Proof:
    claim: str
    ok: bool
    seen: str


def _in_ns(ns: str, argv: list[str], timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True, text=True, timeout=timeout,
                          check=False)  # fmt: skip


def whoami(ns: str, host: str, timeout: float = 2.0) -> dict[str, str] | None:
    """``{"peer", "server"}`` from the whoami server on ``host``:80 seen from ``ns``; None if unreachable."""
    argv = [
        sys.executable,
        "-m",
        "floatnet.lab.probe",
        "get",
        host,
        str(WHOAMI_PORT),
        "--timeout",
        str(timeout),
    ]
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


def seen_as(ns: str, source: str, claim: str) -> Proof:
    seen = whoami(ns, WEB_SERVER)
    ok = seen is not None and seen.get("peer") == source
    return Proof(claim, ok, f"{WEB_SERVER} saw {seen['peer']}" if seen else f"{WEB_SERVER} unreachable")


def resolves(ns: str, name: str, expected: str, claim: str) -> Proof:
    proc = _in_ns(ns, ["getent", "ahostsv4", name])
    got = proc.stdout.split()[0] if proc.stdout.split() else ""
    return Proof(claim, got == expected, f"{name} -> {got or 'nothing'}")
