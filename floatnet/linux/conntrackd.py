"""Connection-tracking sync for HA routers (``[agent] ha_conntrackd_enabled``): one conntrackd per HA router
replica, in its ``qrouter-`` namespace, beside keepalived (:mod:`floatnet.linux.keepalived`).

Without it a takeover hands the floating IPs to a replica whose kernel has never seen the sessions through
them: a NATed TCP session established before the failover has no conntrack entry there. With it, every replica
runs conntrackd in FTFW mode (reliable: sequence numbers, acknowledgements, retransmission) and the replicas'
daemons send each other their kernel's connection events over the router's HA device — multicast to
:data:`SYNC_GROUP` on UDP port ``BASE_PORT + vr_id``, so the routers of one project, which share its HA network,
never read each other's state. A BACKUP injects what the MASTER sends straight into its kernel table
(``DisableExternalCache On``) rather than keeping it in conntrackd's external cache for a commit at the
takeover, as conntrackd's primary-backup example does: keepalived runs the notify script only after it took
the addresses, and on a busy node the instance's next packet reached the new MASTER before that commit — found
no entry, was picked up as new outbound traffic and NATed otherwise, and the client reset the session (the
dataplane test's session was cut in 4 of 5 runs on a loaded machine; with the entries already in the kernel,
in none). keepalived's notify script (:func:`notify_script`) then has the new MASTER flush conntrackd's
caches (``-f``), resynchronise its internal cache with the kernel (``-R``) and send the lot to the others
(``-B``); a replica that became BACKUP asks the MASTER for its state (``-n``). A former MASTER's own entries
stay in its kernel, overwritten or destroyed by the new MASTER's events (a purge, ``-t``, would now also
remove the entries just injected).

A conntrackd (re)started asks the others for their state (``StartupResync``), so a replica whose daemon the
agent restarted does not wait for every session's next event to know it.

conntrackd writes no pidfile and cannot re-read its configuration: floatnet starts it in the foreground under
``sh`` and records ``$!`` as its PID (trusted only while its command line names this router's configuration
file), and a changed configuration is a restart. Its lock file and control socket are per router, in the same
directory as the configuration; a killed daemon's leftovers are removed before the next start. The control
socket is named through the process's working directory (:data:`SOCKET_VIA_CWD`; conntrackd accepts only
absolute paths) and the daemon and every client (the notify script) run in that directory: a unix socket path
holds at most 107 bytes, which the absolute path under a deep state directory (a lab node's: ~120) exceeds —
such a configuration could not be rendered, which stopped the whole router's plan, keepalived included, so no
replica ever became active.

conntrackd joins the sync group on the ``ha-`` device it found at its start and never looks again: a device
deleted and re-created (re-plugged by the agent) leaves it alive but deaf and mute. It is started for the
device its configuration names (``device_pattern``), and one whose device is no longer that one observes as not
running, so the agent's next reconcile restarts it (:class:`floatnet.linux.daemons.RouterDaemon`).

Every client call in the notify script is bounded (:data:`CLIENT_TIMEOUT`): a daemon busy with its startup
resync, or not answering at all, must not hold keepalived's transition script (its next one queues behind it).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

from floatnet.linux import daemons

SYNC_GROUP = "225.0.0.50"  # conntrackd's documented multicast group
BASE_PORT = 3780  # conntrackd's documented port; + the router's VRRP id (1..254), unique on an HA network
LOCK, SOCKET, LOG, NOTIFY = "lock", "ctl", "conntrackd.log", "notify.sh"
CONFIG = "conntrackd.conf"
# the control socket as conntrackd (which wants an absolute path) binds and its clients find it: in the directory
# the process runs in, however deep (a unix socket path holds 107 bytes)
SOCKET_VIA_CWD = f"/proc/self/cwd/{SOCKET}"
CLIENT_TIMEOUT = 5  # seconds a notify script waits for one conntrackd client call (a commit of a small table takes ms)


@dataclass(frozen=True)
class SyncInstance:
    """One replica's sync: over ``ha_dev``, from its own HA address ``ha_address`` (no prefix length)."""

    vr_id: int
    ha_dev: str
    ha_address: str


def render(instance: SyncInstance, directory: Path) -> str:
    """conntrackd's configuration for ``instance`` with its files in ``directory`` (pure: the planner compares
    it with the file that runs; the control socket through the working directory, ``directory`` for the
    daemon and its clients, so any directory serves). Raises ValueError for an id or address conntrackd would refuse."""
    if not 1 <= instance.vr_id <= 254:
        raise ValueError(f"VRRP id {instance.vr_id} is outside 1..254")
    try:
        address = ipaddress.IPv4Address(instance.ha_address)
    except ValueError:
        raise ValueError(f"HA address {instance.ha_address!r} is not an IPv4 address") from None
    lines = [
        "Sync {", "    Mode FTFW {", "        DisableExternalCache On", "        StartupResync on", "    }",
        "    Multicast {",
        f"        IPv4_address {SYNC_GROUP}",
        f"        Group {BASE_PORT + instance.vr_id}", f"        IPv4_interface {address}",
        f"        Interface {instance.ha_dev}", "        SndSocketBuffer 1249280", "        RcvSocketBuffer 1249280",
        "        Checksum on", "    }", "}",
        "General {", "    HashSize 8192", "    HashLimit 65536", f"    LogFile {directory / LOG}", "    Syslog off",
        f"    LockFile {directory / LOCK}", "    UNIX {", f"        Path {SOCKET_VIA_CWD}", "        Backlog 20",
        "    }", "    NetlinkBufferSize 2097152", "    NetlinkBufferSizeMaxGrowth 8388608",
        "    Filter From Userspace {", "        Protocol Accept {", "            TCP", "            UDP", "        }",
        "        Address Ignore {", "            IPv4_address 127.0.0.1", "            IPv4_address 169.254.0.0/16",
        "        }", "    }", "}",
    ]  # fmt: skip
    return "\n".join(lines) + "\n"


def notify_script(directory: Path) -> str:
    """The script keepalived runs on a transition (``$1``: master, backup or fault): on MASTER flush conntrackd's
    caches, resynchronise the internal one with the kernel and send it to the others; otherwise ask the MASTER
    for its state (see the module docstring). Every step may fail (conntrackd not running yet) or hang
    (answering nothing): each is bounded by :data:`CLIENT_TIMEOUT`, a transition never waits longer. It runs in
    ``directory``, where the control socket's path (:data:`SOCKET_VIA_CWD`) points."""
    return "\n".join([
        "#!/bin/sh", f"cd {directory} || exit 0",
        f"c() {{ timeout -s KILL {CLIENT_TIMEOUT} conntrackd -C {directory / CONFIG} \"$@\" >/dev/null 2>&1; }}",
        'case "$1" in', "    master) c -f; c -R; c -B ;;", "    *) c -n ;;", "esac", "exit 0", "",
    ])  # fmt: skip


class Conntrackd(daemons.RouterDaemon):
    """The conntrackd processes of one agent; each router's files live in ``state_dir/<router_id>/``."""

    name, config_name, needle_name = "conntrackd", CONFIG, CONFIG
    reloads = False
    stale_names = (LOCK, SOCKET)
    device_pattern = r"^ +Interface (\S+)$"

    def ensure(self, router_id: str, netns: str, config: str) -> str:
        """Make the router's conntrackd run ``config`` (started, restarted on a change or when its HA device was
        re-created, or unchanged), with the notify script keepalived calls beside it."""
        directory = self.dir(router_id)
        directory.mkdir(parents=True, exist_ok=True)
        daemons.write_atomically(directory / NOTIFY, notify_script(directory))
        return super().ensure(router_id, netns, config)

    def argv(self, directory: Path) -> list[str]:
        """conntrackd in the foreground in ``directory`` (where its control socket's path points), backgrounded by
        ``sh``, which writes its PID."""
        script = 'cd "$3" || exit 1; conntrackd -C "$1" </dev/null >/dev/null 2>&1 & echo $! >"$2"'
        return ["sh", "-c", script, "sh", str(directory / CONFIG), str(directory / "pid"), str(directory)]
