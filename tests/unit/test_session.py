"""The unit of work: commit/rollback, nested runs joining the outer transaction, retry on conflicts."""

from __future__ import annotations

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
