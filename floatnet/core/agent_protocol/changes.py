"""The one way to write a resource: bump its revision and log the change agents follow, in one transaction.

Every write of a resource goes through this module: :func:`created` and :func:`deleted` log a row,
:func:`updated` (an ORM row or any attribute holder) and :func:`updated_where` (a SQL ``UPDATE`` by id) also
bump ``revision_number`` and ``updated_at``. A write that skipped the log would leave agents silently
unconverged, so no resource module calls :func:`record` itself; only status changes do (``op: "status"``,
which does not bump revisions: agents' reports, and a port whose last provisioning block a write lifted).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from floatnet.core.agent_protocol.audience import Target
from floatnet.core.agent_protocol.feed import logged
from floatnet.db.models import utcnow

KINDS = ("network", "subnet", "port", "router", "floatingip")


def record(
    session: Session,
    kind: str,
    resource_id: str,
    op: str,
    router_id: str | None = None,
    network_id: str | None = None,
    hosts: Iterable[str | None] = (),
) -> None:
    """Append a change of ``kind``/``resource_id`` (``op``: create, update, delete, status) to the log.

    ``router_id``/``network_id`` name the router or network whose desired state the change touches, so an
    agent refetches only those. Runs in the caller's transaction: the row exists iff the change commits. The
    row is queued and written just before the commit, in the order the changes were recorded, so no seq is
    known here (:func:`.feed.logged`: a transaction takes the change log's lock only when nothing else is
    left for it to wait for). The hosts it concerns are decided when the transaction commits
    (:mod:`audience`); ``hosts`` adds the ones the database will no longer show then (where a port was
    bound, where a router ran).
    """
    extra = tuple(sorted({host for host in hosts if host}))
    logged(session, Target(0, kind, resource_id, op, router_id, network_id, extra), utcnow())


def created(
    session: Session, kind: str, resource_id: str, router_id: str | None = None, network_id: str | None = None
) -> None:
    """Log the creation of ``kind``/``resource_id`` (its row starts at revision 0)."""
    record(session, kind, resource_id, "create", router_id, network_id)


def deleted(
    session: Session,
    kind: str,
    resource_id: str,
    router_id: str | None = None,
    network_id: str | None = None,
    hosts: Iterable[str | None] = (),
) -> None:
    """Log the deletion of ``kind``/``resource_id`` (``hosts``: see :func:`record`)."""
    record(session, kind, resource_id, "delete", router_id, network_id, hosts)


def updated(
    session: Session,
    kind: str,
    row: Any,
    router_id: str | None = None,
    network_id: str | None = None,
    moved_from: str | None = None,
    hosts: Iterable[str | None] = (),
) -> None:
    """Bump ``row`` (revision + 1, a fresh ``updated_at``) and log its update.

    ``row`` is an ORM object (flushed with the session) or any holder of the columns whose new values the
    caller writes itself (the floating-IP fast path). ``moved_from`` is the router a resource left: the
    update is logged once for it and once for ``router_id``, so both routers' agents refetch. ``hosts``:
    where the resource was (see :func:`record`).
    """
    bump(row)
    routers: list[str | None] = [router for router in dict.fromkeys((moved_from, router_id)) if router is not None]
    for router in routers or [None]:
        record(session, kind, row.id, "update", router, network_id, hosts)


def bump(row: Any) -> None:
    """Mark ``row`` as updated (revision + 1, a fresh ``updated_at``) without logging: for a write whose log
    rows :func:`fanned_out` writes, or that no agent acts on (a security-group rule's description)."""
    row.revision_number = (row.revision_number or 0) + 1
    row.updated_at = utcnow()


def placed(session: Session, kind: str, resource_id: str, router_id: str | None, network_id: str | None) -> None:
    """Log that router/network ``resource_id`` was bound to a host, without bumping its revision (none of its
    attributes changed): the hosts it now concerns refetch it (:mod:`placement`)."""
    record(session, kind, resource_id, "update", router_id, network_id)


def fanned_out(
    session: Session, kind: str, resource_id: str, op: str, network_ids: Iterable[str | None]
) -> None:
    """Log one change of ``kind``/``resource_id`` per network it concerns: a security group's rules reach
    every network its member ports are on, so exactly those networks' hosts refetch."""
    for network_id in network_ids:
        record(session, kind, resource_id, op, network_id=network_id)


def updated_where(
    session: Session,
    kind: str,
    model: Any,
    resource_id: str,
    values: dict[str, Any] | None = None,
    router_id: str | None = None,
    network_id: str | None = None,
) -> None:
    """``UPDATE`` one row of ``model`` by id with ``values``, bumping its revision, and log the update."""
    stmt = update(model).where(model.id == resource_id)
    session.execute(stmt.values(revision_number=model.revision_number + 1, updated_at=utcnow(), **(values or {})))
    record(session, kind, resource_id, "update", router_id, network_id)
