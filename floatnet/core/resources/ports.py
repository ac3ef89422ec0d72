"""Ports: create/show/list/update/delete with fixed IPs (IPAM), MAC addresses and port port_binding.

Besides the ``ports`` resource (:class:`PortService`), other domain modules (DHCP, routers, floating IPs)
create and delete ports inside their own transaction with :func:`new_port` and :func:`delete_port_in`, and
render them with :func:`render_ports`; every such change is logged to the change feed here.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, insert, or_, select
from sqlalchemy.orm import Session

from floatnet.config import Config
from floatnet.core.access import policy, quotas
from floatnet.core.agent_protocol import audience, changes, port_binding, provisioning
from floatnet.core.context import RequestContext
from floatnet.core.errors import HTTPBadRequest, InvalidInput, MacAddressInUse, PolicyNotAuthorized, PortNotFound
from floatnet.core.ipam import fixed_ips
from floatnet.core.listing import ListQuery, Page, apply, sql_filters
from floatnet.core.resources import device_owners, extra_dhcp_opts, port_rendering, port_security, tags
from floatnet.core.resources.fip_target import release_port
from floatnet.core.resources.scoped_rows import get_port, network_row, network_shared
from floatnet.core.service import Core, check_revision, load_dhcp_opts, owner_project
from floatnet.core.validation import (
    VNIC_TYPES,
    Attr,
    any_dict,
    choice,
    dns_name,
    list_of,
    mac_address,
    nullable,
    project_id,
    string,
    string_or_none,
    to_bool,
    to_uuid,
    validate,
)
from floatnet.db.models import IPAllocation, Network, Port, RouterPort, Tag, new_id, table_of, utcnow
from floatnet.db.session import insert_row

PORTS = table_of(Port)
NETWORKS = table_of(Network)
INSERT_PORT = insert(PORTS)


SPEC: dict[str, Attr] = {
    "network_id": Attr(to_uuid, put=False, required=True),
    "name": Attr(string(255), default=""),
    "description": Attr(string(255), default=""),
    "admin_state_up": Attr(to_bool, default=True),
    "mac_address": Attr(nullable(mac_address)),  # null: a new generated MAC (port-mac-address-regenerate)
    "fixed_ips": Attr(fixed_ips.convert_request),
    "device_id": Attr(string_or_none(255), default=""),
    "device_owner": Attr(string_or_none(255), default=""),
    "binding:host_id": Attr(string_or_none(255), default=""),
    "binding:profile": Attr(lambda value: {} if value is None else any_dict(value), default=dict),
    "binding:vnic_type": Attr(choice(*VNIC_TYPES), default="normal"),
    "port_security_enabled": Attr(to_bool),
    "security_groups": Attr(port_security.group_ids),
    "allowed_address_pairs": Attr(port_security.address_pairs),
    "dns_name": Attr(dns_name, default=""),
    "extra_dhcp_opts": Attr(extra_dhcp_opts.convert),
    "project_id": Attr(project_id, put=False),
    "tenant_id": Attr(project_id, put=False),
    "tags": Attr(list_of(string(60)), put=False),
}
COLUMNS = {"id": "id", "network_id": "network_id", "device_id": "device_id", "device_owner": "device_owner"}
COLUMNS |= {"mac_address": "mac_address", "name": "name", "project_id": "project_id", "status": "status"}
COLUMNS |= {"binding:host_id": "binding_host_id"}
FILTERS = {name: PORTS.c[column] for name, column in COLUMNS.items()}  # text, never NULL: SQL IN is exact
STORED = {
    "binding:host_id": "binding_host_id",
    "binding:profile": "binding_profile",
    "binding:vnic_type": "binding_vnic_type",
}
IGNORED = ("security_groups", "allowed_address_pairs", "fixed_ips", "tags", "network_id", "extra_dhcp_opts")


def render_ports(session: Session, rows: Sequence[Port]) -> list[dict[str, Any]]:
    """Render ORM ports (fixed IPs and tags loaded in bulk)."""
    return port_rendering.render_rows(session, [port_rendering.view_of(port) for port in rows])


def _visible(ctx: RequestContext) -> Any:
    stmt = port_rendering.select_ports()
    if ctx.is_admin:
        return stmt
    owned_networks = select(NETWORKS.c.id).where(NETWORKS.c.project_id == ctx.project_id)
    return stmt.where((PORTS.c.project_id == ctx.project_id) | PORTS.c.network_id.in_(owned_networks))


def _fixed_ips_filter(query: ListQuery) -> Any:
    """Neutron's ``fixed_ips=ip_address=A&fixed_ips=subnet_id=S`` filter as a SQL condition (removed from
    ``query``): ports with one allocation whose address is among the A's and whose subnet is among the S's.
    ``fixed_ips=ip_address_substr=T`` (``ip-substring-filtering``) asks for an address containing T."""
    wanted: dict[str, list[str]] = {}
    for value in query.filters.pop("fixed_ips", []):
        key, sep, item = value.partition("=")
        if not sep or key not in ("ip_address", "subnet_id", "ip_address_substr"):
            raise HTTPBadRequest(msg=f"Invalid input for fixed_ips filter: '{value}'")
        wanted.setdefault(key, []).append(item)
    allocs = table_of(IPAllocation)
    matching = select(allocs.c.port_id)
    for key, values in wanted.items():
        if key == "ip_address_substr":
            matching = matching.where(or_(*(allocs.c.ip_address.contains(text, autoescape=True) for text in values)))
        else:
            matching = matching.where(allocs.c[key].in_(values))
    return PORTS.c.id.in_(matching) if wanted else None


def list_ports(session: Session, ctx: RequestContext, query: ListQuery) -> list[dict[str, Any]]:
    """Ports ``ctx`` may see, with the plain-column and ``fixed_ips`` filters evaluated in SQL."""
    stmt = _visible(ctx)
    stmt = stmt.where(*sql_filters(query, FILTERS, exact=True))
    by_address = _fixed_ips_filter(query)
    if by_address is not None:
        stmt = stmt.where(by_address)
    return port_rendering.fetch(session, _page_in_sql(stmt, query))


def _page_in_sql(stmt: Any, query: ListQuery) -> Any:
    """With only ``limit``/``marker`` left to do (default id order), page in SQL: one page is read, not all.

    Fetches ``limit`` rows after the marker (the page links depend only on the page's size); the marker is
    consumed here.
    """
    if query.filters or query.sort or not query.limit or query.page_reverse:
        return stmt
    if query.marker is not None:
        stmt = stmt.where(PORTS.c.id > query.marker)
        query.marker = None
    return stmt.order_by(PORTS.c.id).limit(query.limit)


def show_port(session: Session, ctx: RequestContext, port_id: str) -> dict[str, Any]:
    """One port ``ctx`` may see (404 otherwise), rendered."""
    found = port_rendering.fetch(session, _visible(ctx).where(PORTS.c.id == port_id))
    if not found:
        raise PortNotFound(port_id=port_id)
    return found[0]


def router_of(session: Session, port_id: str) -> str | None:
    """The router a port belongs to, if any (for change-feed rows)."""
    return session.scalar(select(RouterPort.router_id).where(RouterPort.port_id == port_id))


def _mac(session: Session, network_id: str, wanted: str | None) -> str:
    if wanted is not None:
        if session.scalar(select(Port.id).where(Port.network_id == network_id, Port.mac_address == wanted)):
            raise MacAddressInUse(net_id=network_id, mac=wanted)
        return wanted
    suffix = random.getrandbits(24).to_bytes(3, "big")
    return "fa:16:3e:" + ":".join(f"{byte:02x}" for byte in suffix)


def _insert(session: Session, core: Core, project: str, attrs: dict[str, Any], network: Any) -> dict[str, Any]:
    host = attrs.get("binding:host_id", "")
    vif_type, details = port_binding.vif(session, core.config, network, host)
    now = utcnow()
    values = {
        "id": new_id(),
        "project_id": project,
        "network_id": network.id,
        "name": attrs.get("name", ""),
        "description": attrs.get("description", ""),
        "status": "DOWN",
        "revision_number": 0,
        "created_at": now,
        "updated_at": now,
        "mac_address": _mac(session, network.id, attrs.get("mac_address")),
        "admin_state_up": attrs.get("admin_state_up", True),
        "device_id": attrs.get("device_id", ""),
        "device_owner": attrs.get("device_owner", ""),
        "port_security_enabled": attrs.get("port_security_enabled", network.port_security_enabled),
        "binding_host_id": host,
        "binding_vif_type": vif_type,
        "binding_vif_details": details,
        "binding_vnic_type": attrs.get("binding:vnic_type", "normal"),
        "binding_profile": attrs.get("binding:profile", {}),
        "dns_name": attrs.get("dns_name", ""),
    }
    insert_row(session, INSERT_PORT, values)
    return values


def check_fixed_ips_count(config: Config, requested: list[dict[str, str]] | None, owner: str) -> None:
    """Neutron's ``[DEFAULT] max_fixed_ips_per_port`` (400 ``InvalidInput``); ports of Neutron's own services
    (``network:*`` owners) are trusted and not limited."""
    if requested and len(requested) > config.max_fixed_ips_per_port and not owner.startswith("network:"):
        raise InvalidInput(error_message="Exceeded maximum amount of fixed ips per port")


def create_port(
    session: Session, core: Core, project: str, attrs: dict[str, Any], network: Any
) -> tuple[dict[str, Any], list[dict[str, str]], list[str]]:
    """Create a port with its MAC, binding, fixed IPs and tags; returns its column values, IPs and tags."""
    values = _insert(session, core, project, attrs, network)
    port_id, owner = values["id"], values["device_owner"]
    check_fixed_ips_count(core.config, attrs.get("fixed_ips"), owner)
    ips = fixed_ips.allocate(session, core.ipam_hints, port_id, network.id, attrs.get("fixed_ips"), owner)
    port_tags = tags.check_tags(attrs.get("tags", []))
    tags.set_initial(session, "port", port_id, port_tags)
    extra_dhcp_opts.write(session, port_id, attrs.get("extra_dhcp_opts") or [])
    provisioning.port_written(session, core.config, values, created=True)
    changes.created(session, "port", port_id, network_id=network.id)
    return values, ips, port_tags


def new_port(session: Session, core: Core, project: str, attrs: dict[str, Any], network: Any) -> Port:
    """Create a port in ``session`` (``attrs`` already validated) and log it; see :func:`create_port`.

    No policy checks: callers (the API service, DHCP, routers, floating IPs) decide who may do this. The
    returned :class:`Port` is a detached snapshot of the new row (read its attributes; change the port with
    UPDATE statements or reload it with ``session.get``).
    """
    return Port(**create_port(session, core, project, attrs, network)[0])


def delete_port_in(session: Session, port: Port) -> None:
    """Delete a port (its fixed IPs and tags go with it) and log it; its floating IPs are disassociated first
    and the hosts whose remote-group sets held its addresses are woken."""
    release_port(session, port)
    port_security.leave_groups(session, port)
    router_id = router_of(session, port.id)
    session.execute(delete(Tag).where(Tag.resource_type == "port", Tag.resource_id == port.id))
    extra_dhcp_opts.remove(session, port.id)
    session.execute(delete(IPAllocation).where(IPAllocation.port_id == port.id))
    session.delete(port)
    session.flush()
    changes.deleted(session, "port", port.id, router_id, port.network_id, hosts=[port.binding_host_id])


def _known(session: Session, values: dict[str, Any], network: Any, groups: list[str]) -> None:
    """Hand the per-host feed the new port's host, owner, network and groups (:func:`audience.known`): it
    names the hosts the create concerns without reading back what this transaction just wrote."""
    facts = audience.PortFacts(
        values["binding_host_id"], values["device_owner"], network.id, network.network_type, frozenset(groups)
    )
    audience.known(session, values["id"], facts)


def _written(attrs: dict[str, Any]) -> list[str]:
    """The attributes a request writes, as the ``<verb>_port:<attribute>`` rules name them."""
    given = [key for key in attrs if key in SPEC]
    if any("ip_address" in entry for entry in attrs.get("fixed_ips") or []):
        given.append("fixed_ips:ip_address")
    return given


def _check_create(session: Session, ctx: RequestContext, project: str, attrs: dict[str, Any], network: Any) -> None:
    """``create_port`` and the rules of every attribute given (``attrs``: the request's, defaults left out),
    then the device checks of :mod:`floatnet.core.resources.device_owners`."""
    shared = network_shared(session, ctx, network)
    target = device_owners.policy_target(project, network, attrs.get("device_owner"), shared)
    policy.check(ctx, "create_port", target)
    if not (ctx.owns(network.project_id) or shared):
        raise PolicyNotAuthorized(action="create_port")
    policy.check_attributes(ctx, "create", "port", _written(attrs), target)
    device_owners.check_device_id(session, ctx, project, attrs.get("device_owner"), attrs.get("device_id"))


def _check_update(session: Session, ctx: RequestContext, port: Port, attrs: dict[str, Any], network: Network) -> None:
    """``update_port`` and its attribute rules on the port as it will be, then the device checks."""
    owner, device_id = attrs.get("device_owner", port.device_owner), attrs.get("device_id", port.device_id)
    target = device_owners.policy_target(port.project_id, network, owner, network_shared(session, ctx, network))
    policy.check(ctx, "update_port", target)
    policy.check_attributes(ctx, "update", "port", _written(attrs), target)
    if "device_owner" in attrs or "device_id" in attrs:
        device_owners.check_device_id(session, ctx, port.project_id, owner, device_id)


class PortService:
    """The ``ports`` resource."""

    def __init__(self, core: Core) -> None:
        self.core = core

    def list(self, ctx: RequestContext, query: ListQuery) -> Page:
        return apply(self.core.db.run(lambda s: list_ports(s, ctx, query), write=False), query)

    def show(self, ctx: RequestContext, resource_id: str) -> dict[str, Any]:
        return self.core.db.run(lambda s: show_port(s, ctx, resource_id), write=False)

    def create(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        attrs = validate("port", SPEC, body, creating=True)
        defaults = {k for k in attrs if k not in body}
        project = owner_project(ctx, attrs)

        def work(session: Session) -> dict[str, Any]:
            network = network_row(session, ctx, attrs["network_id"], lock=True)
            _check_create(session, ctx, project, {k: v for k, v in attrs.items() if k not in defaults}, network)
            quotas.check(session, self.core.config, ctx, "port", project_id=project)
            values, ips, port_tags = create_port(session, self.core, project, attrs, network)
            groups, pairs = port_security.on_create(session, ctx, values, attrs)
            _known(session, values, network, groups)
            row = [values[name] for name in port_rendering.NAMES]
            created_id = values["id"]
            opts = load_dhcp_opts(session, [created_id]).get(created_id) if attrs.get("extra_dhcp_opts") else None
            return port_rendering.render(row, ips, port_tags, groups, pairs, opts)

        return self.core.db.run(work)

    def update(
        self, ctx: RequestContext, resource_id: str, body: dict[str, Any], revision: int | None
    ) -> dict[str, Any]:
        attrs = validate("port", SPEC, body, creating=False)
        return self.core.db.run(lambda s: self._update(s, ctx, resource_id, attrs, revision))

    def _update(
        self, session: Session, ctx: RequestContext, port_id: str, attrs: dict[str, Any], revision: int | None
    ) -> dict[str, Any]:
        port = get_port(session, ctx, port_id)
        was_on = port.binding_host_id  # a re-bound port's old host is told to remove it
        network = session.get(Network, port.network_id)
        assert network is not None
        check_revision(port.revision_number, revision)
        _check_update(session, ctx, port, attrs, network)
        readdressed = "fixed_ips" in attrs or attrs.get("mac_address", port.mac_address) != port.mac_address
        if "mac_address" in attrs and attrs["mac_address"] != port.mac_address:
            port.mac_address = _mac(session, port.network_id, attrs["mac_address"])
            fixed_ips.follow_mac(session, port.id, port.network_id, port.mac_address, port.device_owner)
        if "fixed_ips" in attrs:
            owner = attrs.get("device_owner", port.device_owner)
            check_fixed_ips_count(self.core.config, attrs["fixed_ips"], owner)
            hints = self.core.ipam_hints
            fixed_ips.replace(session, hints, port.id, port.network_id, attrs["fixed_ips"], owner)
        for key, value in attrs.items():
            if key not in IGNORED and key != "mac_address":
                setattr(port, STORED.get(key, key), value)
        port.binding_vif_type, port.binding_vif_details = port_binding.vif(
            session, self.core.config, network, port.binding_host_id
        )
        port_security.on_update(session, ctx, port, attrs)
        extra_dhcp_opts.write(session, port.id, attrs.get("extra_dhcp_opts") or [])
        router_id = router_of(session, port.id)
        changes.updated(session, "port", port, router_id=router_id, network_id=port.network_id, hosts=[was_on])
        session.flush()
        if readdressed:  # a DHCP server must learn the new MAC/IPs before the port counts as provisioned again
            fields = {"id": port.id, "network_id": port.network_id, "device_owner": port.device_owner}
            provisioning.port_written(session, self.core.config, {**fields, "status": port.status})
            session.expire(port, ["status"])
        return render_ports(session, [port])[0]

    def delete(self, ctx: RequestContext, resource_id: str) -> None:
        def work(session: Session) -> None:
            port = get_port(session, ctx, resource_id)
            network_project = session.scalar(select(Network.project_id).where(Network.id == port.network_id))
            policy.check(ctx, "delete_port", {"project_id": port.project_id, "network_project_id": network_project})
            device_owners.check_deletable(session, ctx, port)
            delete_port_in(session, port)

        self.core.db.run(work)
