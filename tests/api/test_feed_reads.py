"""What one change costs the server's change log (issue 16's CPU per change): counted in SQL statements, so the
gain cannot regress silently whatever the machine's load."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from tests.api.l3_world import ok
from tests.api.test_feed_hosts import Cloud, _feed


@contextmanager
def log_reads(app_client: Any) -> Iterator[list[str]]:
    """The SELECTs of the host change log (``change_hosts``) SQLite runs inside the block, whatever path issued
    them (the feed reads on the driver's cursor, where SQLAlchemy's statement events do not fire)."""
    engine = app_client.app.state.core.db.engine
    seen: list[str] = []

    def trace(sql: str) -> None:
        if sql.lstrip().upper().startswith("SELECT") and "FROM change_hosts" in sql:
            seen.append(sql)

    def checkout(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        dbapi_conn.set_trace_callback(trace)

    def checkin(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.set_trace_callback(None)

    event.listen(engine, "checkout", checkout)
    event.listen(engine, "checkin", checkin)
    try:
        yield seen
    finally:
        event.remove(engine, "checkout", checkout)
        event.remove(engine, "checkin", checkin)


def test_a_poll_at_its_last_answer_reads_the_log_once_when_woken(app_client: Any) -> None:
    """A host's next poll, sent with the cursor of its last answer, waits without reading the log (nothing
    concerning the host committed since: its stamp did not move); the change that wakes it is read once."""
    cloud = Cloud(app_client)
    fip = cloud.world.fip()
    cursor = int(_feed(app_client, cloud.r_host, cloud.mark(), timeout=0.2)["seq"])  # an answer at its timeout
    answer: dict[str, Any] = {}

    def poll() -> None:
        answer.update(_feed(app_client, cloud.r_host, cursor, timeout=10))

    with log_reads(app_client) as reads:
        waiting = threading.Thread(target=poll)
        waiting.start()
        time.sleep(0.5)  # the poll is waiting on the host's stamp
        ok(cloud.world.associate(fip["id"], cloud.port["id"]))
        waiting.join(15)
    assert [change["id"] for change in answer["changes"]] == [fip["id"]]
    assert len(reads) == 1, reads


def test_a_poll_after_a_change_elsewhere_still_reads(app_client: Any) -> None:
    """The skipped read is only for a host whose stamp has not moved: a change concerning it committed between
    two polls is answered at once."""
    cloud = Cloud(app_client)
    fip = cloud.world.fip()
    cursor = int(_feed(app_client, cloud.r_host, cloud.mark(), timeout=0.2)["seq"])
    ok(cloud.world.associate(fip["id"], cloud.port["id"]))
    began = time.monotonic()
    answer = _feed(app_client, cloud.r_host, cursor, timeout=10)
    assert [change["id"] for change in answer["changes"]] == [fip["id"]]
    assert time.monotonic() - began < 2
