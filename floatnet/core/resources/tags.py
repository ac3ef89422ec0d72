"""standard-attr-tag: tags on any resource, with Neutron's limits (64 chars, no comma, 50 per resource).

Changing tags bumps the resource's revision number and logs an update to the change feed, like any update.
Visibility of the resource is the caller's job (it passes a ``show`` that raises the resource's NotFound).
Writes follow Neutron's tag policy: ``PUT .../tags[/{tag}]`` needs ``update_<resource>:tags`` and ``DELETE``
needs ``delete_<resource>:tags`` on the resource (its project, and its network's project for subnets and
ports), so a ``reader`` tags nothing and nobody tags a visible resource it may not change (403, as Neutron's
tag controller answers; an invisible one stays a 404).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from floatnet.core.access import policy
from floatnet.core.agent_protocol import changes
from floatnet.core.context import RequestContext
from floatnet.core.errors import HTTPBadRequest, NotFound
from floatnet.core.service import Core
from floatnet.db.models import RESOURCE_MODELS, Network, Tag

MAX_TAGS = 50
MAX_TAG_LEN = 60

MODELS = RESOURCE_MODELS  # every resource with standard attributes takes tags


class TagNotFound(NotFound):
    message_template = "Tag %(tag)s could not be found for %(resource)s %(resource_id)s."


def check_tag(tag: Any) -> str:
    """A valid tag (string, 1..60 characters, no comma) or a 400."""
    if not isinstance(tag, str) or not tag or len(tag) > MAX_TAG_LEN or "," in tag:
        raise HTTPBadRequest(msg=f"Invalid input for operation: '{tag}' is not a valid tag.")
    return tag


def check_tags(tags: Any) -> list[str]:
    """A valid tag list (deduplicated, at most 50)."""
    if not isinstance(tags, list):
        raise HTTPBadRequest(msg="Invalid input for tags. Reason: tags must be a list.")
    result = sorted({check_tag(tag) for tag in tags})
    if len(result) > MAX_TAGS:
        raise HTTPBadRequest(msg=f"Invalid input for operation: a resource has at most {MAX_TAGS} tags.")
    return result


class Tags:
    """Tag operations on one resource type; ``show(ctx, id)`` enforces visibility."""

    def __init__(self, core: Core, resource: str, show: Callable[[RequestContext, str], Any]) -> None:
        self.core = core
        self.resource = resource
        self.model: Any = MODELS[resource]
        self.show = show

    def _current(self, session: Session, resource_id: str) -> list[str]:
        rows = session.execute(
            select(Tag.tag).where(Tag.resource_type == self.resource, Tag.resource_id == resource_id)
        )
        return sorted(row[0] for row in rows)

    def _write(self, session: Session, resource_id: str, tags: list[str]) -> None:
        session.execute(delete(Tag).where(Tag.resource_type == self.resource, Tag.resource_id == resource_id))
        set_initial(session, self.resource, resource_id, tags)
        changes.updated_where(session, self.resource, self.model, resource_id)

    def _writable(self, session: Session, ctx: RequestContext, verb: str, resource_id: str) -> None:
        """The resource is visible (its NotFound otherwise) and ``ctx`` passes ``<verb>_<resource>:tags`` (403)."""
        self.show(ctx, resource_id)  # joins this transaction
        row = session.get(self.model, resource_id)
        assert row is not None  # ``show`` just found it, in this transaction
        target = {"project_id": row.project_id}
        network_id = getattr(row, "network_id", None)
        if network_id is not None:
            target["network_project_id"] = session.scalar(select(Network.project_id).where(Network.id == network_id))
        policy.check(ctx, f"{verb}_{self.resource}:tags", target)

    def get(self, ctx: RequestContext, resource_id: str) -> list[str]:
        """The resource's tags."""
        self.show(ctx, resource_id)
        return self.core.db.run(lambda s: self._current(s, resource_id), write=False)

    def replace(self, ctx: RequestContext, resource_id: str, tags: Any) -> list[str]:
        """Set exactly ``tags``."""
        wanted = check_tags(tags)

        def work(session: Session) -> None:
            self._writable(session, ctx, "update", resource_id)
            self._write(session, resource_id, wanted)

        self.core.db.run(work)
        return wanted

    def add(self, ctx: RequestContext, resource_id: str, tag: str) -> None:
        """Add one tag (no-op when present)."""
        check_tag(tag)

        def work(session: Session) -> None:
            self._writable(session, ctx, "update", resource_id)
            current = self._current(session, resource_id)
            if tag not in current:
                self._write(session, resource_id, check_tags([*current, tag]))

        self.core.db.run(work)

    def remove(self, ctx: RequestContext, resource_id: str, tag: str | None) -> None:
        """Remove one tag (404 when absent) or, with ``tag`` None, all of them."""

        def work(session: Session) -> None:
            self._writable(session, ctx, "delete", resource_id)
            current = self._current(session, resource_id)
            if tag is not None and tag not in current:
                raise TagNotFound(tag=tag, resource=self.resource, resource_id=resource_id)
            self._write(session, resource_id, [t for t in current if tag is not None and t != tag])

        self.core.db.run(work)

    def has(self, ctx: RequestContext, resource_id: str, tag: str) -> None:
        """Nothing when the tag is present, else 404."""
        if tag not in self.get(ctx, resource_id):
            raise TagNotFound(tag=tag, resource=self.resource, resource_id=resource_id)


def set_requested(session: Session, resource: str, resource_id: str, attrs: dict[str, Any]) -> None:
    """Check and store the ``tags`` of a create request (tag-creation), without a revision bump."""
    set_initial(session, resource, resource_id, check_tags(attrs.get("tags", [])))


def set_initial(session: Session, resource: str, resource_id: str, tags: list[str]) -> None:
    """Store the tags given at creation (``tags`` in a POST body), without a revision bump."""
    if tags:
        session.execute(insert(Tag), [{"resource_type": resource, "resource_id": resource_id, "tag": t} for t in tags])
