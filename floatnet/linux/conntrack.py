"""Kill the connection-tracking entries of an address, inside a namespace (OSSN-0020).

Removing a floating IP's NAT does not end sessions already translated: their translation lives in conntrack.
Entries must go in both directions: original destination = the address (inbound flows to the floating IP) and
reply destination = the address (outbound flows SNATed to it, whose replies come back to it).
Uses the ``conntrack`` tool (conntrack-tools) through ``ip netns exec``, argv only.
"""

from __future__ import annotations

import ipaddress
import re
import subprocess

from floatnet.linux import netns as _netns
from floatnet.linux.errors import KernelError

_DELETED = re.compile(r"(\d+) flow entries have been deleted")


def _delete(netns: str, selector: str, ip: str) -> int:
    argv = _netns.exec_argv(netns, ["conntrack", "-D", selector, ip])
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise KernelError("conntrack delete", ip, exc) from exc
    found = _DELETED.search(proc.stderr + proc.stdout)
    if found is None:  # conntrack exits 1 when nothing matched; anything else without the summary is an error
        raise KernelError("conntrack delete", f"{selector} {ip} (netns {netns})", proc.stderr.strip())
    return int(found.group(1))


def flush_address(netns: str, ip: str) -> int:
    """Delete entries whose original destination or reply destination is ``ip``; returns how many went."""
    try:
        addr = str(ipaddress.ip_address(ip))
    except ValueError as exc:
        raise KernelError("conntrack delete", repr(ip), "not an IP address") from exc
    if not _netns.exists(netns):
        raise KernelError("conntrack delete", addr, f"namespace {netns} does not exist")
    return _delete(netns, "--orig-dst", addr) + _delete(netns, "--reply-dst", addr)


def count_address(netns: str, ip: str) -> int:
    """How many entries have ``ip`` as original or reply destination (for diagnose and tests)."""
    total = 0
    for selector in ("--orig-dst", "--reply-dst"):
        argv = _netns.exec_argv(netns, ["conntrack", "-L", selector, ip])
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
        total += sum(1 for line in proc.stdout.splitlines() if line.strip())
    return total
