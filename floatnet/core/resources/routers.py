"""Routers: create/show/list/update/delete with external gateway (ext-gw-mode) and extra routes.

The gateway and the routes live in :mod:`floatnet.core.resources.router_gateway` and
:mod:`floatnet.core.resources.extra_routes`, the ``ha``/``distributed``/``flavor_id``/availability zone
attributes in :mod:`floatnet.core.resources.router_attributes`, the interfaces in
:mod:`floatnet.core.resources.router_interfaces`. Every change bumps the router's revision and logs a
``router`` change with ``router_id`` set, so the hosting agent refetches exactly this router.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from floatnet.config import Config
from floatnet.core.access import policy, quotas
from floatnet.core.agent_protocol import changes, scheduling
from floatnet.core.context import RequestContext
from floatnet.core.l3_errors import RouterInUse, RouterNotFound
from floatnet.core.listing import ListQuery, Page, apply, sql_filters
from floatnet.core.resources import availability_zones, router_attributes, router_gateway, router_ha, tags
from floatnet.core.resources import extra_routes as router_routes
from floatnet.core.resources.router_owned_ports import ROUTER_INTERFACE, addresses
from floatnet.core.resources.scoped_rows import require_owner
from floatnet.core.service import Core, check_revision, load_tags, owner_project, standard_attrs
from floatnet.core.validation import Attr, list_of, project_id, string, to_bool, validate
from floatnet.db.models import Port, Router, RouterPort, RouterRoute, Tag, new_id, utcnow

SPEC: dict[str, Attr] = {
    "name": Attr(string(255), default=""),
    "description": Attr(string(255), default=""),
    "admin_state_up": Attr(to_bool, default=True),
    "external_gateway_info": Attr(router_gateway.convert_info),
    "routes": Attr(router_routes.convert, post=False),
    "project_id": Attr(project_id, put=False),
    "tenant_id": Attr(project_id, put=False),
    "tags": Attr(list_of(string(60)), put=False),
    **router_attributes.SPEC,
}
FILTERS = {name: Router.__table__.c[name] for name in ("id", "name", "project_id", "status")}


def get_router(session: Session, ctx: RequestContext, router_id: str) -> Router:
    """The router if ``ctx`` may see it (404 otherwise, as if it did not exist)."""
    router = session.get(Router, router_id)
    if router is None or not ctx.owns(router.project_id):
        raise RouterNotFound(router_id=router_id)
    return router


def render(
    row: Any, gateway: dict[str, Any] | None, routes: list[dict[str, str]], tag_list: list[str]
) -> dict[str, Any]:
    """A router as Neutron shows it."""
    body = standard_attrs(row, tag_list)
    body.update({"admin_state_up": row.admin_state_up, "external_gateway_info": gateway, "routes": routes})
    body.update(router_attributes.render(row))
    return body


def _gateways(session: Session, rows: Sequence[Any]) -> dict[str, dict[str, Any]]:
    gw_ports = {row.gw_port_id: row for row in rows if row.gw_port_id}
    if not gw_ports:
        return {}
    rows_net = session.execute(select(Port.id, Port.network_id).where(Port.id.in_(list(gw_ports))))
    networks = {port_id: network_id for port_id, network_id in rows_net}
    ips = addresses(session, list(gw_ports))
    return {
        row.id: {
            "network_id": networks.get(port_id),
            "enable_snat": row.enable_snat,
            "external_fixed_ips": ips.get(port_id, []),
        }
        for port_id, row in gw_ports.items()
    }


def _routes(session: Session, router_ids: list[str]) -> dict[str, list[dict[str, str]]]:
    result: dict[str, list[dict[str, str]]] = defaultdict(list)
    rows = session.execute(
        select(RouterRoute.router_id, RouterRoute.destination, RouterRoute.nexthop)
        .where(RouterRoute.router_id.in_(router_ids))
        .order_by(RouterRoute.destination, RouterRoute.nexthop)
    )
    for router_id, destination, nexthop in rows:
        result[router_id].append({"destination": destination, "nexthop": nexthop})
    return result


def render_rows(session: Session, config: Config, rows: Sequence[Any]) -> list[dict[str, Any]]:
    """Render many routers with one query per related table."""
    ids = [row.id for row in rows]
    gateways, routes, tag_map = (
        _gateways(session, rows),
        _routes(session, ids),
        load_tags(session, "router", ids),
    )
    bodies = [render(row, gateways.get(row.id), routes.get(row.id, []), tag_map.get(row.id, [])) for row in rows]
    return availability_zones.fill_zones(session, config, scheduling.ROUTER, bodies)


def render_one(session: Session, config: Config, router: Router) -> dict[str, Any]:
    return render_rows(session, config, [router])[0]


class RouterService:
    """The ``routers`` resource."""

    def __init__(self, core: Core) -> None:
        self.core = core

    def _list(self, session: Session, ctx: RequestContext, query: ListQuery) -> list[dict[str, Any]]:
        stmt = select(Router.__table__)
        if not ctx.is_admin:
            stmt = stmt.where(Router.project_id == ctx.project_id)
        stmt = stmt.where(*sql_filters(query, FILTERS))
        return render_rows(session, self.core.config, session.execute(stmt).all())

    def list(self, ctx: RequestContext, query: ListQuery) -> Page:
        return apply(self.core.db.run(lambda s: self._list(s, ctx, query), write=False), query)

    def show(self, ctx: RequestContext, resource_id: str) -> dict[str, Any]:
        return self.core.db.run(lambda s: render_one(s, self.core.config, get_router(s, ctx, resource_id)), write=False)

    def create(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        attrs = validate("router", SPEC, body, creating=True)
        project = owner_project(ctx, attrs)
        target = {"project_id": project}
        policy.check(ctx, "create_router", target)
        policy.check_attributes(ctx, "create", "router", [key for key in attrs if key in body], target, attrs)
        router_attributes.check(attrs)
        return self.core.db.run(lambda s: self._create(s, ctx, project, attrs))

    def _create(self, session: Session, ctx: RequestContext, project: str, attrs: dict[str, Any]) -> dict[str, Any]:
        quotas.check(session, self.core.config, ctx, "router", project_id=project)
        if attrs["availability_zone_hints"]:
            availability_zones.check_hints(session, "router", attrs["availability_zone_hints"])
        now = utcnow()
        router = Router(
            id=new_id(),
            project_id=project,
            name=attrs["name"],
            description=attrs["description"],
            admin_state_up=attrs["admin_state_up"],
            availability_zone_hints=attrs["availability_zone_hints"],
            status="ACTIVE",
            created_at=now,
            updated_at=now,
        )
        session.add(router)
        session.flush()
        if router_ha.requested(self.core.config, attrs):
            router_ha.enable(session, self.core, router)
        tags.set_requested(session, "router", router.id, attrs)
        info = attrs.get("external_gateway_info")
        if info:
            router_gateway.update(session, self.core, ctx, router, info)
        changes.created(session, "router", router.id, router_id=router.id)
        return render_one(session, self.core.config, router)

    def update(
        self, ctx: RequestContext, resource_id: str, body: dict[str, Any], revision: int | None
    ) -> dict[str, Any]:
        attrs = validate("router", SPEC, body, creating=False)
        policy.check_attributes(ctx, "update", "router", list(attrs), {"project_id": ctx.project_id}, attrs)
        router_attributes.check(attrs)
        return self.core.db.run(lambda s: self._update(s, ctx, resource_id, attrs, revision))

    def _update(
        self, session: Session, ctx: RequestContext, router_id: str, attrs: dict[str, Any], revision: int | None
    ) -> dict[str, Any]:
        router = get_router(session, ctx, router_id)
        require_owner(ctx, "update_router", router)
        check_revision(router.revision_number, revision)
        converting = router_ha.check_conversion(router, attrs)
        for key in ("name", "description", "admin_state_up"):
            if key in attrs:
                setattr(router, key, attrs[key])
        if converting:
            (router_ha.enable if attrs["ha"] else router_ha.disable)(session, self.core, router)
        if "external_gateway_info" in attrs:
            router_gateway.update(session, self.core, ctx, router, attrs["external_gateway_info"])
        if "routes" in attrs:
            router_routes.replace(session, router, attrs["routes"])
        changes.updated(session, "router", router, router_id=router.id)
        session.flush()
        return render_one(session, self.core.config, router)

    def delete(self, ctx: RequestContext, resource_id: str) -> None:
        self.core.db.run(lambda s: self._delete(s, ctx, resource_id))

    def _delete(self, session: Session, ctx: RequestContext, router_id: str) -> None:
        router = get_router(session, ctx, router_id)
        require_owner(ctx, "delete_router", router)
        interfaces = session.scalar(
            select(RouterPort.port_id).where(
                RouterPort.router_id == router_id, RouterPort.port_type == ROUTER_INTERFACE
            )
        )
        if interfaces is not None:
            raise RouterInUse(router_id=router_id)
        if router.gw_port_id:
            router_gateway.clear(session, router)
        if router.ha:
            router_ha.disable(session, self.core, router)
        session.execute(delete(RouterRoute).where(RouterRoute.router_id == router_id))
        session.execute(delete(Tag).where(Tag.resource_type == "router", Tag.resource_id == router_id))
        session.delete(router)
        changes.deleted(session, "router", router_id, router_id=router_id)
