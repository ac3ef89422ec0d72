"""The change feed agents follow: read the log after a cursor, wake waiting pollers, prune old rows.

Rows are written by :mod:`floatnet.core.agent_protocol.changes` in the changing transaction. This module adds:

* :func:`attach` — the in-process wake-up. A listener on the server's database notices transactions that
  wrote a ``changes`` row and, *after* their commit, bumps the server's
  :class:`~floatnet.core.notify.ChangeNotifier` and wakes every waiter, so a long poll answers within
  milliseconds of the API call that changed something. Waiters also wake up on their own every ``RECHECK``
  seconds and re-read the database: that covers changes committed by another server process.
* :func:`read_changes` — the rows after a cursor; a cursor older than what is retained (or newer than the
  newest row, e.g. after the database was replaced) raises 410 ``ChangesExpired`` and the agent relists.
* :func:`prune` — retention: the newest ``KEEP_ROWS`` rows, and nothing older than ``MAX_AGE`` except the
  newest row (it marks where the log stands, so an emptied log never looks like a fresh one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from floatnet.core.l3_errors import ChangesExpired
from floatnet.core.notify import ChangeNotifier
from floatnet.db.models import Change, utcnow
from floatnet.db.session import Database

KEEP_ROWS = 10_000
MAX_AGE = timedelta(hours=1)
RECHECK = 1.0
MAX_BATCH = 1000
_DIRTY = "floatnet_changes_written"


def mark_written(session: Session) -> None:
    """Note that ``session`` logged a change, so its commit wakes the long polls at once."""
    session.info[_DIRTY] = True


def attach(db: Database, notifier: ChangeNotifier) -> None:
    """Wake ``notifier``'s waiters after every commit on ``db`` that logged a change (see :func:`mark_written`).

    Listens on this database's sessions only, so two servers in one process (two apps, two databases) have
    separate feeds. A session lives for one transaction, so its mark needs no clearing.
    """

    def notify_after_commit(session: Session) -> None:
        if session.info.get(_DIRTY):
            notifier.notify()

    db.listen("after_commit", notify_after_commit)


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
