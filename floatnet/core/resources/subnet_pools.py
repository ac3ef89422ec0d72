"""Subnet pools (``/v2.0/subnetpools``: subnet_allocation, default-subnetpools, subnetpool-prefix-ops) and
the allocation of a subnet's CIDR from a pool, as Neutron's ``db_base_plugin_v2`` and ``ipam/subnet_alloc``.

A pool's taken space is its subnets' CIDRs (``subnets.subnetpool_id``). Allocation runs in the creating
subnet's transaction holding the pool's row lock (PostgreSQL ``FOR UPDATE``; SQLite serialises writers), so
two concurrent subnets never get overlapping prefixes. Prefixes only grow on update (``remove_prefixes`` is
the one way to shrink, refused while a subnet uses them); one default pool per IP version.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from floatnet.core.access import policy, sharing
from floatnet.core.agent_protocol import changes
from floatnet.core.context import RequestContext
from floatnet.core.errors import BadRequest, InvalidInput
from floatnet.core.ipam import prefixes as px
from floatnet.core.ipam.pools import IPNetwork
from floatnet.core.listing import ListQuery, Page, apply, sql_filters
from floatnet.core.pool_errors import (
    AddressScopePrefixConflict,
    EmptySubnetPoolPrefixList,
    IllegalSubnetPoolAssociationToAddressScope,
    IllegalSubnetPoolIpVersionAssociationToAddressScope,
    IllegalSubnetPoolPrefixBounds,
    IllegalSubnetPoolPrefixUpdate,
    IllegalSubnetPoolUpdate,
    PrefixVersionMismatch,
    SubnetPoolDeleteError,
    SubnetPoolNotFound,
    UnsupportedMinSubnetPoolPrefix,
)
from floatnet.core.resources import shareable
from floatnet.core.resources.address_scopes import get_scope, get_visible, may_use, page_in_sql
from floatnet.core.service import Core, check_revision, load_tags, standard_attrs
from floatnet.core.validation import (
    Attr,
    cidr,
    list_of,
    nullable,
    project_id,
    string,
    to_bool,
    to_int,
    to_uuid,
    validate,
)
from floatnet.db.models import AddressScope, Subnet, SubnetPool, new_id
from floatnet.db.session import serialize

KIND = "subnetpool"
SPEC: dict[str, Attr] = {
    "name": Attr(string(255), default=""),
    "description": Attr(string(255), default=""),
    "prefixes": Attr(list_of(cidr), required=True),
    "default_prefixlen": Attr(to_int()),
    "min_prefixlen": Attr(to_int()),
    "max_prefixlen": Attr(to_int()),
    "default_quota": Attr(nullable(to_int(0))),
    "is_default": Attr(to_bool, default=False),
    "shared": Attr(to_bool, put=False, default=False),
    "address_scope_id": Attr(nullable(to_uuid)),
    "project_id": Attr(project_id, put=False),
    "tenant_id": Attr(project_id, put=False),
    "tags": Attr(list_of(string(60)), put=False),
}
TEXT_COLUMNS = {name: getattr(SubnetPool, name) for name in ("id", "name", "project_id", "description")}
BOUNDS = ("min_prefixlen", "max_prefixlen", "default_prefixlen")


def get_pool(session: Session, ctx: RequestContext, pool_id: str, lock: bool = False) -> SubnetPool:
    """The pool if ``ctx`` may see it (own, shared, or admin; 404 otherwise); ``lock`` takes its row lock."""
    pool = get_visible(session, ctx, KIND, SubnetPool, pool_id, SubnetPoolNotFound, subnetpool_id=pool_id)
    if lock:
        session.refresh(pool, with_for_update=True)
    return pool


def render(row: Any, tag_list: list[str]) -> dict[str, Any]:
    """A subnet pool as Neutron shows it (no ``status``)."""
    body = standard_attrs(row, tag_list)
    del body["status"]
    body.update({key: getattr(row, key) for key in ("ip_version", "default_quota", "address_scope_id", *BOUNDS)})
    body.update({"prefixes": list(row.prefixes), "is_default": bool(row.is_default), "shared": bool(row.shared)})
    return body


def render_many(session: Session, ctx: RequestContext, rows: Sequence[Any]) -> list[dict[str, Any]]:
    """Rendered pools as ``ctx`` sees them (``shared`` per caller, as Neutron), tags loaded in one query."""
    tag_map = load_tags(session, KIND, [row.id for row in rows])
    return sharing.mark_shared(session, ctx, KIND, [render(row, tag_map.get(row.id, [])) for row in rows])


def _prefix_info(texts: Sequence[str]) -> tuple[int, list[IPNetwork]]:
    """Neutron's ``_read_prefix_info``: the pool's IP version and its compacted prefixes."""
    if not texts:
        raise EmptySubnetPoolPrefixList()
    nets = px.parse(texts)
    if len({net.version for net in nets}) > 1:
        raise PrefixVersionMismatch()
    return nets[0].version, px.compact(nets)


def _bounds(version: int, values: dict[str, Any]) -> dict[str, int]:
    """Neutron's ``_read_prefix_bounds``: defaults (min 8 or 64, max 32 or 128, default = min), then checks."""
    low = values.get("min_prefixlen")
    low = px.DEFAULT_MIN_PREFIXLEN[version] if low is None else low
    high = values.get("max_prefixlen")
    high = px.MAX_PREFIXLEN[version] if high is None else high
    default = values.get("default_prefixlen")
    default = low if default is None else default
    if low < 0:
        raise UnsupportedMinSubnetPoolPrefix(prefix=low, version=4)
    checks = (
        ("min_prefixlen", low, "max_prefixlen", high, low > high),
        ("max_prefixlen", high, "ip_version_max", px.MAX_PREFIXLEN[version], high > px.MAX_PREFIXLEN[version]),
        ("default_prefixlen", default, "min_prefixlen", low, default < low),
        ("default_prefixlen", default, "max_prefixlen", high, default > high),
    )
    for kind, value, base_kind, base, bad in checks:
        if bad:
            raise IllegalSubnetPoolPrefixBounds(
                prefix_type=kind, prefixlen=value, base_prefix_type=base_kind, base_prefixlen=base
            )
    return {"min_prefixlen": low, "max_prefixlen": high, "default_prefixlen": default}


def _check_default(session: Session, version: int, pool_id: str | None) -> None:
    """One default pool per IP version (Neutron answers ``InvalidInput``)."""
    serialize(session, "subnetpool-default")
    stmt = select(SubnetPool.id).where(SubnetPool.is_default.is_(True), SubnetPool.ip_version == version)
    if any(found != pool_id for found in session.scalars(stmt)):
        raise InvalidInput(
            error_message="A default subnetpool for this IP family has already been set. "
            "Only one default may exist per IP family"
        )


def _check_scope(
    session: Session, ctx: RequestContext, scope_id: str | None, pool_id: str, version: int, nets: list[IPNetwork]
) -> None:
    """Neutron's ``_validate_address_scope_id``: a scope the caller may use, of the pool's IP version, whose
    other pools share no address with ``nets``."""
    if scope_id is None:
        return
    serialize(session, "address-scope")
    scope = get_scope(session, ctx, scope_id)
    if not may_use(session, ctx, "address_scope", scope):
        raise IllegalSubnetPoolAssociationToAddressScope(subnetpool_id=pool_id, address_scope_id=scope_id)
    if scope.ip_version != version:
        raise IllegalSubnetPoolIpVersionAssociationToAddressScope(
            subnetpool_id=pool_id, address_scope_id=scope_id, ip_version=scope.ip_version
        )
    stmt = select(SubnetPool.prefixes).where(SubnetPool.address_scope_id == scope_id, SubnetPool.id != pool_id)
    for others in session.scalars(stmt):
        if px.overlaps(nets, px.parse(others)):
            raise AddressScopePrefixConflict()


def taken(session: Session, pool_id: str) -> list[IPNetwork]:
    """The CIDRs of the pool's subnets."""
    return px.parse(session.scalars(select(Subnet.cidr).where(Subnet.subnetpool_id == pool_id)))


def _apply(session: Session, ctx: RequestContext, pool: SubnetPool, values: dict[str, Any]) -> None:
    """Validate the pool's would-be state ``values`` (all attributes) as Neutron's reader does and write it."""
    version, nets = _prefix_info(values["prefixes"])
    bounds = _bounds(version, values)
    if values["is_default"] and not pool.is_default:
        _check_default(session, version, pool.id)
    _check_scope(session, ctx, values.get("address_scope_id"), pool.id, version, nets)
    pool.ip_version = version
    pool.prefixes = [str(net) for net in nets]
    for key in ("name", "description", "default_quota", "is_default", "shared", "address_scope_id"):
        setattr(pool, key, values.get(key))
    for key, value in bounds.items():
        setattr(pool, key, value)


class SubnetPoolService:
    """The ``subnetpools`` resource and its ``add_prefixes``/``remove_prefixes`` actions."""

    def __init__(self, core: Core) -> None:
        self.core = core

    def _list(self, session: Session, ctx: RequestContext, query: ListQuery) -> list[dict[str, Any]]:
        stmt = select(SubnetPool.__table__).where(sharing.visible_clause(ctx, KIND, SubnetPool))
        stmt = stmt.where(*sql_filters(query, TEXT_COLUMNS, exact=True))
        stmt = stmt.where(*sql_filters(query, {"address_scope_id": SubnetPool.address_scope_id}))
        return render_many(session, ctx, session.execute(page_in_sql(stmt, SubnetPool.id, query)).all())

    def list(self, ctx: RequestContext, query: ListQuery) -> Page:
        return apply(self.core.db.run(lambda s: self._list(s, ctx, query), write=False), query)

    def show(self, ctx: RequestContext, resource_id: str) -> dict[str, Any]:
        return self.core.db.run(lambda s: render_many(s, ctx, [get_pool(s, ctx, resource_id)])[0], write=False)

    def create(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        attrs, project = shareable.create_request(ctx, KIND, "create_subnetpool", SPEC, body)

        def work(session: Session) -> dict[str, Any]:
            pool = SubnetPool(id=new_id(), project_id=project, status="ACTIVE", revision_number=0, is_default=False)
            _apply(session, ctx, pool, attrs)
            shareable.add(session, KIND, pool, attrs)
            return render_many(session, ctx, [pool])[0]

        return self.core.db.run(work)

    def update(
        self, ctx: RequestContext, resource_id: str, body: dict[str, Any], revision: int | None
    ) -> dict[str, Any]:
        attrs = validate(KIND, SPEC, body, creating=False)
        return self.core.db.run(lambda s: self._update(s, ctx, resource_id, attrs, revision))

    def _update(
        self, session: Session, ctx: RequestContext, pool_id: str, attrs: dict[str, Any], revision: int | None
    ) -> dict[str, Any]:
        pool = get_pool(session, ctx, pool_id, lock=True)
        target = {"project_id": pool.project_id, "shared": pool.shared}
        policy.check(ctx, "update_subnetpool", target)
        policy.check_attributes(ctx, "update", KIND, list(attrs), target, attrs)
        check_revision(pool.revision_number, revision)
        if "prefixes" in attrs and not all(
            px.covers(px.parse(attrs["prefixes"]), net) for net in px.parse(pool.prefixes)
        ):
            raise IllegalSubnetPoolPrefixUpdate(msg="Existing prefixes must be a subset of the new prefixes")
        if pool.address_scope_id is not None:
            scope = session.get(AddressScope, pool.address_scope_id)
            if scope is not None and not ctx.owns(scope.project_id):
                raise IllegalSubnetPoolUpdate(
                    reason=f"subnetpool {pool.id} cannot be updated when associated with shared address scope "
                    f"{scope.id}"
                )
        _apply(session, ctx, pool, {**render(pool, []), **attrs})
        changes.updated(session, KIND, pool)
        session.flush()
        return render_many(session, ctx, [pool])[0]

    def delete(self, ctx: RequestContext, resource_id: str) -> None:
        self.core.db.run(lambda s: self._delete(s, ctx, resource_id))

    def _delete(self, session: Session, ctx: RequestContext, pool_id: str) -> None:
        pool = get_pool(session, ctx, pool_id, lock=True)
        policy.check(ctx, "delete_subnetpool", {"project_id": pool.project_id, "shared": pool.shared})
        if session.scalar(select(Subnet.id).where(Subnet.subnetpool_id == pool.id).limit(1)) is not None:
            raise SubnetPoolDeleteError(reason="Subnet pool has existing allocations")
        shareable.remove(session, KIND, pool)

    def change_prefixes(self, ctx: RequestContext, pool_id: str, body: Any, adding: bool) -> dict[str, Any]:
        """``PUT /v2.0/subnetpools/{id}/add_prefixes`` or ``remove_prefixes`` with ``{"prefixes": [...]}``:
        the pool's prefixes after the change. Removing a prefix a subnet uses is ``IllegalSubnetPoolPrefixUpdate``."""
        wanted = _operation_prefixes(body)
        return self.core.db.run(lambda s: self._change_prefixes(s, ctx, pool_id, wanted, adding))

    def _change_prefixes(
        self, session: Session, ctx: RequestContext, pool_id: str, wanted: Sequence[str], adding: bool
    ) -> dict[str, Any]:
        pool = get_pool(session, ctx, pool_id, lock=True)
        policy.check(ctx, "add_prefixes" if adding else "remove_prefixes", {"project_id": pool.project_id})
        current, asked = px.parse(pool.prefixes), px.parse(wanted)
        if not asked or (not adding and not px.overlaps(current, asked)):
            return {"prefixes": list(pool.prefixes)}
        if adding:
            new = [*current, *asked]
        else:
            if px.overlaps(taken(session, pool.id), asked):
                raise IllegalSubnetPoolPrefixUpdate(msg="One or more the prefixes to be removed is in use by a subnet.")
            new = px.subtract(current, asked)
        _apply(session, ctx, pool, {**render(pool, []), "prefixes": [str(net) for net in new]})
        changes.updated(session, KIND, pool)
        session.flush()
        return {"prefixes": list(pool.prefixes)}


def _operation_prefixes(body: Any) -> list[str]:
    """neutron-lib ``subnetpool_prefix_ops.get_operation_request_body``: ``{"prefixes": [cidr, ...]}``."""
    if not isinstance(body, dict) or not isinstance(body.get("prefixes"), list):
        raise BadRequest(resource="subnetpool", msg="Expected a list of prefixes in 'prefixes'")
    try:
        return [cidr(item) for item in body["prefixes"]]
    except (ValueError, TypeError) as exc:
        raise BadRequest(resource="subnetpool", msg=f"Invalid input for prefixes. Reason: {exc}") from None


def quota_used(session: Session, pool_id: str, project: str) -> int:
    """The quota units ``project``'s subnets already take from the pool."""
    stmt = select(Subnet.cidr).where(Subnet.subnetpool_id == pool_id, Subnet.project_id == project)
    return sum(px.units(ipaddress.ip_network(text)) for text in session.scalars(stmt))


def default_pool(session: Session, version: int) -> SubnetPool | None:
    """The default pool of IP ``version``, if one is set."""
    stmt = select(SubnetPool).where(SubnetPool.is_default.is_(True), SubnetPool.ip_version == version)
    return session.scalars(stmt.limit(1)).first()
