"""VRRP for HA routers (l3-ha): one keepalived per HA router replica, in its ``qrouter-`` namespace.

Every replica of a router runs the same VRRP instance on its HA device (``ha-<port id[:11]>``, on the project's
HA network), all in state BACKUP with equal priority and ``nopreempt``: the replicas elect one MASTER, and a
replica that comes back never takes the role from a live MASTER (a takeover costs an outage; a second one for
nothing is worse). What makes a replica the active router is the addresses keepalived puts on it as MASTER and
removes as BACKUP:

* the **primary VIP** ``169.254.0.<vr_id>/24`` on the HA device, the one address the VRRP advertisements carry
  (Neutron's choice; :func:`primary_vip`), which is also how the agent reads a replica's state
  (:meth:`Keepalived.is_master`);
* in ``virtual_ipaddress_excluded`` (kept out of the advertisements, so there is no limit of 20 and adding one
  changes nothing the peers compare): the gateway address, the internal gateway addresses and every floating IP
  as a /32 on the gateway device — so only the MASTER answers ARP for them — and the default route through the
  upstream gateway in ``virtual_routes``.

Takeover announces itself with gratuitous ARPs at once and again ``garp_master_delay`` later (upstream caches
and switches learn the new MAC), refreshed every ``garp_master_refresh`` seconds. The advertisement interval is
``[DEFAULT] ha_vrrp_advert_int`` (Neutron's 2 s; a BACKUP takes over after about 3 intervals of silence); a
fractional interval needs VRRP version 3 (centiseconds), which :func:`render` selects. A keepalived just
started waits ``VRRP_STARTUP_DELAY`` before its instance runs, so a returning node whose switch does not forward
the HA network yet does not elect itself beside the live MASTER.

With conntrackd (:mod:`floatnet.linux.conntrackd`), keepalived runs its notify script on every transition, so
the new MASTER commits the connection state the old one synced to it.

Configuration changes (a floating IP added or removed) are a rewrite of the file and SIGHUP: keepalived re-reads
it without a transition, the MASTER adds or removes the address in place. An ``ha-`` device deleted and
re-created under it leaves keepalived FAULT for good (it keeps the old device's index): it is restarted then
(``device_pattern``). Processes are started, checked and
stopped as radvd's (:class:`floatnet.linux.daemons.RouterDaemon`); keepalived forks a VRRP child whose PID it
writes to ``vrrp.pid``.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from floatnet.linux import daemons
from floatnet.linux import netns as _netns
from floatnet.linux.errors import KernelError
from floatnet.linux.ovs_daemon import pid_alive

PRIORITY = 50  # every replica the same: the election falls to the highest HA address, then nopreempt holds
GARP_MASTER_DELAY = 1  # seconds until the second burst of gratuitous ARPs after a takeover
GARP_MASTER_REPEAT = 3
GARP_MASTER_REFRESH = 10
PRIMARY_VIP_PREFIX = "169.254.0."
# seconds keepalived waits after it starts before its instance runs: a node coming back starts it as soon as the
# devices exist, while its switch may not forward the HA network yet; a BACKUP hearing no advertisement then
# elects itself beside the live MASTER (two answers for every floating IP; with equal priorities the higher HA
# address even keeps the role). Costs a new router this much before its first election; a failover nothing.
VRRP_STARTUP_DELAY = 3.0


@dataclass(frozen=True)
class Vip:
    """An address (CIDR notation; a floating IP as /32) the MASTER holds on ``dev``."""

    cidr: str
    dev: str


@dataclass(frozen=True)
class VirtualRoute:
    """A route the MASTER installs: the default route via the upstream gateway (on ``dev``), an extra route
    (``dev`` empty: the kernel finds the device of its nexthop)."""

    destination: str
    nexthop: str
    dev: str = ""


@dataclass(frozen=True)
class HaInstance:
    """One router's VRRP instance on one replica."""

    vr_id: int
    ha_dev: str
    advert_int: float
    vips: tuple[Vip, ...] = ()
    routes: tuple[VirtualRoute, ...] = ()
    notify: str = ""  # a script run with master/backup/fault on each transition (conntrackd's); "" = none


def primary_vip(vr_id: int) -> str:
    """The address advertised by VRRP and held by the MASTER on the HA device (``169.254.0.<vr_id>/24``)."""
    if not 1 <= vr_id <= 254:
        raise ValueError(f"VRRP id {vr_id} is outside 1..254")
    return f"{PRIMARY_VIP_PREFIX}{vr_id}/24"


def holds_primary_vip(addresses: Iterable[str]) -> bool:
    """Whether an HA device's addresses (``ip/len``) include a primary VIP: that replica is the MASTER."""
    return any(address.startswith(PRIMARY_VIP_PREFIX) and address.endswith("/24") for address in addresses)


def _interval(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:.2f}".rstrip("0")


def render(instance: HaInstance) -> str:
    """keepalived's configuration for ``instance`` (pure: the planner compares it with the file that runs).
    Raises ValueError for a VRRP id or an advertisement interval keepalived would refuse."""
    if not 0.01 <= instance.advert_int <= 255:
        raise ValueError(f"advertisement interval {instance.advert_int} is outside 0.01..255 s")
    version = 2 if float(instance.advert_int).is_integer() else 3
    vips = sorted(instance.vips, key=lambda v: (v.dev, ipaddress.ip_interface(v.cidr).version, v.cidr))
    lines = [
        "global_defs {", f"    vrrp_version {version}", f"    vrrp_startup_delay {_interval(VRRP_STARTUP_DELAY)}", "}",
        f"vrrp_instance VR_{instance.vr_id} {{", "    state BACKUP", f"    interface {instance.ha_dev}",
        f"    virtual_router_id {instance.vr_id}", f"    priority {PRIORITY}", "    nopreempt",
        f"    advert_int {_interval(instance.advert_int)}", f"    garp_master_delay {GARP_MASTER_DELAY}",
        f"    garp_master_repeat {GARP_MASTER_REPEAT}", f"    garp_master_refresh {GARP_MASTER_REFRESH}",
        "    track_interface {", f"        {instance.ha_dev}", "    }",
        "    virtual_ipaddress {", f"        {primary_vip(instance.vr_id)} dev {instance.ha_dev}", "    }",
    ]  # fmt: skip
    if vips:
        lines += ["    virtual_ipaddress_excluded {", *(f"        {v.cidr} dev {v.dev}" for v in vips), "    }"]
    if instance.routes:
        routes = sorted(instance.routes, key=lambda r: (r.destination, r.nexthop, r.dev))
        lines += ["    virtual_routes {"]
        lines += [f"        {r.destination} via {r.nexthop}" + (f" dev {r.dev}" if r.dev else "") for r in routes]
        lines.append("    }")
    if instance.notify:
        lines += [f'    notify_{state} "/bin/sh {instance.notify} {state}"' for state in ("master", "backup", "fault")]
    return "\n".join([*lines, "}"]) + "\n"


class Keepalived(daemons.RouterDaemon):
    """The keepalived processes of one agent; each router's files live in ``state_dir/<router_id>/``."""

    name, config_name = "keepalived", "keepalived.conf"
    device_pattern = r"^    interface (\S+)$"  # the HA device its VRRP socket is bound to: restarted when re-created

    def argv(self, directory: Path) -> list[str]:
        """keepalived with the VRRP subsystem only; it daemonizes and forks its VRRP child."""
        return ["keepalived", "-P", "-f", str(directory / self.config_name), "-p", str(directory / "pid"),
                "-r", str(directory / "vrrp.pid")]  # fmt: skip

    def vrrp_pid(self, router_id: str) -> int | None:
        """The PID of the router's VRRP child (the process holding the addresses), if it runs (checked as ours:
        a fork of the keepalived started on this router's files)."""
        directory = self.dir(router_id)
        try:
            pid = int((directory / "vrrp.pid").read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid, str(directory / "pid")) else None

    def clear(self, router_id: str) -> None:
        """Also ``vrrp.pid``: keepalived refuses to start (and exits 0, writing no pidfile) while any process has
        the PID a pidfile of its names — after a node's power loss the dead child's PID may belong to anyone by
        now. A VRRP child of ours that outlived its parent is stopped first (it still holds the addresses)."""
        child = self.vrrp_pid(router_id)
        if child is not None:
            daemons.terminate(child, str(self.dir(router_id) / "pid"))
        (self.dir(router_id) / "vrrp.pid").unlink(missing_ok=True)
        super().clear(router_id)

    def stop(self, router_id: str) -> bool:
        """Stop keepalived (it releases its addresses and tells the peers, so a BACKUP takes over at once) and
        its VRRP child if that outlived it; True if it was running."""
        child = self.vrrp_pid(router_id)
        was_running = super().stop(router_id)
        if child is not None:
            daemons.terminate(child, str(self.dir(router_id) / "pid"))
        return was_running

    @staticmethod
    def is_master(netns: str, ha_dev: str, vr_id: int) -> bool:
        """Whether this replica is the active one: it holds the primary VIP on its HA device."""
        wanted = primary_vip(vr_id).split("/")[0]
        try:
            out = subprocess.run(_netns.exec_argv(netns, ["ip", "-j", "-4", "addr", "show", "dev", ha_dev]),
                                 capture_output=True, text=True, timeout=10, check=True).stdout  # fmt: skip
        except (OSError, subprocess.SubprocessError) as exc:
            raise KernelError("keepalived state", ha_dev, exc) from exc
        infos = json.loads(out or "[]")
        return any(a.get("local") == wanted for info in infos for a in info.get("addr_info", []))
