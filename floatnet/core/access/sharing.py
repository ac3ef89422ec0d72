"""Who may see and use a shareable object: the RBAC rows (``rbac_policies``) as visibility reads them.

Neutron's model (``neutron/db/rbac_db_models.py``): a row grants ``target_project`` — one project, or ``*`` for
every project — an ``action`` on one object. A project sees an object it owns or one a row grants it; for a
network both actions grant that (``access_as_external``: as an external network), while a network's subnets
follow ``access_as_shared`` only (Neutron hides an external network's subnets).

The objects' ``shared`` columns mirror their ``*`` ``access_as_shared`` row and a network's ``external`` column
says that some ``access_as_external`` row exists (Neutron's ``externalnetworks`` row);
:mod:`floatnet.core.resources.rbac` keeps them in step, so hot paths read a column before asking for rows.
The ``shared`` attribute a caller is shown is Neutron's: true when the object is shared with everyone or
with the caller's own project (:func:`shared_with_caller`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Select, or_, select, true
from sqlalchemy.orm import Session

from floatnet.core.context import RequestContext
from floatnet.db.models import RbacPolicy

SHARED = "access_as_shared"
EXTERNAL = "access_as_external"
WILDCARD = "*"
ANY_ACCESS = (SHARED, EXTERNAL)


def granted_ids(kind: str, project: str, actions: Iterable[str] = ANY_ACCESS) -> Select[Any]:
    """SELECT of the ids of ``kind`` objects a row grants ``project`` (or everyone) one of ``actions`` on."""
    return select(RbacPolicy.object_id).where(
        RbacPolicy.object_type == kind,
        RbacPolicy.target_project.in_((project, WILDCARD)),
        RbacPolicy.action.in_(tuple(actions)),
    )


def visible_clause(
    ctx: RequestContext, kind: str, model: Any, actions: Iterable[str] = ANY_ACCESS
) -> ColumnElement[bool]:
    """SQL condition: rows of ``model`` (objects of ``kind``) ``ctx`` may see — its own, those granted to its
    project or everyone by one of ``actions``, or all (admin)."""
    if ctx.is_admin:
        return true()
    return or_(model.project_id == ctx.project_id, model.id.in_(granted_ids(kind, ctx.project_id, actions)))


def is_granted(
    session: Session, ctx: RequestContext, kind: str, object_id: str, actions: Iterable[str] = ANY_ACCESS
) -> bool:
    """Whether a row grants ``ctx``'s project (or everyone) one of ``actions`` on object ``object_id``."""
    found = granted_ids(kind, ctx.project_id, actions).where(RbacPolicy.object_id == object_id).limit(1)
    return session.execute(found).first() is not None


def may_see(session: Session, ctx: RequestContext, kind: str, row: Any, actions: Iterable[str] = ANY_ACCESS) -> bool:
    """Whether ``ctx`` may see ``row`` (an object of ``kind`` with ``project_id`` and ``id``): admin, owner, or
    granted. Owners and admins cost no query."""
    return ctx.owns(row.project_id) or is_granted(session, ctx, kind, row.id, actions)


def shared_with_caller(session: Session, ctx: RequestContext, kind: str) -> set[str]:
    """Ids of ``kind`` objects shared (``access_as_shared``) with ``ctx``'s own project by name — what, with the
    ``shared`` column (the ``*`` row), makes the ``shared`` attribute true for this caller."""
    stmt = select(RbacPolicy.object_id).where(
        RbacPolicy.object_type == kind, RbacPolicy.target_project == ctx.project_id, RbacPolicy.action == SHARED
    )
    return set(session.scalars(stmt))


def mark_shared(session: Session, ctx: RequestContext, kind: str, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Set ``shared`` true on rendered ``bodies`` shared with the caller's project by name (see the module
    docstring); one query."""
    mine = shared_with_caller(session, ctx, kind)
    if mine:
        for body in bodies:
            if body["id"] in mine:
                body["shared"] = True
    return bodies
