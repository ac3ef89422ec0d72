"""The change feed agents follow: who each change concerns, waking those hosts' pollers, reading, pruning.

Changes are recorded by :mod:`floatnet.core.agent_protocol.changes` in the changing transaction. This module:

* :func:`attach` — per transaction of the server's database: :func:`logged` queues the changes it records
  (a delete's hosts are resolved at once, while its rows still show where it ran); just before the commit
  the queued rows are appended to the log in order, under the log's lock (see :func:`logged` for why
  there), :mod:`audience` names the hosts each change concerns and they are stored in ``change_hosts``
  (and, on PostgreSQL, sent with ``NOTIFY``); *after* the commit the server's
  :class:`~floatnet.core.notify.ChangeNotifier` wakes the long polls of those hosts only, within
  milliseconds of the API call. Other server processes' commits reach this one's waiters through its
  :class:`~floatnet.core.agent_protocol.follow.Follower`.
* :func:`read_changes` — a host's rows after a cursor; a cursor older than what is retained (or newer than
  the newest row, e.g. after the database was replaced) raises 410 ``ChangesExpired`` and the agent relists.
* :func:`prune` — retention: the newest ``KEEP_ROWS`` rows, and nothing older than ``MAX_AGE`` except the
  newest row (it marks where the log stands, so an emptied log never looks like a fresh one).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select
from sqlalchemy.orm import Session

from floatnet.core.agent_protocol import audience
from floatnet.core.agent_protocol.audience import Target
from floatnet.core.l3_errors import ChangesExpired
from floatnet.core.notify import EVERY, ChangeNotifier
from floatnet.db.models import Change, ChangeHost, table_of, utcnow
from floatnet.db.session import Database, insert_row, read_rows, serialize

KEEP_ROWS = 10_000
MAX_AGE = timedelta(hours=1)
MAX_BATCH = 1000
CHANNEL = "floatnet_changes"
NOTIFY_LIMIT = 7900  # PostgreSQL's payload limit is 8000 bytes: beyond it, "*" (wake every poll)
LOCAL_LIMIT = 100_000
INSERT_CHANGE = insert(table_of(Change))
INSERT_HOST = insert(table_of(ChangeHost))
LOG_LOCK = "changes"
_SETTINGS = "floatnet_feed"
_PENDING = "floatnet_changes_pending"
_WOKEN = "floatnet_changes_woken"


@dataclass
class Settings:
    """What the feed of one server needs in every transaction: agents' down time (placement) and the token
    that marks this process's ``NOTIFY`` so its own follower skips them."""

    down_time: float
    per_network: int = 1  # dhcp_agents_per_network (who serves a network's DHCP)
    sender: str = field(default_factory=lambda: uuid.uuid4().hex)
    local: set[int] = field(default_factory=set)  # seqs committed here whose hosts were woken already


def logged(session: Session, target: Target, created_at: datetime) -> None:
    """Queue the change ``target`` (its seq not known yet) that ``session`` recorded at ``created_at``; its
    log row (:func:`_row`) is appended and its hosts stored just before the commit (see :func:`attach`).

    Why at the end: appending takes the log's lock (:data:`LOG_LOCK`, held to the commit so that seq order is
    commit order and a follower never skips a row). Taken mid-transaction, it made a transaction that held it
    wait for a row another held (an API write updating the floating IP an agent's status report had just
    updated) while that one waited for the lock: a PostgreSQL deadlock, detected only after its
    ``deadlock_timeout`` (1 s), then a retry. Taken last, after every row write, its holder waits for nothing
    else, so every transaction has one lock order: rows, then the log.

    A delete is resolved now: by the commit its router's binding or its network's DHCP binding is gone. On a
    database no server attached to (no hook runs before its commits) the row is appended at once and the
    change concerns every host.
    """
    session.connection()  # begun, so an attached database's settings are in place (after_begin)
    settings: Settings | None = session.info.get(_SETTINGS)
    if settings is None:
        serialize(session, LOG_LOCK)
        seq = insert_row(session, INSERT_CHANGE, _row(target, created_at))
        session.connection().execute(INSERT_HOST, [{"host": EVERY, "seq": seq}])
        return
    if target.op == "delete":
        before = audience.resolve(session, [target], settings.down_time, settings.per_network)[target.seq]
        target = replace(target, extra=tuple(sorted(before | set(target.extra))))
    session.info.setdefault(_PENDING, []).append((target, created_at))


def payload(sender: str, seq: int, hosts: set[str]) -> str:
    """The ``NOTIFY`` text: the sender, the newest seq, then the hosts (``*`` when they do not fit)."""
    text = "\n".join([sender, str(seq), *sorted(hosts)])
    return text if len(text) <= NOTIFY_LIMIT else f"{sender}\n{seq}\n{EVERY}"


def _row(target: Target, created_at: datetime) -> dict[str, Any]:
    """The change-log row of ``target``."""
    return {"kind": target.kind, "resource_id": target.resource_id, "op": target.op,
            "router_id": target.router_id, "network_id": target.network_id, "created_at": created_at}  # fmt: skip


def _append(session: Session, pending: list[tuple[Target, datetime]]) -> list[Target]:
    """Append the queued rows to the log in the order they were recorded, under the log's lock (held until the
    commit); the targets with their seqs."""
    serialize(session, LOG_LOCK)
    return [replace(t, seq=int(insert_row(session, INSERT_CHANGE, _row(t, at)) or 0)) for t, at in pending]


def _store_hosts(session: Session, settings: Settings) -> None:
    """Before the commit: append the rows the transaction queued, store each change's hosts (and NOTIFY them).
    The session is flushed first, so nothing is written (or waited for) once the log's lock is held."""
    pending: list[tuple[Target, datetime]] | None = session.info.pop(_PENDING, None)
    if not pending:
        return
    session.flush()
    targets = _append(session, pending)
    by_seq = audience.resolve(session, targets, settings.down_time, settings.per_network)
    rows = [{"host": host, "seq": seq} for seq, hosts in by_seq.items() for host in sorted(hosts)]
    if rows:
        session.connection().execute(INSERT_HOST, rows)
    woken = set().union(*by_seq.values())
    session.info[_WOKEN] = ([seq for seq, hosts in by_seq.items() if hosts], woken)
    if woken and session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_notify(CHANNEL, payload(settings.sender, max(by_seq), woken))))


def attach(db: Database, notifier: ChangeNotifier, down_time: float, per_network: int = 1) -> Settings:
    """Wire the feed to ``db``'s transactions (see the module docstring); returns its :class:`Settings`.

    Listens on this database's sessions only, so two servers in one process (two apps, two databases) have
    separate feeds. A session lives for one transaction, so its marks need no clearing.
    """
    settings = Settings(down_time, per_network)

    def begin(session: Session, _transaction: Any, _connection: Any) -> None:
        session.info[_SETTINGS] = settings

    def before_commit(session: Session) -> None:
        _store_hosts(session, settings)

    def after_commit(session: Session) -> None:
        woken = session.info.pop(_WOKEN, None)
        if woken is not None:
            if len(settings.local) > LOCAL_LIMIT:  # no follower is running to consume them
                settings.local.clear()
            settings.local.update(woken[0])
            notifier.notify(woken[1])

    db.listen("after_begin", begin)
    db.listen("before_commit", before_commit)
    db.listen("after_commit", after_commit)
    return settings


@dataclass(frozen=True)
class Batch:
    """A host's changes after a cursor: ``seq`` is the cursor to use next (the last row returned when the batch
    is full, else the newest row of the whole log)."""

    seq: int
    changes: list[dict[str, Any]]


# The reads every long poll runs (twice per answer at a thousand agents), built once: building them per call
# (SQLAlchemy's coercions, the ORM's execute) cost more than SQLite's own work for them.
CHANGES, CHANGE_HOSTS = table_of(Change), table_of(ChangeHost)
_BOUNDS = select(func.min(CHANGES.c.seq), func.max(CHANGES.c.seq))
_NEWEST = select(func.max(CHANGES.c.seq))
_MINE = (
    select(CHANGE_HOSTS.c.seq)
    .where(
        CHANGE_HOSTS.c.host.in_([bindparam("host"), bindparam("every")]),
        CHANGE_HOSTS.c.seq > bindparam("after"),
        CHANGE_HOSTS.c.seq <= bindparam("newest"),
    )
    .order_by(CHANGE_HOSTS.c.seq)
    .limit(bindparam("limit"))
    .offset(bindparam("skip"))  # named: SQLite renders an OFFSET with any bound LIMIT
)
_ROWS = (
    select(CHANGES.c.seq, CHANGES.c.kind, CHANGES.c.resource_id, CHANGES.c.op, CHANGES.c.router_id,
           CHANGES.c.network_id)
    .where(CHANGES.c.seq.in_(_MINE.scalar_subquery()))
    .order_by(CHANGES.c.seq)
)  # fmt: skip


def latest_seq(session: Session) -> int:
    """The newest sequence number in the log (0 for an empty log)."""
    return int(read_rows(session, _NEWEST, {})[0][0] or 0)


def _render(row: Any) -> dict[str, Any]:
    seq, kind, resource_id, op, router_id, network_id = row
    return {"seq": seq, "kind": kind, "id": resource_id, "op": op, "router_id": router_id, "network_id": network_id}


def read_changes(session: Session, host: str, after: int, limit: int = MAX_BATCH) -> Batch:
    """Up to ``limit`` changes concerning ``host`` with ``seq > after``, oldest first; 410 when ``after`` is out
    of the log. The answer's ``seq`` is the newest row of the whole log when the host's rows are exhausted, so
    an idle host's cursor keeps up with retention (and never relists for others' changes)."""
    oldest, newest = read_rows(session, _BOUNDS, {})[0]
    newest = newest or 0
    if after > newest or (oldest is not None and after < oldest - 1):
        raise ChangesExpired(after=after, oldest=(oldest or 1) - 1)
    params = {"host": host, "every": EVERY, "after": after, "newest": newest, "limit": limit, "skip": 0}
    rows = read_rows(session, _ROWS, params)
    seq = rows[-1][0] if len(rows) == limit else newest
    return Batch(seq, [_render(row) for row in rows])


def prune(session: Session, keep_rows: int = KEEP_ROWS, max_age: timedelta = MAX_AGE) -> int:
    """Delete rows beyond the retention (see the module docstring), with their hosts; returns how many went."""
    newest = latest_seq(session)
    if not newest:
        return 0
    by_count = Change.seq <= newest - keep_rows
    by_age = Change.created_at < utcnow() - max_age
    expired = select(Change.seq).where(by_count | by_age, Change.seq < newest)
    session.execute(delete(ChangeHost).where(ChangeHost.seq.in_(expired)))
    result = session.execute(delete(Change).where(by_count | by_age, Change.seq < newest))
    return int(getattr(result, "rowcount", 0) or 0)
