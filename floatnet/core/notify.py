"""In-process signals of one server's change feed, owned by its :class:`floatnet.core.service.Core`.

* :class:`ChangeNotifier` — a version number bumped after every commit that logged a change
  (:func:`floatnet.core.agent_protocol.feed.attach` wires it to the server's database); long polls wait on it.
* :class:`Pruner` — says when the change log's retention should run (at most every ``PRUNE_EVERY`` seconds).

Both hold no database state, so they sit with the shared modules and every room may hold one.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

PRUNE_EVERY = 60.0


class ChangeNotifier:
    """A version number bumped after every commit that logged a change; waiters block until it moves."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version = 0
        self._waiters: list[Callable[[], None]] = []

    @property
    def version(self) -> int:
        return self._version

    def notify(self) -> None:
        """Bump the version and wake every waiter (callable from any thread)."""
        with self._lock:
            self._version += 1
            waiters, self._waiters = self._waiters, []
        for wake in waiters:
            wake()

    def _subscribe(self, since: int, wake: Callable[[], None]) -> bool:
        with self._lock:
            if self._version != since:
                return False
            self._waiters.append(wake)
            return True

    def _unsubscribe(self, wake: Callable[[], None]) -> None:
        with self._lock:
            if wake in self._waiters:
                self._waiters.remove(wake)

    async def wait(self, since: int, timeout: float) -> bool:
        """Wait until the version differs from ``since`` or ``timeout`` passes; True when it moved."""
        loop = asyncio.get_running_loop()
        moved = asyncio.Event()

        def wake() -> None:
            loop.call_soon_threadsafe(moved.set)

        if not self._subscribe(since, wake):
            return True
        try:
            await asyncio.wait_for(moved.wait(), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            self._unsubscribe(wake)


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
