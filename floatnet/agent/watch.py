"""Background threads of the agent: the change-feed long poll and the heartbeat.

The watcher follows ``GET …/changes?after=SEQ`` from the cursor the reconcile loop set after its last full
sync and hands batches of changes to the loop through a queue. A 410 (cursor out of retention) puts
:data:`RELIST` in the queue and waits for the loop to set a new cursor; a response to a poll made before the
cursor was reset is dropped (the next poll, from the new cursor, returns what matters). ``op: "status"``
rows are the agent's own reports echoed back and are ignored.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping
from typing import Any

from floatnet.agent.client import ChangesExpired, Client, ServerError

log = logging.getLogger(__name__)

RELIST = "relist"
POLL_TIMEOUT = 25.0


class Watcher(threading.Thread):
    """Long-polls the change feed and queues non-status changes (or :data:`RELIST`)."""

    def __init__(self, make_client: Callable[[], Client], events: queue.Queue[Any], stop: threading.Event) -> None:
        super().__init__(name="floatnet-watch", daemon=True)
        self.make_client = make_client
        self.events = events
        self.stop = stop
        self.cond = threading.Condition()
        self.cursor: int | None = None
        self.generation = 0

    def reset(self, seq: int) -> None:
        """Follow the feed from ``seq`` (the snapshot the loop just applied)."""
        with self.cond:
            self.cursor = seq
            self.generation += 1
            self.cond.notify_all()

    def _wait_cursor(self) -> tuple[int, int] | None:
        with self.cond:
            while self.cursor is None and not self.stop.is_set():
                self.cond.wait(0.5)
            return None if self.cursor is None else (self.cursor, self.generation)

    def run(self) -> None:
        client = self.make_client()
        delay = 0.5
        while not self.stop.is_set():
            current = self._wait_cursor()
            if current is None:
                continue
            after, generation = current
            try:
                answer = client.changes(after, POLL_TIMEOUT)
            except ChangesExpired:
                log.warning("change feed cursor %d expired: relisting", after)
                with self.cond:
                    if generation == self.generation:
                        self.cursor = None
                self.events.put(RELIST)
                continue
            except ServerError as exc:
                log.warning("change feed: %s (retrying in %.1f s)", exc, delay)
                self.stop.wait(delay)
                delay = min(delay * 2, 10.0)
                continue
            delay = 0.5
            self._deliver(answer, generation)

    def _deliver(self, answer: Mapping[str, Any], generation: int) -> None:
        changes = [c for c in answer.get("changes") or () if isinstance(c, dict) and c.get("op") != "status"]
        with self.cond:
            if generation != self.generation:
                return
            self.cursor = max(self.cursor or 0, int(answer.get("seq") or 0))
        if changes:
            self.events.put(changes)


class Heartbeat(threading.Thread):
    """Registers the agent's rows every ``interval`` seconds with the configurations ``report()`` returns."""

    def __init__(
        self, make_client: Callable[[], Client], report: Callable[[], dict[str, Any]], interval: float,
        stop: threading.Event,
    ) -> None:  # fmt: skip
        super().__init__(name="floatnet-heartbeat", daemon=True)
        self.make_client = make_client
        self.report = report
        self.interval = interval
        self.stop = stop

    def run(self) -> None:
        client = self.make_client()
        while not self.stop.wait(self.interval):
            try:
                client.register(self.report())
            except ServerError as exc:
                log.warning("heartbeat: %s", exc)
