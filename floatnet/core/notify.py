"""In-process signals of one server's change feed, owned by its :class:`floatnet.core.service.Core`.

* :class:`ChangeNotifier` — per-host stamps bumped after every commit that logged a change concerning the host
  (:func:`floatnet.core.agent_protocol.feed.attach` wires it to the server's database, and the feed's
  follower to the other server processes' commits); long polls wait on their host's stamp.
* :class:`Pruner` — says when the change log's retention should run (at most every ``PRUNE_EVERY`` seconds).

Both hold no database state, so they sit with the shared modules and every room may hold one.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterable

EVERY = "*"  # the host name meaning "every host" (a change whose hosts cannot be told apart)

PRUNE_EVERY = 60.0


class ChangeNotifier:
    """Per-host stamps bumped after every commit that logged a change; waiters block until theirs moves.

    A change wakes only the waiters of the hosts it concerns (:mod:`floatnet.core.agent_protocol.audience`),
    and :data:`EVERY` wakes all of them; a waiter of no particular host (``host=None``) wakes on every change.
    A stamp is the sum of two monotonic counters (the host's own and the everyone-counter), so it moves iff
    one of them did. Callable from any thread; waiting costs no thread and no database connection.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version = 0
        self._everyone = 0
        self._counts: dict[str, int] = {}
        self._waiters: dict[str | None, list[Callable[[], None]]] = {}

    @property
    def version(self) -> int:
        """The stamp of a waiter of no particular host: moves on every notification."""
        return self._version

    def stamp(self, host: str | None = None) -> int:
        """The stamp to pass to :meth:`wait` for ``host`` (read it *before* reading the database)."""
        if host is None:
            return self._version
        return self._everyone + self._counts.get(host, 0)

    def notify(self, hosts: Iterable[str] | None = None) -> None:
        """Wake the waiters of ``hosts`` (None or :data:`EVERY` among them: every waiter) and the host-less ones."""
        chosen = None if hosts is None else set(hosts)
        everyone = chosen is None or EVERY in chosen
        with self._lock:
            self._version += 1
            if everyone:
                self._everyone += 1
                woken = [w for waiters in self._waiters.values() for w in waiters]
                self._waiters = {}
            else:
                woken = self._waiters.pop(None, [])
                for host in chosen or ():
                    self._counts[host] = self._counts.get(host, 0) + 1
                    woken.extend(self._waiters.pop(host, []))
        for wake in woken:
            wake()

    def _subscribe(self, host: str | None, since: int, wake: Callable[[], None]) -> bool:
        with self._lock:
            if self.stamp(host) != since:
                return False
            self._waiters.setdefault(host, []).append(wake)
            return True

    def _unsubscribe(self, host: str | None, wake: Callable[[], None]) -> None:
        with self._lock:
            waiters = self._waiters.get(host)
            if waiters and wake in waiters:
                waiters.remove(wake)
                if not waiters:
                    del self._waiters[host]

    async def wait(self, since: int, timeout: float, host: str | None = None) -> bool:
        """Wait until ``host``'s stamp differs from ``since`` or ``timeout`` passes; True when it moved."""
        loop = asyncio.get_running_loop()
        moved = asyncio.Event()

        def wake() -> None:
            loop.call_soon_threadsafe(moved.set)

        if not self._subscribe(host, since, wake):
            return True
        try:
            await asyncio.wait_for(moved.wait(), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            self._unsubscribe(host, wake)


class Pruner:
    """Runs :func:`prune` at most every ``PRUNE_EVERY`` seconds, whoever asks (one per server, on its Core)."""

    def __init__(self, interval: float = PRUNE_EVERY) -> None:
        self.interval = interval
        self._last = 0.0
        self._lock = threading.Lock()

    def due(self) -> bool:
        """True (and the clock restarted) when a prune should run now."""
        now = time.monotonic()
        with self._lock:
            if now - self._last < self.interval:
                return False
            self._last = now
            return True
