"""Kernel change notifications for what floatnet owns: observe-only, never changes anything.

- :class:`NsMonitor`: two netlink sockets opened *inside* one namespace (a netlink socket stays bound to the
  namespace it was created in): rtnetlink subscribed to link, IPv4/IPv6 address and IPv4 route events, and
  nfnetlink subscribed to nftables events (any table/chain/rule/set/element change, ``nft flush table``,
  ``nft delete table``) — or, ``nftables_only``, the latter alone (None: the current namespace). Messages are
  not parsed: any message means "this namespace changed".
- :func:`pidfd`: a descriptor that becomes readable when a process exits (``pidfd_open``), for processes that
  are not our children (dnsmasq daemonizes, OVS daemons outlive an agent restart).
- :class:`Readiness`: which of many such descriptors have something to read (epoll, never blocks).
- :func:`netns_generation`: the ``/run/netns`` directory's change time — it moves whenever a named namespace is
  created or deleted (one ``stat``; a deleted namespace sends no netlink event to sockets that keep it alive).

Everything here is a file descriptor for ``select``: watching costs nothing while nothing changes.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket

from floatnet.linux import netns as _netns
from floatnet.linux.errors import KernelError

NETLINK_ROUTE, NETLINK_NETFILTER = 0, 12
RTMGRP_LINK, RTMGRP_IPV4_IFADDR, RTMGRP_IPV4_ROUTE, RTMGRP_IPV6_IFADDR = 0x1, 0x10, 0x40, 0x100
RTMGRP_IPV6_ROUTE = 0x400  # a router's ::/0 and IPv6 extra routes are the agent's too
NFNLGRP_NFTABLES = 7
_RT_GROUPS = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_IFADDR | RTMGRP_IPV6_ROUTE
_BUFSIZE = 1 << 20  # a burst (a 10,000-element map re-created) may overflow: ENOBUFS still means "changed"


def _open(proto: int, groups: int) -> socket.socket:
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _BUFSIZE)
        sock.bind((0, groups))
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class NsMonitor:
    """Change notifications of one namespace (see the module docstring); ``close()`` when done."""

    def __init__(self, name: str | None, nftables_only: bool = False) -> None:
        self.name = name
        try:
            self.sockets = _netns.run_in(name, _open_nft if nftables_only else _open_pair)
        except (OSError, KernelError) as exc:
            raise KernelError("monitor namespace", name or "current", exc) from exc

    def fileno_list(self) -> list[int]:
        return [s.fileno() for s in self.sockets]

    def drain(self) -> int:
        """Read and drop every pending message; how many there were (an overflow counts as one)."""
        count = 0
        for sock in self.sockets:
            while True:
                try:
                    sock.recv(65536)
                except BlockingIOError:
                    break
                except OSError:  # ENOBUFS: events were lost, which still says the namespace changed
                    pass
                count += 1
        return count

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()


def _open_nft() -> list[socket.socket]:
    """nftables events only (the OVS namespace's security tables: its links are the hypervisor's business)."""
    return [_open(NETLINK_NETFILTER, 1 << (NFNLGRP_NFTABLES - 1))]


def _open_pair() -> list[socket.socket]:
    route = _open(NETLINK_ROUTE, _RT_GROUPS)
    try:
        return [route, _open(NETLINK_NETFILTER, 1 << (NFNLGRP_NFTABLES - 1))]
    except OSError:
        route.close()
        raise


def pidfd(pid: int) -> int | None:
    """A descriptor readable once ``pid`` exits; None if it is already gone."""
    try:
        return os.pidfd_open(pid)
    except ProcessLookupError:
        return None
    except OSError as exc:
        raise KernelError("pidfd_open", str(pid), exc) from exc


class Readiness:
    """A set of descriptors asked "anything to read?" without blocking, at a cost that does not grow with how
    many are watched (epoll: an agent with hundreds of namespaces asks 20 times a second)."""

    def __init__(self) -> None:
        self.epoll = select.epoll()

    def add(self, fd: int) -> None:
        self.epoll.register(fd, select.EPOLLIN)

    def remove(self, fd: int) -> None:
        """Stop watching ``fd`` (before closing it)."""
        with contextlib.suppress(OSError, ValueError):
            self.epoll.unregister(fd)

    def ready(self) -> set[int]:
        """The watched descriptors with something to read now (never blocks)."""
        return {fd for fd, _ in self.epoll.poll(0)}


def netns_generation() -> int:
    """Changes whenever a named namespace is created or deleted (0 when there is no ``/run/netns`` yet)."""
    with contextlib.suppress(FileNotFoundError):
        return os.stat(_netns.NETNS_DIR).st_mtime_ns
    return 0
