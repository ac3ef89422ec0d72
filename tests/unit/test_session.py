"""The unit of work: commit/rollback, nested runs joining the outer transaction, retry on conflicts."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from floatnet.db.migrate import upgrade
from floatnet.db.models import Change, Quota
from floatnet.db.session import Database, RetryLimitExceeded, insert_row, read_rows


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'unit.db'}")
    upgrade(database.engine)
    yield database
    database.dispose()


def _count(db: Database) -> int:
    return int(db.run(lambda s: s.scalar(select(func.count()).select_from(Quota)), write=False) or 0)


def _add(session: Session, project: str) -> None:
    session.execute(insert(Quota).values(project_id=project, resource="network", limit=1))


def test_nested_runs_commit_or_roll_back_together(db: Database) -> None:
    def both(session: Session) -> None:
        db.run(lambda s: _add(s, "a"))
        db.run(lambda s: _add(s, "b"))
        raise ValueError("abort")

    with pytest.raises(ValueError):
        db.run(both)
    assert _count(db) == 0

    def two(session: Session) -> None:
        for project in ("a", "b"):
            db.run(lambda inner, name=project: _add(inner, name))

    db.run(two)
    assert _count(db) == 2


def test_write_inside_read_is_refused(db: Database) -> None:
    with pytest.raises(RuntimeError):
        db.run(lambda s: db.run(lambda inner: _add(inner, "x")), write=False)


def test_conflicts_are_retried_then_reported(db: Database) -> None:
    attempts: list[int] = []

    def flaky(session: Session) -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise IntegrityError("insert", {}, Exception("UNIQUE constraint failed"))
        _add(session, "ok")
        return "done"

    assert db.run(flaky) == "done" and len(attempts) == 3

    def always(session: Session) -> None:
        _add(session, "dup")
        _add(session, "dup")

    with pytest.raises(RetryLimitExceeded):
        db.run(always)
    assert _count(db) == 1


def _write_lock_free(db: Database) -> bool:
    """Whether another connection can take SQLite's write lock right now (without waiting)."""
    other = sqlite3.connect(str(db.engine.url.database), timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        other.close()


def test_writers_hold_the_write_lock_from_their_first_statement_and_readers_never(db: Database) -> None:
    """``BEGIN IMMEDIATE`` for writes, a deferred ``BEGIN`` for reads and for any other ``engine.begin()`` user
    (migrations stay atomic) — without connection events, which would make every statement pay SQLAlchemy's
    event dispatch."""
    assert db.run(lambda s: (s.execute(select(1)), _write_lock_free(db))[1]) is False
    assert db.run(lambda s: (s.execute(select(1)), _write_lock_free(db))[1], write=False) is True
    nested_read = db.run(lambda s: db.run(lambda inner: (inner.execute(select(1)), _write_lock_free(db))[1], False))
    assert nested_read is False  # a read inside a write joins the writer's transaction
    assert _write_lock_free(db)
    with db.engine.begin() as conn:
        conn.execute(select(1))
        assert conn.connection.dbapi_connection is not None
        assert conn.connection.dbapi_connection.in_transaction and _write_lock_free(db)
    assert not db.engine._has_events  # noqa: SLF001 - the per-statement dispatch switch is the point


def test_insert_row_stores_what_sqlalchemy_stores_and_returns_the_generated_key(db: Database) -> None:
    """The change log's rows go through the driver's cursor: dates still pass SQLAlchemy's bind processing
    (they read back as the same ``datetime``), and the returned key is the new row's ``seq``."""
    when = datetime(2026, 1, 2, 3, 4, 5, 678901)
    values = {"kind": "port", "resource_id": "p1", "op": "create", "router_id": None, "network_id": "n1"}
    seqs = db.run(lambda s: [insert_row(s, insert(Change), {**values, "created_at": when}) for _ in range(2)])
    rows = db.run(lambda s: list(s.scalars(select(Change).order_by(Change.seq))), write=False)
    assert seqs == [row.seq for row in rows] and seqs[1] == seqs[0] + 1
    assert {(row.created_at, row.network_id, row.router_id) for row in rows} == {(when, "n1", None)}


def test_insert_row_raises_sqlalchemys_errors_and_refuses_missing_defaults(db: Database) -> None:
    """A duplicate key is SQLAlchemy's ``IntegrityError`` (what :meth:`Database.run` retries); a column whose
    Python-side default would not run is refused before anything is written."""
    row = {"project_id": "p", "resource": "port", "limit": 1}
    with pytest.raises(IntegrityError), db.transaction() as session:
        for _ in range(2):
            insert_row(session, insert(Quota), row)
    with pytest.raises(ValueError, match="created_at"):
        db.run(lambda s: insert_row(s, insert(Change), {"kind": "port", "resource_id": "p1", "op": "create"}))
    assert _count(db) == 0


def test_read_rows_binds_plain_parameters_by_name(db: Database) -> None:
    """A prebuilt SELECT with named parameters, run on the driver's cursor: each name takes its own value
    (the order SQLite's positional markers need is the compiled statement's, not the dict's)."""
    db.run(lambda s: [_add(s, project) for project in ("p1", "p2")])
    stmt = select(Quota.project_id, Quota.limit).where(
        Quota.resource == bindparam("resource"), Quota.project_id == bindparam("project_id")
    )
    rows = db.run(lambda s: read_rows(s, stmt, {"project_id": "p2", "resource": "network"}), write=False)
    assert rows == [("p2", 1)]
    assert db.run(lambda s: read_rows(s, stmt, {"project_id": "p3", "resource": "network"}), write=False) == []
