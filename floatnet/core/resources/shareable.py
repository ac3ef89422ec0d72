"""The create and delete steps shared by the objects RBAC can share (address scopes, subnet pools).

Both resources are created the same way — validated body, owner project, Neutron's create rule and attribute
rules — and stored the same way: the row, its ``*`` ``access_as_shared`` policy when ``shared`` is asked
(``shared`` *is* that policy, as in Neutron), its requested tags and its change row. Deleting removes the
tags, every RBAC policy of the object, the row, and logs the change. One place for those steps keeps the two
resources from drifting apart (an RBAC row left behind on one of them would make a deleted pool "shared").
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from floatnet.core.access import policy, sharing
from floatnet.core.agent_protocol import changes
from floatnet.core.context import RequestContext
from floatnet.core.resources import rbac_rows, tags
from floatnet.core.service import owner_project
from floatnet.core.validation import Attr, validate
from floatnet.db.models import Tag


def create_request(
    ctx: RequestContext, kind: str, rule: str, spec: dict[str, Attr], body: dict[str, Any]
) -> tuple[dict[str, Any], str]:
    """The validated attributes of a create request and the owning project, once ``rule`` and the attribute
    rules of ``create_<kind>`` allow it (403 otherwise)."""
    attrs = validate(kind, spec, body, creating=True)
    project = owner_project(ctx, attrs)
    target = {"project_id": project}
    policy.check(ctx, rule, target)
    policy.check_attributes(ctx, "create", kind, [k for k in attrs if k in body], target, attrs)
    return attrs, project


def add(session: Session, kind: str, row: Any, attrs: dict[str, Any]) -> None:
    """Store a new ``row`` of ``kind`` with its ``shared`` policy, requested tags and change row."""
    session.add(row)
    session.flush()
    rbac_rows.set_wildcard(session, kind, row, sharing.SHARED, attrs["shared"])
    tags.set_requested(session, kind, row.id, attrs)
    changes.created(session, kind, row.id)


def remove(session: Session, kind: str, row: Any) -> None:
    """Delete ``row`` of ``kind`` with its tags and every RBAC policy naming it, and log the change."""
    session.execute(delete(Tag).where(Tag.resource_type == kind, Tag.resource_id == row.id))
    rbac_rows.forget(session, kind, row.id)
    session.delete(row)
    session.flush()
    changes.deleted(session, kind, row.id)
