"""Router advertisements: one radvd per router, in its ``qrouter-`` namespace, advertising on its ``qr-`` devices.

Why radvd (as Neutron) rather than dnsmasq's RA: the flags a subnet's ``ipv6_ra_mode`` implies are set exactly
and per device (``AdvManagedFlag`` for ``dhcpv6-stateful``, ``AdvOtherConfigFlag`` for ``dhcpv6-stateless``,
``AdvAutonomous`` on a prefix for SLAAC and stateless only, ``AdvLinkMTU`` from the network), and the
advertisements come from the router's own ``qr-`` device — its link-local address becomes the instances'
default gateway — while DHCPv6 stays with the network's dnsmasq in ``qdhcp-``. dnsmasq's RA derives the flags
from its DHCP ranges, so it would have to run in the router namespace as a second DHCPv6 server to say "M".

The configuration is one text (:func:`render`, pure: the planner compares it with what runs); a changed text is
written atomically and radvd re-reads it on SIGHUP; a process is signalled only after its command line shows it
is the radvd started for that router (a PID can be reused).
"""

from __future__ import annotations

import os
import re
import signal
from dataclasses import dataclass
from pathlib import Path

from floatnet.linux import daemons
from floatnet.linux import netns as _netns
from floatnet.linux.dnsmasq import write_atomically
from floatnet.linux.errors import KernelError
from floatnet.linux.ovs_daemon import pid_alive

IPV6_MIN_MTU = 1280  # a smaller link MTU is not advertised (RFC 8200; Neutron's template does the same)
MIN_INTERVAL, MAX_INTERVAL = 3, 10  # seconds between unsolicited advertisements (solicited ones come at once)
MODES = ("slaac", "dhcpv6-stateless", "dhcpv6-stateful")


@dataclass(frozen=True)
class RaPrefix:
    """One IPv6 subnet advertised on a device and its ``ipv6_ra_mode``."""

    cidr: str
    mode: str


@dataclass(frozen=True)
class RaInterface:
    """A ``qr-`` device that advertises: its network's MTU and its prefixes."""

    dev: str
    mtu: int | None
    prefixes: tuple[RaPrefix, ...]


def render(interfaces: tuple[RaInterface, ...]) -> str:
    """radvd's configuration for ``interfaces``: per device the M/O flags its prefixes' modes imply (M for
    stateful, O for stateless), the MTU, and each prefix on-link, autonomous unless stateful. Raises
    ValueError for an unknown mode (the planner's caller isolates that router)."""
    blocks = []
    for itf in sorted(interfaces, key=lambda i: i.dev):
        modes = {p.mode for p in itf.prefixes}
        if modes - set(MODES):
            raise ValueError(f"unknown ipv6_ra_mode {sorted(modes - set(MODES))} on {itf.dev}")
        lines = [f"interface {itf.dev}", "{", "    AdvSendAdvert on;",
                 f"    MinRtrAdvInterval {MIN_INTERVAL};", f"    MaxRtrAdvInterval {MAX_INTERVAL};"]  # fmt: skip
        if itf.mtu is not None and itf.mtu >= IPV6_MIN_MTU:
            lines.append(f"    AdvLinkMTU {itf.mtu};")
        if "dhcpv6-stateful" in modes:
            lines.append("    AdvManagedFlag on;")
        if "dhcpv6-stateless" in modes:
            lines.append("    AdvOtherConfigFlag on;")
        for prefix in sorted(itf.prefixes, key=lambda p: p.cidr):
            auto = "off" if prefix.mode == "dhcpv6-stateful" else "on"
            lines += [f"    prefix {prefix.cidr}", "    {", "        AdvOnLink on;", f"        AdvAutonomous {auto};",
                      "    };"]  # fmt: skip
        blocks.append("\n".join([*lines, "};"]))
    return "".join(f"{b}\n" for b in blocks)


def _in_netns(pid: int, netns: str) -> bool:
    """Whether process ``pid`` runs in the namespace now named ``netns`` (compared by inode)."""
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino == _netns.inode(netns)
    except (OSError, KernelError):
        return False


class Radvd:
    """The radvd processes of one agent; each router's files live in ``state_dir/<router_id>/``."""

    def __init__(self, state_dir: str | os.PathLike[str]) -> None:
        self.state_dir = Path(state_dir).resolve()

    def _dir(self, router_id: str) -> Path:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", router_id) or router_id in (".", ".."):
            raise KernelError("radvd", repr(router_id), "invalid router id")
        return self.state_dir / router_id

    def pid(self, router_id: str) -> int | None:
        """The PID of this router's radvd if it runs (checked against its command line), else None."""
        pidfile = self._dir(router_id) / "pid"
        try:
            pid = int(pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid, str(pidfile)) else None

    def running(self) -> dict[str, int]:
        """``{router_id: pid}`` of the radvd processes this agent started that still run."""
        if not self.state_dir.is_dir():
            return {}
        found = ((entry.name, self.pid(entry.name)) for entry in sorted(self.state_dir.iterdir()) if entry.is_dir())
        return {router_id: pid for router_id, pid in found if pid is not None}

    def running_config(self, router_id: str, netns: str) -> str | None:
        """The configuration the router's radvd advertises in ``netns``; None when none runs there (one left in
        a deleted namespace of the same name advertises on nothing)."""
        pid = self.pid(router_id)
        if pid is None or not _in_netns(pid, netns):
            return None
        try:
            return (self._dir(router_id) / "radvd.conf").read_text()
        except OSError:
            return ""

    def ensure(self, router_id: str, netns: str, config: str) -> str:
        """Make the router's radvd advertise ``config``; returns started | reloaded | unchanged."""
        d = self._dir(router_id)
        d.mkdir(parents=True, exist_ok=True)
        changed = write_atomically(d / "radvd.conf", config)
        pid = self.pid(router_id)
        if pid is not None and _in_netns(pid, netns):
            if not changed:
                return "unchanged"
            os.kill(pid, signal.SIGHUP)
            return "reloaded"
        if pid is not None:  # left behind in a deleted namespace of the same name
            self._terminate(router_id, pid)
        self._start(router_id, netns)
        return "started"

    def _start(self, router_id: str, netns: str) -> int:
        """Run radvd in the namespace; it daemonizes once its configuration was read."""
        d = self._dir(router_id)
        (d / "pid").unlink(missing_ok=True)
        argv = ["radvd", "-C", str(d / "radvd.conf"), "-p", str(d / "pid"), "-m", "logfile", "-l", str(d / "log")]
        return daemons.start(netns, argv, "start radvd", router_id, lambda: self.pid(router_id))

    def _terminate(self, router_id: str, pid: int) -> None:
        daemons.terminate(pid, str(self._dir(router_id) / "pid"))

    def stop(self, router_id: str) -> bool:
        """Stop the router's radvd (by its checked PID) and remove its files; True if one was running."""
        d = self._dir(router_id)
        pid = self.pid(router_id)
        if pid is not None:
            self._terminate(router_id, pid)
        daemons.remove_files(d)
        return pid is not None
