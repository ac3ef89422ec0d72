"""One lock order on PostgreSQL (issue 14): an agent's status report and an API write on the same floating IP
never deadlock. The API write records a change (or allocates an address) and then updates the floating IP the
status report has just updated. Before the fix, the write held the change log's lock from its record (or its
allocation) on and the report wanted it for its own record while holding the row: PostgreSQL found the
deadlock after ``deadlock_timeout`` (1 s) and aborted one of them. Now the log's rows are appended at the
commit and allocators queue on a lock of their own."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from floatnet.config import load
from floatnet.core.agent_protocol import changes, feed, status
from floatnet.core.ipam.pools import ALLOCATION_LOCK
from floatnet.core.notify import ChangeNotifier
from floatnet.db.models import FloatingIP
from floatnet.db.session import Database, serialize
from tests.api.l3_world import build
from tests.api.test_postgres import pg_ini


def _recorded(session: Session, world: Any) -> None:
    changes.record(session, "network", world.net, "update", network_id=world.net)


def _allocated(session: Session, _world: Any) -> None:
    serialize(session, ALLOCATION_LOCK)


def _deadlocks(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(conn.scalar(text("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")))


def test_status_report_and_api_write_on_one_floating_ip(postgres_url: str, make_app_client: Any, tmp_path: Any) -> None:
    world = build(make_app_client(pg_ini(postgres_url)))  # the schema, and a floating IP to contend for
    fip = world.fip()
    (tmp_path / "lock.ini").write_text(pg_ini(postgres_url))
    config = load(tmp_path / "lock.ini", tmp_path / "state")
    db = Database(postgres_url)
    feed.attach(db, ChangeNotifier(), down_time=75)
    for first, reported in ((_recorded, "ACTIVE"), (_allocated, "ERROR")):
        _interleave(db, config, world, fip["id"], first, reported)
    db.dispose()


def _interleave(
    db: Database, config: Any, world: Any, fip_id: str, first: Callable[[Session, Any], None], reported: str
) -> None:
    """The API write takes its lock (``first``); the status report updates the floating IP and commits; the
    API write then updates the same row and commits. Neither waits for the other in a cycle."""
    before, errors = _deadlocks(db), []
    write = db._sessions()  # the API write, held open while the status report runs
    write.begin()
    first(write, world)

    def report() -> None:
        try:
            db.run(lambda session: status.apply(session, {"floatingips": {fip_id: reported}}, "node-a", config))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    reporter = threading.Thread(target=report)
    reporter.start()
    time.sleep(0.3)  # the report has updated the floating IP's row (and, before the fix, waits for the lock)
    started = time.monotonic()
    changes.updated_where(write, "floatingip", FloatingIP, fip_id, {"description": first.__name__})
    write.commit()
    write.close()
    took = time.monotonic() - started
    reporter.join(10)
    assert not errors and not reporter.is_alive()
    assert took < 0.5, (first.__name__, took)  # not PostgreSQL's deadlock_timeout (1 s)
    assert _deadlocks(db) == before, "PostgreSQL detected a deadlock"
    with db.transaction(write=False) as session:
        row = session.get(FloatingIP, fip_id)
        assert row is not None and (row.status, row.description) == (reported, first.__name__)
        logged = session.execute(text("SELECT op FROM changes WHERE resource_id = :id ORDER BY seq"),
                                 {"id": fip_id}).scalars().all()  # fmt: skip
        assert logged[-2:] == ["status", "update"]  # in commit order
