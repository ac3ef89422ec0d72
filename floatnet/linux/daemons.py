"""Starting and stopping the per-namespace daemons floatnet runs for its networks and routers (dnsmasq in
``qdhcp-``, radvd, keepalived and conntrackd in ``qrouter-``).

All daemonize and write a pidfile; all outlive an agent restart on purpose, so a PID is only ever trusted
after :func:`floatnet.linux.ovs_daemon.pid_alive` found our pidfile in its command line (a reused PID is
someone else's process). One start, one stop and one file removal serve them all, so they cannot drift apart;
the per-router ones (radvd, keepalived, conntrackd) share :class:`RouterDaemon` too: one configuration file
per router, written atomically, re-read on SIGHUP (or restarted), and — for a daemon bound to a device at its
start (keepalived and conntrackd on the ``ha-`` device) — restarted when that device was re-created.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from floatnet.linux import links
from floatnet.linux import netns as _netns
from floatnet.linux.errors import KernelError
from floatnet.linux.ovs_daemon import pid_alive


def write_atomically(path: Path, content: str) -> bool:
    """Write ``content`` via temp file + rename (no reader sees half a file); False if it was already so."""
    try:
        if path.read_text() == content:
            return False
    except FileNotFoundError:
        pass
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(content)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
    return True


def start(
    netns: str, argv: list[str], what: str, ident: str, pid_of: Callable[[], int | None], timeout: float = 5.0
) -> int:
    """Run ``argv`` (a daemon) in ``netns`` and return its PID once ``pid_of`` reads a live one from its
    pidfile (the caller removed any stale pidfile first). :class:`KernelError` names ``what``/``ident``."""
    if not _netns.exists(netns):
        raise KernelError(what, ident, f"namespace {netns} does not exist")
    try:
        proc = subprocess.run(_netns.exec_argv(netns, argv), stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=timeout, check=False)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise KernelError(what, ident, exc) from exc
    if proc.returncode != 0:
        raise KernelError(what, ident, proc.stderr.strip() or f"exit {proc.returncode}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = pid_of()
        if pid is not None:
            return pid
        time.sleep(0.02)
    raise KernelError(what, ident, "no live process behind the pidfile")


def terminate(pid: int, needle: str, timeout: float = 5.0) -> None:
    """SIGTERM ``pid`` if it is still ours (``needle`` in its command line), SIGKILL what outlives
    ``timeout``."""
    if not pid_alive(pid, needle):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(pid, needle) and time.monotonic() < deadline:
        time.sleep(0.02)
    if pid_alive(pid, needle):
        os.kill(pid, signal.SIGKILL)


def remove_files(directory: Path) -> None:
    """Remove a stopped daemon's directory of files (configuration, pidfile, leases, log)."""
    if directory.is_dir():
        for f in directory.iterdir():
            f.unlink(missing_ok=True)
        directory.rmdir()


def in_netns(pid: int, netns: str) -> bool:
    """Whether process ``pid`` runs in the namespace now named ``netns`` (compared by inode)."""
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino == _netns.inode(netns)
    except (OSError, KernelError):
        return False


BOUND = "bound"  # "<device> <ifindex>": the device a RouterDaemon with a device_pattern started on


class RouterDaemon:
    """The processes of one per-router daemon (``name``) of one agent: each router's files (``config_name``,
    ``pid``, logs) live in ``state_dir/<router_id>/``. Subclasses give the command line (:meth:`argv`).

    ``needle_name``: the file of the router's directory whose path the daemon's command line holds (its PID is
    trusted only then). ``reloads``: whether SIGHUP makes it re-read its configuration; a daemon that cannot
    (conntrackd) is restarted on a change. ``stale_names``: files a killed daemon leaves that would stop the
    next one from starting (lock files, sockets), removed with the pidfile before a start.

    ``device_pattern``: a regular expression (multiline) whose group 1 is the device the daemon binds to at its
    start, named in its configuration ("" = none). Such a daemon (keepalived's VRRP socket, conntrackd's
    multicast membership on the ``ha-`` device) lives on, deaf, when the device is deleted and re-created under
    the same name: the device's ifindex at the start is recorded (:data:`BOUND`), a daemon whose device has
    another one now counts as not running (:meth:`running_config`, so the agent's reconcile plans it) and
    :meth:`ensure` restarts it."""

    name = ""
    config_name = ""
    needle_name = "pid"
    reloads = True
    stale_names: tuple[str, ...] = ()
    device_pattern = ""

    def __init__(self, state_dir: str | os.PathLike[str]) -> None:
        self.state_dir = Path(state_dir).resolve()

    def argv(self, directory: Path) -> list[str]:
        """The command that starts the daemon on ``directory``'s configuration, writing ``directory/pid``."""
        raise NotImplementedError

    def dir(self, router_id: str) -> Path:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", router_id) or router_id in (".", ".."):
            raise KernelError(self.name, repr(router_id), "invalid router id")
        return self.state_dir / router_id

    def pid(self, router_id: str) -> int | None:
        """The PID of this router's daemon if it runs (checked against its command line), else None."""
        try:
            pid = int((self.dir(router_id) / "pid").read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid, self.needle(router_id)) else None

    def needle(self, router_id: str) -> str:
        """What the command line of this router's daemon holds: the path of its ``needle_name`` file."""
        return str(self.dir(router_id) / self.needle_name)

    def running(self) -> dict[str, int]:
        """``{router_id: pid}`` of the daemons this agent started that still run."""
        if not self.state_dir.is_dir():
            return {}
        found = ((entry.name, self.pid(entry.name)) for entry in sorted(self.state_dir.iterdir()) if entry.is_dir())
        return {router_id: pid for router_id, pid in found if pid is not None}

    def running_config(self, router_id: str, netns: str) -> str | None:
        """The configuration the router's daemon runs in ``netns``; None when none runs there (one left in a
        deleted namespace of the same name serves nothing)."""
        pid = self.pid(router_id)
        if pid is None or not in_netns(pid, netns) or not self._on_its_device(router_id, netns):
            return None
        try:
            return (self.dir(router_id) / self.config_name).read_text()
        except OSError:
            return ""

    def _device(self, config: str) -> str | None:
        found = re.search(self.device_pattern, config, re.MULTILINE) if self.device_pattern else None
        return found.group(1) if found else None

    def _on_its_device(self, router_id: str, netns: str) -> bool:
        """Whether the running daemon's device is still the one it started on (True for a daemon bound to none)."""
        if not self.device_pattern:
            return True
        try:
            device, index = (self.dir(router_id) / BOUND).read_text().split()
            link = links.get_link(netns, device)
        except FileNotFoundError:
            return self._adopt(router_id, netns)
        except (OSError, ValueError, KernelError):
            return False
        return link is not None and str(link.index) == index

    def _adopt(self, router_id: str, netns: str) -> bool:
        """A running daemon without a record (started by an agent from before it was kept) is taken as bound to
        its device as it is now, and recorded: restarting every keepalived on an upgrade would flip every active
        replica over. False when its device is not there."""
        d = self.dir(router_id)
        try:
            device = self._device((d / self.config_name).read_text())
            link = links.get_link(netns, device) if device else None
        except (OSError, KernelError):
            return False
        if link is None:
            return False
        (d / BOUND).write_text(f"{device} {link.index}\n")
        return True

    def ensure(self, router_id: str, netns: str, config: str) -> str:
        """Make the router's daemon run ``config`` (on its device as it is now); returns started | reloaded |
        unchanged. The device is read before the start: one re-created in between leaves a stale record, so the
        next reconcile restarts the daemon rather than trusting it."""
        d = self.dir(router_id)
        d.mkdir(parents=True, exist_ok=True)
        changed = write_atomically(d / self.config_name, config)
        device = self._device(config)
        link = links.get_link(netns, device) if device else None
        pid = self.pid(router_id)
        if pid is not None and in_netns(pid, netns) and self._on_its_device(router_id, netns):
            if not changed:
                return "unchanged"
            if self.reloads:
                os.kill(pid, signal.SIGHUP)
                return "reloaded"
        if pid is not None:  # left behind in a deleted namespace of the same name, or one that cannot reload
            self.terminate(router_id, pid)
        self.clear(router_id)
        start(netns, self.argv(d), f"start {self.name}", router_id, lambda: self.pid(router_id))
        if device:  # no device (yet): index 0 matches none, the next reconcile restarts it on the device
            (d / BOUND).write_text(f"{device} {link.index if link else 0}\n")
        return "started"

    def clear(self, router_id: str) -> None:
        """Before a start, with no daemon of ours running: remove the pidfile and the ``stale_names`` a killed
        one left."""
        for stale in ("pid", *self.stale_names):
            (self.dir(router_id) / stale).unlink(missing_ok=True)

    def terminate(self, router_id: str, pid: int) -> None:
        terminate(pid, self.needle(router_id))

    def stop(self, router_id: str) -> bool:
        """Stop the router's daemon (by its checked PID) and remove its files; True if one was running."""
        d = self.dir(router_id)
        pid = self.pid(router_id)
        if pid is not None:
            self.terminate(router_id, pid)
        remove_files(d)
        return pid is not None
