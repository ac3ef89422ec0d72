"""Address scopes (``/v2.0/address-scopes``, neutron-lib ``address_scope``): a named IPv4 or IPv6 space whose
subnet pools never overlap. A network's ``ipv4_address_scope``/``ipv6_address_scope`` is the scope of its
subnets' pools (:func:`network_scopes`).

Visibility as Neutron's ``get_address_scope``: the owner's, those shared with the caller's project or everyone
(RBAC rows, :mod:`floatnet.core.access.sharing`), every one for an admin; a scope the caller may not see is a
404. ``shared`` (the ``*`` RBAC row) may be set by admins only (policy) and never be undone
(``AddressScopeUpdateError``); a scope with pools cannot be deleted (``AddressScopeInUse``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from floatnet.core.access import policy, sharing
from floatnet.core.agent_protocol import changes
from floatnet.core.context import RequestContext
from floatnet.core.errors import NotFound
from floatnet.core.listing import ListQuery, Page, apply, sql_filters
from floatnet.core.pool_errors import AddressScopeInUse, AddressScopeNotFound, AddressScopeUpdateError
from floatnet.core.resources import rbac_rows, shareable
from floatnet.core.service import Core, check_revision, load_tags, standard_attrs
from floatnet.core.validation import Attr, list_of, project_id, string, to_bool, to_int, validate
from floatnet.db.models import AddressScope, Subnet, SubnetPool, new_id

KIND = "address_scope"
SPEC: dict[str, Attr] = {
    "name": Attr(string(255), default=""),
    "description": Attr(string(255), default=""),
    "ip_version": Attr(lambda v: _version(v), put=False, required=True),
    "shared": Attr(to_bool, default=False),
    "project_id": Attr(project_id, put=False),
    "tenant_id": Attr(project_id, put=False),
    "tags": Attr(list_of(string(60)), put=False),
}
COLUMNS = {name: getattr(AddressScope, name) for name in ("id", "name", "project_id", "description")}


def _version(value: Any) -> int:
    number = to_int()(value)
    if number not in (4, 6):
        raise ValueError(f"{number} is not in [4, 6]")
    return number


def may_use(session: Session, ctx: RequestContext, kind: str, row: Any) -> bool:
    """Whether ``ctx`` may see and use ``row`` (a shareable object of ``kind``): shared with everyone, or
    :func:`floatnet.core.access.sharing.may_see`."""
    return bool(row.shared) or sharing.may_see(session, ctx, kind, row)


def get_visible(
    session: Session, ctx: RequestContext, kind: str, model: Any, row_id: str, missing: type[NotFound], **key: str
) -> Any:
    """The ``model`` row ``row_id`` (an object of ``kind``) if ``ctx`` may see it, else ``missing(**key)`` (404,
    nothing revealed)."""
    row = session.get(model, row_id)
    if row is None or not may_use(session, ctx, kind, row):
        raise missing(**key)
    return row


def page_in_sql(stmt: Any, id_column: Any, query: ListQuery) -> Any:
    """With only ``limit``/``marker`` left to do (default id order), page in SQL as ports do: read ``limit + 1``
    rows after the marker (so :func:`floatnet.core.listing.apply` still knows whether more follow); the marker
    is consumed here."""
    if query.filters or query.sort or not query.limit or query.page_reverse:
        return stmt
    if query.marker is not None:
        stmt = stmt.where(id_column > query.marker)
        query.marker = None
    return stmt.order_by(id_column).limit(query.limit + 1)


def get_scope(session: Session, ctx: RequestContext, scope_id: str) -> AddressScope:
    """The address scope if ``ctx`` may see it (404 otherwise)."""
    return get_visible(session, ctx, KIND, AddressScope, scope_id, AddressScopeNotFound, address_scope_id=scope_id)


def render(row: Any, tag_list: list[str]) -> dict[str, Any]:
    """An address scope as Neutron shows it (no ``status``)."""
    body = standard_attrs(row, tag_list)
    del body["status"]
    body.update({"ip_version": row.ip_version, "shared": bool(row.shared)})
    return body


def render_many(session: Session, ctx: RequestContext, rows: Sequence[Any]) -> list[dict[str, Any]]:
    """Rendered scopes as ``ctx`` sees them (``shared`` per caller, as Neutron), tags loaded in one query."""
    tag_map = load_tags(session, KIND, [row.id for row in rows])
    return sharing.mark_shared(session, ctx, KIND, [render(row, tag_map.get(row.id, [])) for row in rows])


def fill_network_scopes(session: Session, networks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Set ``ipv4_address_scope``/``ipv6_address_scope`` of rendered ``networks``: the address scope of the
    pools their subnets come from (one query over the scoped pools' subnets, none of a network's ids)."""
    stmt = (
        select(Subnet.network_id, SubnetPool.ip_version, SubnetPool.address_scope_id)
        .join(SubnetPool, SubnetPool.id == Subnet.subnetpool_id)
        .where(SubnetPool.address_scope_id.is_not(None))
    )
    found: dict[str, dict[int, str]] = {}
    for network_id, version, scope_id in session.execute(stmt):
        found.setdefault(network_id, {})[version] = str(scope_id)
    for body in networks:
        scopes = found.get(body["id"], {})
        body["ipv4_address_scope"], body["ipv6_address_scope"] = scopes.get(4), scopes.get(6)
    return networks


class AddressScopeService:
    """The ``address_scopes`` resource."""

    def __init__(self, core: Core) -> None:
        self.core = core

    def _list(self, session: Session, ctx: RequestContext, query: ListQuery) -> list[dict[str, Any]]:
        stmt = select(AddressScope.__table__).where(sharing.visible_clause(ctx, KIND, AddressScope))
        stmt = stmt.where(*sql_filters(query, COLUMNS, exact=True))
        return render_many(session, ctx, session.execute(page_in_sql(stmt, AddressScope.id, query)).all())

    def list(self, ctx: RequestContext, query: ListQuery) -> Page:
        return apply(self.core.db.run(lambda s: self._list(s, ctx, query), write=False), query)

    def show(self, ctx: RequestContext, resource_id: str) -> dict[str, Any]:
        return self.core.db.run(lambda s: render_many(s, ctx, [get_scope(s, ctx, resource_id)])[0], write=False)

    def create(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        attrs, project = shareable.create_request(ctx, KIND, "create_address_scope", SPEC, body)

        def work(session: Session) -> dict[str, Any]:
            scope = AddressScope(
                id=new_id(),
                project_id=project,
                name=attrs["name"],
                description=attrs["description"],
                ip_version=attrs["ip_version"],
                shared=False,
                status="ACTIVE",
                revision_number=0,
            )
            shareable.add(session, KIND, scope, attrs)
            return render_many(session, ctx, [scope])[0]

        return self.core.db.run(work)

    def update(
        self, ctx: RequestContext, resource_id: str, body: dict[str, Any], revision: int | None
    ) -> dict[str, Any]:
        attrs = validate(KIND, SPEC, body, creating=False)
        return self.core.db.run(lambda s: self._update(s, ctx, resource_id, attrs, revision))

    def _update(
        self, session: Session, ctx: RequestContext, scope_id: str, attrs: dict[str, Any], revision: int | None
    ) -> dict[str, Any]:
        scope = get_scope(session, ctx, scope_id)
        target = {"project_id": scope.project_id, "shared": scope.shared}
        policy.check(ctx, "update_address_scope", target)
        policy.check_attributes(ctx, "update", KIND, list(attrs), target, attrs)
        check_revision(scope.revision_number, revision)
        if scope.shared and attrs.get("shared") is False:
            raise AddressScopeUpdateError(address_scope_id=scope.id, reason="Shared address scope can't be unshared")
        for key in ("name", "description"):
            if key in attrs:
                setattr(scope, key, attrs[key])
        if "shared" in attrs:
            rbac_rows.set_wildcard(session, KIND, scope, sharing.SHARED, attrs["shared"])
        changes.updated(session, KIND, scope)
        session.flush()
        return render_many(session, ctx, [scope])[0]

    def delete(self, ctx: RequestContext, resource_id: str) -> None:
        self.core.db.run(lambda s: self._delete(s, ctx, resource_id))

    def _delete(self, session: Session, ctx: RequestContext, scope_id: str) -> None:
        scope = get_scope(session, ctx, scope_id)
        policy.check(ctx, "delete_address_scope", {"project_id": scope.project_id, "shared": scope.shared})
        used = session.scalar(select(SubnetPool.id).where(SubnetPool.address_scope_id == scope.id).limit(1))
        if used is not None:
            raise AddressScopeInUse(address_scope_id=scope.id)
        shareable.remove(session, KIND, scope)
