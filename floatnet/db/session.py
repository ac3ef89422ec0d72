"""Engines and the unit of work.

:class:`Database` owns one engine and hands out transactions. Every domain operation runs inside
:meth:`Database.run` (or the lower-level :meth:`Database.transaction`), the one place that decides how
writers are serialised so that IPAM and segment allocation are race-free:

* SQLite: WAL journal, ``synchronous=NORMAL``, foreign keys on, a busy timeout; write transactions start
  with ``BEGIN IMMEDIATE`` (the database write lock, across processes) and are also serialised by an
  in-process lock, so concurrent threads queue cheaply instead of spinning on ``SQLITE_BUSY``.
* PostgreSQL: ``READ COMMITTED``; code that allocates from a shared pool locks the parent row with
  :func:`lock_for_update`; a unique-constraint race or a serialization failure rolls the whole
  transaction back and :meth:`Database.run` retries it from the start (bounded).
"""

from __future__ import annotations

import random
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import Insert, Select

T = TypeVar("T")

RETRIES = 8
_PLANS: dict[tuple[int, str, int], tuple[str, tuple[str, ...] | None, dict[str, Any], dict[str, int]]] = {}
_READS: dict[tuple[int, str], tuple[str, tuple[str, ...] | None]] = {}
_INSERTS: dict[tuple[int, str, tuple[str, ...]], tuple[str, tuple[tuple[str, Any], ...]]] = {}
_AMBIENT: ContextVar[tuple[Session, bool] | None] = ContextVar("floatnet_ambient_session", default=None)
_WRITING: ContextVar[bool] = ContextVar("floatnet_sqlite_writing", default=False)  # BEGIN IMMEDIATE, not BEGIN
BUSY_TIMEOUT_MS = 30_000


class RetryLimitExceeded(Exception):
    """A transaction kept conflicting; carries the last database error."""


def _is_retryable(exc: Exception) -> bool:
    if isinstance(exc, IntegrityError):
        return True
    if isinstance(exc, OperationalError):
        text = str(exc.orig).lower()
        return "could not serialize" in text or "deadlock" in text or "database is locked" in text
    return False


def _sqlite_setup(engine: Engine) -> None:
    """Pragmas on every new connection, and our own BEGIN (IMMEDIATE for writers)."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # the driver must not issue its own BEGIN
        cursor = dbapi_conn.cursor()
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",
            "foreign_keys=ON",
            f"busy_timeout={BUSY_TIMEOUT_MS}",
            "cache_size=-32000",
            "temp_store=MEMORY",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    def _do_begin(dbapi_conn: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("BEGIN IMMEDIATE" if _WRITING.get() else "BEGIN")
        cursor.close()

    # The dialect's own begin hook, not a "begin" event listener: any connection event makes SQLAlchemy
    # dispatch its execute events on every statement (a port create spent 12% of its instructions there).
    engine.dialect.do_begin = _do_begin  # type: ignore[method-assign, assignment]


def normalise_url(url: str) -> str:
    """``postgresql://`` means the psycopg (v3) driver, the one floatnet depends on."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str) -> Engine:
    """An engine for ``url`` with floatnet's connection setup (see the module docstring)."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000})
        _sqlite_setup(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, isolation_level="READ COMMITTED", pool_size=10, max_overflow=20)


class Database:
    """One database: an engine, a session factory and the transaction discipline."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._sessions = sessionmaker(bind=self.engine, expire_on_commit=False, autoflush=False)
        self._write_lock = threading.Lock() if self.is_sqlite else None

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[Session]:
        """One transaction: commits when the block ends, rolls back (and re-raises) on any exception."""
        lock = self._write_lock if write else None
        if lock is not None:
            lock.acquire()
        writing = _WRITING.set(write)
        try:
            with self._sessions() as session, session.begin():
                yield session
        finally:
            _WRITING.reset(writing)
            if lock is not None:
                lock.release()

    def run(self, work: Callable[[Session], T], write: bool = True) -> T:
        """Run ``work(session)`` in a transaction, retrying it whole on a conflict (see module docstring).

        Raises :class:`RetryLimitExceeded` when every attempt conflicted; domain errors pass unchanged.
        Called inside another ``run`` of the same thread (a bulk request running several creates), the work
        joins the outer transaction: all of it commits, or none of it, and a conflict retries the outer one.
        """
        ambient = _AMBIENT.get()
        if ambient is not None:
            session, ambient_writes = ambient
            if write and not ambient_writes:
                raise RuntimeError("a write transaction cannot run inside a read-only one")
            return work(session)
        last: Exception | None = None
        for attempt in range(RETRIES):
            try:
                with self.transaction(write) as session:
                    token = _AMBIENT.set((session, write))
                    try:
                        return work(session)
                    finally:
                        _AMBIENT.reset(token)
            except (IntegrityError, OperationalError) as exc:
                if not _is_retryable(exc):
                    raise
                last = exc
                time.sleep(random.uniform(0.5, 1.5) * min(0.002 * 2**attempt, 0.1))
        raise RetryLimitExceeded(str(last)) from last

    def listen(self, name: str, handler: Callable[..., Any]) -> None:
        """Register a SQLAlchemy session event ``handler`` (e.g. ``after_commit``) for this database's sessions
        only, never for every ``Session`` in the process."""
        event.listen(self._sessions, name, handler)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def serialize(session: Session, name: str) -> None:
    """Serialise transactions that allocate from the pool ``name`` (or append to the change log) until this
    transaction ends.

    PostgreSQL: a transaction-scoped advisory lock on the name's hash, so concurrent allocators queue
    instead of all choosing the same free id and retrying in lockstep. SQLite: nothing to do (writers are
    already serialised by ``BEGIN IMMEDIATE``). A holder that then waits for a row lock another holder of
    that row waits on this lock for is a deadlock PostgreSQL finds only after ``deadlock_timeout`` (1 s):
    every name needs one order against row locks (see its user).
    """
    if session.get_bind().dialect.name == "postgresql":
        key = zlib.crc32(name.encode()) - 2**31
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def lock_for_update(stmt: Select[Any]) -> Select[Any]:
    """``SELECT … FOR UPDATE`` where the backend has row locks (SQLite already serialises writers)."""
    return stmt.with_for_update()


def read_by_ids(session: Session, stmt: Select[Any], ids: list[str]) -> list[Any]:
    """Rows of ``stmt`` — a module-level, read-only SELECT whose only parameter is the expanding ``ids`` —
    for ``ids``, run on the driver's cursor with SQL compiled once per dialect and number of ids.

    For the statements a write runs on every commit (the per-host feed's): SQLAlchemy's per-execution work
    (parameter processing, expanding-IN rendering, result wrapping) cost more than SQLite's own for them. The
    rows are the driver's tuples (no type processing: only strings, ints and truth values are selected);
    driver errors are raised as SQLAlchemy's, as :meth:`Database.run`'s retry expects. No statement event
    fires for these (they are reads).
    """
    conn = session.connection()
    dialect = conn.dialect
    key = (id(stmt), dialect.name, len(ids))
    plan = _PLANS.get(key) or _PLANS.setdefault(key, _plan(stmt, dialect, len(ids)))
    sql, order, fixed, slots = plan
    values = dict(fixed)
    for name, index in slots.items():
        values[name] = ids[index]
    params: Any = tuple(values[name] for name in order) if order is not None else values
    return _on_cursor(conn, sql, params)[0]


def read_rows(session: Session, stmt: Select[Any], params: dict[str, Any]) -> list[Any]:
    """Rows of ``stmt`` — a module-level, read-only SELECT of strings, ints and truth values with plain
    (non-expanding) parameters — for ``params``, on the driver's cursor with SQL compiled once per dialect.

    For the reads every create runs (its quota's limit and usage): the same trade as :func:`read_by_ids`, whose
    contract (driver tuples, SQLAlchemy's errors, no statement event) it shares.
    """
    conn = session.connection()
    key = (id(stmt), conn.dialect.name)
    plan = _READS.get(key) or _READS.setdefault(key, _read_plan(stmt, conn.dialect))
    sql, order = plan
    return _on_cursor(conn, sql, tuple(params[name] for name in order) if order is not None else params)[0]


def _read_plan(stmt: Select[Any], dialect: Any) -> tuple[str, tuple[str, ...] | None]:
    """``stmt`` compiled for ``dialect``: its SQL and its parameters' order (positional drivers)."""
    compiled = stmt.compile(dialect=dialect)
    return compiled.string, tuple(compiled.positiontup) if compiled.positiontup else None


def _on_cursor(conn: Any, sql: str, params: Any) -> tuple[list[Any], int | None]:
    """Run ``sql`` on the driver's cursor of ``conn`` (in its transaction): the rows it returns and the last
    inserted row id (SQLite's; ``None`` where the driver has none); driver errors raised as SQLAlchemy's."""
    dialect = conn.dialect
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.execute(sql, params)
        rows = list(cursor.fetchall()) if cursor.description else []
        return rows, getattr(cursor, "lastrowid", None)  # psycopg's cursors have none (insert_row: SQLite only)
    except dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance(sql, params, exc, dialect.loaded_dbapi.Error) from exc
    finally:
        cursor.close()


def _plan(
    stmt: Select[Any], dialect: Any, count: int
) -> tuple[str, tuple[str, ...] | None, dict[str, Any], dict[str, int]]:
    """``stmt`` compiled for ``count`` ids: its SQL, the parameter order (positional drivers), the fixed
    parameters' values and which parameter takes which id."""
    markers = [f"\x00id{index}" for index in range(count)]
    expanded = stmt.compile(dialect=dialect).construct_expanded_state({"ids": markers})
    fixed = dict(expanded.parameters)
    slots = {name: markers.index(value) for name, value in fixed.items() if value in markers}
    order = tuple(expanded.positiontup) if expanded.positiontup else None
    return expanded.statement, order, fixed, slots


def insert_row(session: Session, stmt: Insert, values: dict[str, Any]) -> int | None:
    """Run ``stmt`` — a module-level single-row ``INSERT`` without ``RETURNING`` — with ``values``; on SQLite
    on the driver's cursor with SQL compiled once per statement and set of columns. Returns the new row's
    generated integer key (meaningful only for a table keyed by one autoincrementing integer, e.g. the change
    log's ``seq``). ``values`` must name every column that has a Python-side default: those defaults do not
    run here (a ``ValueError`` says which are missing).

    For the rows every port create writes (the port, the change-log rows): SQLAlchemy's per-execution work
    cost more than SQLite's own for them. The columns' bind processors (dates, JSON) still run, so the
    stored values are exactly SQLAlchemy's; driver errors are raised as SQLAlchemy's (an ``IntegrityError``
    is retried by :meth:`Database.run`). Other databases take SQLAlchemy's path (``RETURNING``). No
    statement event fires on SQLite.
    """
    conn = session.connection()
    dialect = conn.dialect
    if dialect.name != "sqlite":
        inserted = conn.execute(stmt, values).inserted_primary_key
        return inserted[0] if inserted and isinstance(inserted[0], int) else None
    key = (id(stmt), dialect.name, tuple(values))
    plan = _INSERTS.get(key) or _INSERTS.setdefault(key, _insert_plan(stmt, dialect, list(values)))
    sql, binds = plan
    params = tuple(values[name] if process is None else process(values[name]) for name, process in binds)
    row_id = _on_cursor(conn, sql, params)[1]
    return int(row_id) if row_id else None


def _insert_plan(stmt: Insert, dialect: Any, columns: list[str]) -> tuple[str, tuple[tuple[str, Any], ...]]:
    """``stmt`` compiled for ``columns`` (SQLite: positional ``?`` markers): its SQL and, per marker, the column
    it takes and that column's bind processor."""
    compiled = stmt.compile(dialect=dialect, column_keys=columns)
    order = compiled.positiontup or []
    missing = sorted(set(order) - set(columns))
    if missing:
        raise ValueError(f"insert_row: no value for {', '.join(missing)} (Python-side defaults do not run)")
    binds = tuple((name, compiled.binds[name].type._cached_bind_processor(dialect)) for name in order)
    return compiled.string, binds
