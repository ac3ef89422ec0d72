"""What every domain service shares: the :class:`Core` container, the service protocol the API drives,
and the standard attributes (timestamps, revision numbers, tags) of every resource.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session

from floatnet.config import Config
from floatnet.core.context import Context
from floatnet.core.errors import HTTPBadRequest, RevisionNumberConstraintFailed
from floatnet.core.listing import ListQuery, Page
from floatnet.db.models import Tag, table_of
from floatnet.db.session import Database

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
TAGS = table_of(Tag)
TAGS_OF = (
    select(TAGS.c.resource_id, TAGS.c.tag)
    .where(TAGS.c.resource_type == bindparam("kind"), TAGS.c.resource_id.in_(bindparam("ids", expanding=True)))
    .order_by(TAGS.c.tag)
)


@dataclass
class Core:
    """The domain's dependencies, built once per server: the database, the config, and shared caches.

    ``ipam_hints`` remembers, per subnet, where the last automatic allocation ended so the next one starts
    there (a speed-up only: correctness comes from the database's unique constraint).
    """

    db: Database
    config: Config
    ipam_hints: dict[str, int] = field(default_factory=dict)


class ResourceService(Protocol):
    """A Neutron resource's operations, as the generic API resource helper calls them.

    ``body`` is the resource's attribute dict (the envelope already removed); results are rendered dicts.
    ``revision`` is the ``If-Match: revision_number=N`` constraint of an update, if any. Unknown or invisible
    ids raise the resource's ``NotFound``.
    """

    def list(self, ctx: Context, query: ListQuery) -> Page: ...

    def show(self, ctx: Context, resource_id: str) -> dict[str, Any]: ...

    def create(self, ctx: Context, body: dict[str, Any]) -> dict[str, Any]: ...

    def update(self, ctx: Context, resource_id: str, body: dict[str, Any], revision: int | None) -> dict[str, Any]: ...

    def delete(self, ctx: Context, resource_id: str) -> None: ...


def fmt_time(value: datetime | None) -> str | None:
    """A timestamp as Neutron renders it (``2026-11-26T13:19:48Z``)."""
    return value.strftime(TIME_FORMAT) if value is not None else None


def standard_attrs(row: Any, tags: list[str]) -> dict[str, Any]:
    """The standard attributes of a resource row (any object/Row with the StandardAttrs columns)."""
    return {
        "id": row.id,
        "name": row.name,
        "description": row.description,
        "project_id": row.project_id,
        "tenant_id": row.project_id,
        "status": row.status,
        "revision_number": row.revision_number,
        "created_at": fmt_time(row.created_at),
        "updated_at": fmt_time(row.updated_at),
        "tags": tags,
    }


def check_revision(current: int, expected: int | None) -> None:
    """Enforce ``If-Match: revision_number=N`` (412 when the resource moved on)."""
    if expected is not None and expected != current:
        raise RevisionNumberConstraintFailed(expected=expected, current=current)


def load_tags(session: Session, resource_type: str, ids: Iterable[str] | Select[Any]) -> dict[str, list[str]]:
    """Tags of many resources in one query; ``ids`` may be a list or a SELECT of ids (no N+1, no huge IN)."""
    result: dict[str, list[str]] = defaultdict(list)
    if isinstance(ids, Select):
        stmt = select(TAGS.c.resource_id, TAGS.c.tag).where(TAGS.c.resource_type == resource_type)
        rows = session.connection().execute(stmt.where(TAGS.c.resource_id.in_(ids)).order_by(TAGS.c.tag))
    else:
        rows = session.connection().execute(TAGS_OF, {"kind": resource_type, "ids": list(ids)})
    for resource_id, tag in rows.all():
        result[resource_id].append(tag)
    return result


def owner_project(ctx: Context, attrs: dict[str, Any]) -> str:
    """The project a new resource belongs to: ``project_id``/``tenant_id`` from the body, else the caller's.

    Removes both keys from ``attrs``. Naming another project needs admin (400, as Neutron answers).
    """
    project = attrs.pop("project_id", None)
    tenant = attrs.pop("tenant_id", None)
    if project is not None and tenant is not None and project != tenant:
        raise HTTPBadRequest(msg="'project_id' and 'tenant_id' do not match")
    wanted = project or tenant or ctx.project_id
    if wanted != ctx.project_id and not ctx.is_admin:
        raise HTTPBadRequest(
            msg="Specifying 'project_id' or 'tenant_id' other than the authenticated project "
            "in request requires admin privileges"
        )
    return wanted
