"""Floating IPs: create/show/list/update/delete, association, and the fip-port-details extension.

A floating IP owns a port on its external network (``device_owner network:floatingip``, ``device_id`` = the
floating IP's id) that holds its address, so IPAM's uniqueness and pool exhaustion (409
``IpAddressGenerationFailure``) apply unchanged. Association rules: :mod:`floatnet.core.resources.fip_association`.
``status`` is DOWN at creation and after every association change, until the hosting agent reports ACTIVE.
Change rows name the router the floating IP goes through; a move between routers logs one row for each.
Deleting a port disassociates its floating IPs (:func:`floatnet.core.resources.fip_target.release_port`).
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from floatnet.core.access import policy, quotas
from floatnet.core.agent_protocol import changes
from floatnet.core.context import RequestContext
from floatnet.core.errors import BadRequest, IpAddressGenerationFailure, NetworkNotFound
from floatnet.core.l3_errors import FloatingIPNotFound
from floatnet.core.listing import ListQuery, Page, apply, sql_filters
from floatnet.core.resources import fip_association, pf_guard, tags
from floatnet.core.resources.fip_target import NOWHERE, pointing
from floatnet.core.resources.router_owned_ports import FLOATINGIP
from floatnet.core.resources.router_owned_ports import create as create_port
from floatnet.core.resources.router_owned_ports import remove as remove_port
from floatnet.core.resources.scoped_rows import network_visible, require_owner
from floatnet.core.service import Core, check_revision, fmt_time, load_tags, owner_project
from floatnet.core.validation import (
    Attr,
    dns_domain,
    fip_dns_name,
    ip_address,
    list_of,
    nullable,
    project_id,
    string,
    to_uuid,
    validate,
)
from floatnet.db.models import FloatingIP, Network, Port, Tag, new_id, table_of, utcnow

SPEC: dict[str, Attr] = {
    "floating_network_id": Attr(to_uuid, put=False, required=True),
    "floating_ip_address": Attr(ip_address, put=False),
    "subnet_id": Attr(nullable(to_uuid), put=False),
    "port_id": Attr(nullable(to_uuid)),
    "fixed_ip_address": Attr(nullable(ip_address)),
    "description": Attr(string(255), default=""),
    "dns_name": Attr(fip_dns_name, put=False, default=""),
    "dns_domain": Attr(dns_domain, put=False, default=""),
    "project_id": Attr(project_id, put=False),
    "tenant_id": Attr(project_id, put=False),
    "tags": Attr(list_of(string(60)), put=False),
}
DETAIL_COLUMNS = (
    Port.name,
    Port.network_id,
    Port.mac_address,
    Port.admin_state_up,
    Port.status,
    Port.device_id,
    Port.device_owner,
)
DETAIL_KEYS = tuple(column.key for column in DETAIL_COLUMNS)
FIPS, PORTS = table_of(FloatingIP), table_of(Port)
# query attribute -> column pushed down to SQL
FILTERS = {
    "id": FIPS.c.id,
    "project_id": FIPS.c.project_id,
    "floating_network_id": FIPS.c.floating_network_id,
    "floating_ip_address": FIPS.c.floating_ip_address,
    "port_id": FIPS.c.fixed_port_id,
    "fixed_ip_address": FIPS.c.fixed_ip_address,
    "router_id": FIPS.c.router_id,
    "status": FIPS.c.status,
}
INSERT_FIP = insert(FIPS)
NETWORK = select(table_of(Network)).where(table_of(Network).c.id == bindparam("network_id"))
TAGS = select(table_of(Tag).c.tag).where(
    table_of(Tag).c.resource_type == "floatingip", table_of(Tag).c.resource_id == bindparam("fip_id")
)
SHOW = select(FIPS).where(FIPS.c.id == bindparam("fip_id"))
UPDATE_FIP = update(FIPS).where(FIPS.c.id == bindparam("fip_id"))


FIELDS = (
    "id", "project_id", "floating_ip_address", "floating_network_id", "router_id", "fixed_port_id",
    "fixed_ip_address", "status", "description", "created_at", "updated_at", "revision_number", "dns_name",
    "dns_domain",
)  # fmt: skip
LIST = select(*(FIPS.c[name] for name in FIELDS), *(PORTS.c[key] for key in DETAIL_KEYS)).select_from(
    FIPS.outerjoin(PORTS, PORTS.c.id == FIPS.c.fixed_port_id)
)


def render(row: Sequence[Any], tag_list: list[str], forwardings: list[dict[str, Any]]) -> dict[str, Any]:
    """A floating IP as Neutron shows it from a :data:`LIST` row: :data:`FIELDS` then the port's
    :data:`DETAIL_KEYS` (fip-port-details; all None when not associated), and its port forwardings
    (expose-port-forwarding-in-fip). Positional on purpose: this renders thousands of rows per list."""
    (
        fip_id,
        project,
        address,
        network,
        router,
        port,
        fixed,
        status,
        description,
        created,
        updated,
        revision,
        dns_name,
        domain,
    ) = row[:14]
    details = row[14:]
    return {
        "id": fip_id,
        "tenant_id": project,
        "project_id": project,
        "floating_ip_address": address,
        "floating_network_id": network,
        "router_id": router,
        "port_id": port,
        "fixed_ip_address": fixed,
        "status": status,
        "description": description,
        "tags": tag_list,
        "created_at": fmt_time(created),
        "updated_at": fmt_time(updated),
        "revision_number": revision,
        "dns_name": dns_name,
        "dns_domain": domain,
        "port_details": dict(zip(DETAIL_KEYS, details, strict=True)) if port and details[1] else None,
        "port_forwardings": forwardings,
    }


def render_where(session: Session, *conditions: Any) -> list[dict[str, Any]]:
    """Rendered floating IPs matching ``conditions`` (two queries in all: rows with port details, tags)."""
    rows = session.connection().execute(LIST.where(*conditions)).all()
    ids = select(FIPS.c.id).where(*conditions)
    tag_map = load_tags(session, "floatingip", ids) if rows else {}
    pf_map = pf_guard.summaries(session, ids) if rows else {}
    return [render(row, tag_map.get(row[0], []), pf_map.get(row[0], [])) for row in rows]


def render_fip(session: Session, fip: Any, tag_list: list[str]) -> dict[str, Any]:
    """One floating IP from an object with its columns; the associated port comes from the session (already
    loaded by the association check, so no query)."""
    port = session.get(Port, fip.fixed_port_id) if fip.fixed_port_id else None
    details = [getattr(port, key) if port is not None else None for key in DETAIL_KEYS]
    forwardings = pf_guard.summaries(session, select(FIPS.c.id).where(FIPS.c.id == fip.id)).get(fip.id, [])
    return render([getattr(fip, name) for name in FIELDS] + details, tag_list, forwardings)


def own_tags(session: Session, fip_id: str) -> list[str]:
    """One floating IP's tags, sorted (a prebuilt statement: this is on the associate path)."""
    return sorted(session.connection().execute(TAGS, {"fip_id": fip_id}).scalars())


def get_fip(session: Session, ctx: RequestContext, fip_id: str) -> FloatingIP:
    """The floating IP if ``ctx`` may see it (404 otherwise)."""
    fip = session.get(FloatingIP, fip_id)
    if fip is None or not ctx.owns(fip.project_id):
        raise FloatingIPNotFound(floatingip_id=fip_id)
    return fip


def _requested_address(attrs: dict[str, Any]) -> list[dict[str, str]] | None:
    entry = {key: attrs[key] for key in ("subnet_id", "floating_ip_address") if attrs.get(key)}
    if not entry:
        return None
    if "floating_ip_address" in entry:
        entry["ip_address"] = entry.pop("floating_ip_address")
    return [entry]


class FloatingIPService:
    """The ``floatingips`` resource."""

    def __init__(self, core: Core) -> None:
        self.core = core

    def _list(self, session: Session, ctx: RequestContext, query: ListQuery) -> list[dict[str, Any]]:
        conditions = [] if ctx.is_admin else [FIPS.c.project_id == ctx.project_id]
        return render_where(session, *conditions, *sql_filters(query, FILTERS))

    def list(self, ctx: RequestContext, query: ListQuery) -> Page:
        return apply(self.core.db.run(lambda s: self._list(s, ctx, query), write=False), query)

    def show(self, ctx: RequestContext, resource_id: str) -> dict[str, Any]:
        def work(session: Session) -> dict[str, Any]:
            get_fip(session, ctx, resource_id)
            return render_where(session, FIPS.c.id == resource_id)[0]

        return self.core.db.run(work, write=False)

    def create(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        attrs = validate("floatingip", SPEC, body, creating=True)
        if attrs.get("fixed_ip_address") and not attrs.get("port_id"):
            raise BadRequest(resource="floatingip", msg="fixed_ip_address cannot be specified without a port_id")
        project = owner_project(ctx, attrs)
        target = {"project_id": project}
        policy.check(ctx, "create_floatingip", target)
        policy.check_attributes(ctx, "create", "floatingip", [k for k in attrs if k in body], target, attrs)
        return self.core.db.run(lambda s: self._create(s, ctx, project, attrs))

    def _create(self, session: Session, ctx: RequestContext, project: str, attrs: dict[str, Any]) -> dict[str, Any]:
        network = session.connection().execute(NETWORK, {"network_id": attrs["floating_network_id"]}).first()
        if network is None or not network_visible(session, ctx, network):
            raise NetworkNotFound(net_id=attrs["floating_network_id"])
        if not network.external:
            raise BadRequest(resource="floatingip", msg=f"Network {network.id} is not a valid external network")
        quotas.check(session, self.core.config, ctx, "floatingip", project_id=project)
        fip_id = new_id()
        port_id, ips = create_port(session, self.core, network, "", FLOATINGIP, fip_id, _requested_address(attrs))
        if not ips:
            raise IpAddressGenerationFailure(net_id=network.id)
        now = utcnow()
        values = {
            "id": fip_id, "project_id": project, "name": "", "description": attrs["description"],
            "status": "DOWN",
            "floating_ip_address": ips[0]["ip_address"], "floating_network_id": network.id,
            "floating_port_id": port_id, "fixed_port_id": None, "fixed_ip_address": None, "router_id": None,
            "created_at": now, "updated_at": now, "revision_number": 0,
            "dns_name": attrs["dns_name"], "dns_domain": attrs["dns_domain"],
        }  # fmt: skip
        fip = SimpleNamespace(**values)
        if attrs.get("port_id"):
            target = fip_association.resolve(session, ctx, fip, attrs["port_id"], attrs.get("fixed_ip_address"))
            values.update(fixed_port_id=target.port_id, fixed_ip_address=target.fixed_ip_address,
                          router_id=target.router_id)  # fmt: skip
            fip = SimpleNamespace(**values)
        session.connection().execute(INSERT_FIP, values)
        tag_list = tags.check_tags(attrs.get("tags", []))
        tags.set_initial(session, "floatingip", fip_id, tag_list)
        changes.created(session, "floatingip", fip_id, router_id=fip.router_id)
        return render_fip(session, fip, tag_list)

    def update(
        self, ctx: RequestContext, resource_id: str, body: dict[str, Any], revision: int | None
    ) -> dict[str, Any]:
        attrs = validate("floatingip", SPEC, body, creating=False)
        if attrs.get("fixed_ip_address") and not attrs.get("port_id"):
            raise BadRequest(resource="floatingip", msg="fixed_ip_address cannot be specified without a port_id")
        attrs.setdefault("port_id", None)  # Neutron: a port_id omitted from an update disassociates
        return self.core.db.run(lambda s: self._update(s, ctx, resource_id, attrs, revision))

    def _update(
        self, session: Session, ctx: RequestContext, fip_id: str, attrs: dict[str, Any], revision: int | None
    ) -> dict[str, Any]:
        row = session.connection().execute(SHOW, {"fip_id": fip_id}).first()
        if row is None or not ctx.owns(row.project_id):
            raise FloatingIPNotFound(floatingip_id=fip_id)
        require_owner(ctx, "update_floatingip", row)
        fip = SimpleNamespace(**row._asdict())
        check_revision(fip.revision_number, revision)
        old_router = fip.router_id
        changed: dict[str, Any] = {}
        if "description" in attrs:
            changed["description"] = attrs["description"]
        if "port_id" in attrs:
            target = NOWHERE
            if attrs["port_id"] is not None:
                pf_guard.check_free_fip(session, fip.id)
                target = fip_association.resolve(session, ctx, fip, attrs["port_id"], attrs.get("fixed_ip_address"))
            if (target.port_id, target.fixed_ip_address) != (fip.fixed_port_id, fip.fixed_ip_address):
                changed.update(pointing(target))
        vars(fip).update(changed)
        changes.updated(session, "floatingip", fip, router_id=fip.router_id, moved_from=old_router)
        revised = {"revision_number": fip.revision_number, "updated_at": fip.updated_at}
        session.connection().execute(UPDATE_FIP, {"fip_id": fip_id, **changed, **revised})
        return render_fip(session, fip, own_tags(session, fip.id))

    def delete(self, ctx: RequestContext, resource_id: str) -> None:
        def work(session: Session) -> None:
            fip = get_fip(session, ctx, resource_id)
            require_owner(ctx, "delete_floatingip", fip)
            router_id, port_id = fip.router_id, fip.floating_port_id
            session.execute(delete(Tag).where(Tag.resource_type == "floatingip", Tag.resource_id == fip.id))
            session.delete(fip)
            session.flush()
            remove_port(session, port_id)
            changes.deleted(session, "floatingip", resource_id, router_id=router_id)

        self.core.db.run(work)
