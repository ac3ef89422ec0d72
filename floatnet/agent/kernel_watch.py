"""Which owned namespaces changed under the agent: the kernel as a trigger of the reconcile loop.

One :class:`~floatnet.linux.events.NsMonitor` per owned namespace (netlink link/address/route and nftables
events), one for the security-group tables (nftables events of the OVS namespace), one ``pidfd`` per service
process (a network's dnsmasq, a router's radvd, keepalived and conntrackd) and per OVS daemon floatnet started,
and the ``/run/netns`` generation for deleted namespaces. :meth:`KernelWatch.changed` is a
non-blocking ``epoll`` of all of them: no thread, no CPU while nothing happens, whatever their number. The agent's
own changes also send events: :meth:`KernelWatch.applied` drops them right after each apply (the kernel queues them
synchronously, during the agent's own system calls), so what :meth:`changed` reports afterwards is someone else's
doing — drift. What this misses (a change racing the agent's own apply, a process it does not watch) the periodic
full observe catches.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterable

from floatnet.linux import events, names, netns
from floatnet.linux.errors import KernelError

log = logging.getLogger(__name__)

EVERYTHING = "*"  # changed(): an OVS daemon was restarted, every namespace must be re-planned
SECURITY = "floatnet_sg"  # changed(): the security-group tables (in the OVS namespace) changed under the agent


class KernelWatch:
    """See the module docstring. ``service_pids()`` lists the running service processes (dnsmasq, radvd,
    keepalived, conntrackd), each with the namespace it serves;
    ``daemon_pids()`` the OVS daemons floatnet runs itself; ``restart_daemons()`` brings them back;
    with ``watch_security``, the nftables events of ``security_ns`` (where the security-group tables live: the
    OVS namespace; None: the agent's own) are reported as :data:`SECURITY`."""

    def __init__(
        self, service_pids: Callable[[], Iterable[tuple[str, int]]],
        daemon_pids: Callable[[], Iterable[int]] = lambda: (), restart_daemons: Callable[[], None] = lambda: None,
        watch_security: bool = False, security_ns: str | None = None,
    ) -> None:  # fmt: skip
        self.service_pids = service_pids
        self.daemon_pids = daemon_pids
        self.restart_daemons = restart_daemons
        self.monitors: dict[str, events.NsMonitor] = {}
        self.inodes: dict[str, int] = {}  # a namespace deleted and re-created under the same name is another one
        self.by_fd: dict[int, str] = {}  # monitor socket or pidfd -> the namespace it dirties
        self.pidfds: dict[int, str] = {}
        self.readiness = events.Readiness()
        self.generation = events.netns_generation()
        self._watch_daemons()
        self.security = self._watch_security(security_ns) if watch_security else None

    def track(self, namespaces: Iterable[str]) -> None:
        """Watch exactly these namespaces (the ones the agent owns now), and the service processes."""
        wanted = {n for n in namespaces if n.startswith(names.OWNED_NS_PREFIXES)}
        for name in set(self.monitors) - wanted:
            self._forget(name)
        for name in sorted(wanted - set(self.monitors)):
            self._monitor(name)
        self._watch_services()

    def applied(self, groups: Iterable[str]) -> None:
        """After the agent's own apply: drop the events it caused, follow created/deleted namespaces and
        (re)started service processes."""
        groups = set(groups)
        if self.security is not None:
            self.security.drain()
        for name, monitor in list(self.monitors.items()):
            if self._same(name):
                monitor.drain()
            else:
                self._forget(name)
        for name in sorted(g for g in groups if g not in self.monitors and netns.exists(g)):
            self._monitor(name)
        if any(g.startswith(names.OWNED_NS_PREFIXES) for g in groups):
            self._watch_services()
        self.generation = events.netns_generation()

    def changed(self) -> set[str]:
        """The watched namespaces that changed since the last call (never blocks)."""
        dirty: set[str] = set()
        generation = events.netns_generation()
        if generation != self.generation:
            self.generation = generation
            for name in [n for n in self.monitors if not self._same(n)]:
                self._forget(name)  # it held the deleted namespace alive
                dirty.add(name)
        for fd in self.readiness.ready() & set(self.by_fd):
            name = self.by_fd[fd]
            if fd in self.pidfds:
                self._close_pidfd(fd)
                if name == EVERYTHING:
                    self._daemon_died()
            elif name in self.monitors:
                self.monitors[name].drain()
            elif name == SECURITY and self.security is not None:
                self.security.drain()
            dirty.add(name)
        return dirty

    def _watch_security(self, netns_name: str | None) -> events.NsMonitor | None:
        try:
            monitor = events.NsMonitor(netns_name, nftables_only=True)
        except KernelError as exc:
            log.warning("cannot watch the security-group tables (the periodic observe covers them): %s", exc)
            return None
        for fd in monitor.fileno_list():
            self.by_fd[fd] = SECURITY
            self.readiness.add(fd)
        return monitor

    def _daemon_died(self) -> None:
        log.warning("an Open vSwitch daemon floatnet runs exited: restarting it")
        for fd in [fd for fd, n in self.pidfds.items() if n == EVERYTHING]:
            self._close_pidfd(fd)
        try:
            self.restart_daemons()
        finally:
            self._watch_daemons()

    def _same(self, name: str) -> bool:
        """True while the namespace named ``name`` is still the one being monitored."""
        try:
            return netns.inode(name) == self.inodes.get(name)
        except (OSError, KernelError):
            return False

    def _monitor(self, name: str) -> None:
        try:
            inode = netns.inode(name)
            monitor = events.NsMonitor(name)
        except (OSError, KernelError) as exc:
            log.warning("cannot watch %s (the periodic observe still covers it): %s", name, exc)
            return
        self.monitors[name] = monitor
        self.inodes[name] = inode
        for fd in monitor.fileno_list():
            self.by_fd[fd] = name
            self.readiness.add(fd)

    def _forget(self, name: str) -> None:
        monitor = self.monitors.pop(name)
        self.inodes.pop(name, None)
        for fd in monitor.fileno_list():
            self.by_fd.pop(fd, None)
            self.readiness.remove(fd)
        monitor.close()

    def _watch_pid(self, pid: int, name: str) -> None:
        fd = events.pidfd(pid)
        if fd is not None:
            self.pidfds[fd] = name
            self.by_fd[fd] = name
            self.readiness.add(fd)

    def _close_pidfd(self, fd: int) -> None:
        self.pidfds.pop(fd, None)
        self.by_fd.pop(fd, None)
        self.readiness.remove(fd)
        with contextlib.suppress(OSError):
            os.close(fd)

    def _watch_services(self) -> None:
        for fd in [fd for fd, n in self.pidfds.items() if n != EVERYTHING]:
            self._close_pidfd(fd)
        for ns, pid in self.service_pids():
            self._watch_pid(pid, ns)

    def _watch_daemons(self) -> None:
        for pid in self.daemon_pids():
            self._watch_pid(pid, EVERYTHING)
