"""The unit of work: commit/rollback, nested runs joining the outer transaction, retry on conflicts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from floatnet.db.migrate import upgrade
from floatnet.db.models import Quota
from floatnet.db.session import Database, RetryLimitExceeded


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
