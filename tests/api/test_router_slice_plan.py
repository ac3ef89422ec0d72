"""The router slice the agents get is read through indexes only: no statement scans a whole table."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from floatnet.core.agent_protocol import router_slice
from tests.api.l3_world import build


def test_router_slice_statements_use_indexes(app_client: Any) -> None:
    world = build(app_client)
    router_id = world.router()
    for _ in range(3):
        world.fip(port_id=world.port()["id"])
    core = app_client.app.state.core
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        captured.append((statement, parameters))

    event.listen(core.db.engine, "before_cursor_execute", capture)
    try:
        [router] = core.db.run(lambda s: router_slice.load(s, core.config, [router_id]), write=False)
    finally:
        event.remove(core.db.engine, "before_cursor_execute", capture)
    assert len(router["floatingips"]) == 3 and router["gateway"] and router["interfaces"]
    selects = [(sql, params) for sql, params in captured if sql.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 4
    with core.db.engine.connect() as conn:
        for sql, params in selects:
            plan = [row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params).all()]
            scans = [step for step in plan if step.startswith("SCAN") and "USING" not in step]
            assert not scans, (sql, plan)
