"""The change feed agents follow: read the log after a cursor, wake waiting pollers, prune old rows.

Rows are written by :func:`floatnet.core.agent_protocol.changes.record` in the changing transaction. This module adds:

* :class:`ChangeNotifier` — an in-process wake-up. A SQLAlchemy session hook notices transactions that wrote
  a ``changes`` row and, *after* their commit, bumps a version and wakes every waiter, so a long poll answers
  within milliseconds of the API call that changed something. Waiters also wake up on their own every
  ``RECHECK`` seconds and re-read the database: that covers changes committed by another server process.
* :func:`read_changes` — the rows after a cursor; a cursor older than what is retained (or newer than the
  newest row, e.g. after the database was replaced) raises 410 ``ChangesExpired`` and the agent relists.
* :func:`prune` — retention: the newest ``KEEP_ROWS`` rows, and nothing older than ``MAX_AGE`` except the
  newest row (it marks where the log stands, so an emptied log never looks like a fresh one).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, event, func, select
from sqlalchemy.orm import ORMExecuteState, Session

from floatnet.core.l3_errors import ChangesExpired
from floatnet.db.models import Change, utcnow

KEEP_ROWS = 10_000
MAX_AGE = timedelta(hours=1)
PRUNE_EVERY = 60.0
RECHECK = 1.0
MAX_BATCH = 1000
_DIRTY = "floatnet_changes_written"


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


NOTIFIER = ChangeNotifier()


@event.listens_for(Session, "do_orm_execute")
def _mark_change_written(state: ORMExecuteState) -> None:
    table = getattr(state.statement, "table", None)
    if state.is_insert and getattr(table, "name", None) == Change.__tablename__:
        state.session.info[_DIRTY] = True


def mark_written(session: Session) -> None:
    """Note that ``session`` logged a change, so its commit wakes the long polls at once.

    Needed for Core inserts through ``session.connection()``: they bypass the ORM ``do_orm_execute`` hook.
    """
    session.info[_DIRTY] = True


@event.listens_for(Session, "after_commit")
def _notify_after_commit(session: Session) -> None:
    if session.info.pop(_DIRTY, False):
        NOTIFIER.notify()


@event.listens_for(Session, "after_rollback")
def _forget_on_rollback(session: Session) -> None:
    session.info.pop(_DIRTY, None)


@dataclass(frozen=True)
class Batch:
    """Changes after a cursor: ``seq`` is the cursor to use next (the newest row seen, or the old one)."""

    seq: int
    changes: list[dict[str, Any]]


def latest_seq(session: Session) -> int:
    """The newest sequence number in the log (0 for an empty log)."""
    return session.scalar(select(func.max(Change.seq))) or 0


def _render(row: Any) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "kind": row.kind,
        "id": row.resource_id,
        "op": row.op,
        "router_id": row.router_id,
        "network_id": row.network_id,
    }


def read_changes(session: Session, after: int, limit: int = MAX_BATCH) -> Batch:
    """Up to ``limit`` changes with ``seq > after``, oldest first; 410 when ``after`` is out of the log."""
    oldest, newest = session.execute(select(func.min(Change.seq), func.max(Change.seq))).one()
    newest = newest or 0
    if after > newest or (oldest is not None and after < oldest - 1):
        raise ChangesExpired(after=after, oldest=(oldest or 1) - 1)
    rows = session.execute(select(Change.__table__).where(Change.seq > after).order_by(Change.seq).limit(limit)).all()
    return Batch(rows[-1].seq if rows else after, [_render(row) for row in rows])


def prune(session: Session, keep_rows: int = KEEP_ROWS, max_age: timedelta = MAX_AGE) -> int:
    """Delete rows beyond the retention (see the module docstring); returns how many went."""
    newest = latest_seq(session)
    if not newest:
        return 0
    by_count = Change.seq <= newest - keep_rows
    by_age = Change.created_at < utcnow() - max_age
    result = session.execute(delete(Change).where(by_count | by_age, Change.seq < newest))
    return int(getattr(result, "rowcount", 0) or 0)


class Pruner:
    """Runs :func:`prune` at most every ``PRUNE_EVERY`` seconds, whoever asks (one per server)."""

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
