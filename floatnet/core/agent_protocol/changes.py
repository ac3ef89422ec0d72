"""The change log agents follow: one row per committed change, written in the changing transaction."""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.orm import Session

from floatnet.core.agent_protocol.feed import mark_written
from floatnet.db.models import Change, table_of, utcnow
from floatnet.db.session import serialize

KINDS = ("network", "subnet", "port", "router", "floatingip")
INSERT_CHANGE = insert(table_of(Change))


def record(
    session: Session,
    kind: str,
    resource_id: str,
    op: str,
    router_id: str | None = None,
    network_id: str | None = None,
) -> None:
    """Append a change of ``kind``/``resource_id`` (``op``: create, update, delete, status) to the log.

    ``router_id``/``network_id`` name the router or network whose desired state the change touches, so an
    agent refetches only those. Runs in the caller's transaction: the row exists iff the change commits.
    """
    serialize(session, "changes")  # PostgreSQL: seq order = commit order, so a follower never skips a row
    values = {
        "kind": kind,
        "resource_id": resource_id,
        "op": op,
        "router_id": router_id,
        "network_id": network_id,
        "created_at": utcnow(),
    }
    session.connection().execute(INSERT_CHANGE, values)
    mark_written(session)
