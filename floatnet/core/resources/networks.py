"""Networks: create/show/list/update/delete with provider, external-net, MTU and port-security attributes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from floatnet.core.access import policy, quotas, sharing
from floatnet.core.agent_protocol import changes, scheduling
from floatnet.core.context import RequestContext
from floatnet.core.errors import (
    ExternalNetworkInUse,
    InvalidInput,
    InvalidSharedSetting,
    NetworkInUse,
    NetworkMTUSubnetConflict,
)
from floatnet.core.listing import ListQuery, Page, apply, sql_filters
from floatnet.core.resources import address_scopes, availability_zones, rbac_rows, segments, tags
from floatnet.core.resources.scoped_rows import get_network, network_visible_clause, require_owner
from floatnet.core.service import Core, check_revision, load_tags, owner_project, standard_attrs
from floatnet.core.validation import (
    Attr,
    dns_domain,
    list_of,
    nullable,
    project_id,
    string,
    to_bool,
    to_int,
    validate,
)
from floatnet.db.models import Network, Port, Subnet, Tag, new_id, table_of

AUTO_DELETE_OWNERS = ("network:dhcp",)

SPEC: dict[str, Attr] = {
    "name": Attr(string(255), default=""),
    "description": Attr(string(255), default=""),
    "admin_state_up": Attr(to_bool, default=True),
    "shared": Attr(to_bool, default=False),
    "router:external": Attr(to_bool, default=False),
    "mtu": Attr(to_int(0, 65535)),  # Neutron: non-negative; a subnet then needs 68 (IPv4) / 1280 (IPv6)
    "port_security_enabled": Attr(to_bool, default=True),
    "provider:network_type": Attr(nullable(string(32))),
    "provider:physical_network": Attr(nullable(string(64))),
    "provider:segmentation_id": Attr(nullable(to_int())),
    "project_id": Attr(project_id, put=False),
    "tenant_id": Attr(project_id, put=False),
    "tags": Attr(list_of(string(60)), put=False),
    "availability_zone_hints": Attr(availability_zones.hint_list, put=False),
    "is_default": Attr(to_bool),
    "dns_domain": Attr(dns_domain),
}
PROVIDER = ("provider:network_type", "provider:physical_network", "provider:segmentation_id")
FILTERS = {name: Network.__table__.c[name] for name in ("id", "name", "project_id", "status")}
SUBNETS = table_of(Subnet)
SUBNETS_OF = (
    select(SUBNETS.c.network_id, SUBNETS.c.id)
    .where(SUBNETS.c.network_id.in_(bindparam("ids", expanding=True)))
    .order_by(SUBNETS.c.created_at, SUBNETS.c.id)
)
RENAMED = {"provider:network_type": "network_type"}


def render(row: Any, subnet_ids: list[str], tag_list: list[str]) -> dict[str, Any]:
    """A network as Neutron shows it (``row``: Network or a Row of the networks table)."""
    body = standard_attrs(row, tag_list)
    body.update(
        {
            "admin_state_up": row.admin_state_up,
            "shared": row.shared,
            "router:external": row.external,
            "mtu": row.mtu,
            "port_security_enabled": row.port_security_enabled,
            "subnets": subnet_ids,
            "provider:network_type": row.network_type,
            "provider:physical_network": row.physical_network,
            "provider:segmentation_id": row.segmentation_id,
            "availability_zone_hints": list(row.availability_zone_hints or []),
            "availability_zones": [],  # filled by availability_zones.fill_zones
            "ipv4_address_scope": None,
            "ipv6_address_scope": None,
            "is_default": False,
            "l2_adjacency": True,
            "vlan_transparent": None,  # Neutron's value when not requested (floatnet's backend offers neither)
            "qinq": None,
            "dns_domain": row.dns_domain or "",
        }
    )
    return body


def _subnet_ids(session: Session, network_ids: Any) -> dict[str, list[str]]:
    result: dict[str, list[str]] = defaultdict(list)
    rows = session.connection().execute(SUBNETS_OF, {"ids": list(network_ids)}).all()
    for network_id, subnet_id in rows:
        result[network_id].append(subnet_id)
    return result


def render_many(session: Session, ctx: RequestContext, query: ListQuery | None = None) -> list[dict[str, Any]]:
    """Rendered networks ``ctx`` may see, with column filters of ``query`` evaluated in SQL."""
    stmt = select(Network.__table__).where(network_visible_clause(ctx))
    if query is not None:
        stmt = stmt.where(*sql_filters(query, FILTERS))
    rows = session.execute(stmt).all()
    ids = [row.id for row in rows]
    subnets = _subnet_ids(session, ids)
    tag_map = load_tags(session, "network", ids)
    bodies = [render(row, subnets.get(row.id, []), tag_map.get(row.id, [])) for row in rows]
    sharing.mark_shared(session, ctx, "network", bodies)
    return address_scopes.fill_network_scopes(session, bodies)


def render_one(session: Session, network: Network) -> dict[str, Any]:
    """One network, rendered."""
    body = render(
        network,
        _subnet_ids(session, [network.id]).get(network.id, []),
        load_tags(session, "network", [network.id]).get(network.id, []),
    )
    return address_scopes.fill_network_scopes(session, [body])[0]


def _check_unshare(session: Session, network: Network) -> None:
    """A shared network stays shared while other projects use it through the ``*`` row (409)."""
    if rbac_rows.in_use(session, "network", network, sharing.SHARED, sharing.WILDCARD):
        raise InvalidSharedSetting(network=network.id)


def _check_unexternal(session: Session, network: Network) -> None:
    """An external network stays external while router gateways or floating IPs use it (409).

    Neutron checks the gateway ports; floatnet also counts floating IPs, which cannot be served from a
    network that is no longer external.
    """
    if rbac_rows.external_users(session, network.id):
        raise ExternalNetworkInUse(net_id=network.id)


def _apply_access(session: Session, network: Network, attrs: dict[str, Any]) -> None:
    """Write ``shared`` and ``router:external`` as Neutron does, through RBAC rows: ``shared`` is the ``*``
    ``access_as_shared`` row; ``router:external: true`` on a network not yet external adds a ``*``
    ``access_as_external`` row, ``false`` removes every ``access_as_external`` row."""
    if "shared" in attrs and attrs["shared"] != network.shared:
        if not attrs["shared"]:
            _check_unshare(session, network)
        rbac_rows.set_wildcard(session, "network", network, sharing.SHARED, attrs["shared"])
    if "router:external" in attrs and attrs["router:external"] != network.external:
        if attrs["router:external"]:
            rbac_rows.set_wildcard(session, "network", network, sharing.EXTERNAL, True)
        else:
            _check_unexternal(session, network)
            rbac_rows.remove_all(session, "network", network, sharing.EXTERNAL)


MIN_MTU = {4: 68, 6: 1280}  # the smallest MTU each IP version works on (RFC 791, RFC 8200)


def check_mtu(network_id: str, mtu: int, versions: Iterable[int]) -> None:
    """Neutron's MTU rule for a network with subnets of ``versions`` (``_validate_change_network_mtu``,
    ``_validate_subnet_network_mtu``): below 68 any subnet conflicts, whatever its version; below 1280 an
    IPv6 one. 409 ``NetworkMTUSubnetConflict`` naming the minimum the subnets need."""
    wanted = set(versions)
    if not wanted:
        return
    if mtu < MIN_MTU[4]:
        raise NetworkMTUSubnetConflict(net_id=network_id, mtu=MIN_MTU[4])
    if 6 in wanted and mtu < MIN_MTU[6]:
        raise NetworkMTUSubnetConflict(net_id=network_id, mtu=MIN_MTU[6])


def _check_mtu_fits_subnets(session: Session, network_id: str, mtu: int) -> None:
    versions = session.scalars(select(Subnet.ip_version).where(Subnet.network_id == network_id).distinct())
    check_mtu(network_id, mtu, versions)


class NetworkService:
    """The ``networks`` resource."""

    def __init__(self, core: Core) -> None:
        self.core = core

    def _zoned(self, session: Session, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return availability_zones.fill_zones(session, self.core.config, scheduling.DHCP, bodies)

    def list(self, ctx: RequestContext, query: ListQuery) -> Page:
        return apply(self.core.db.run(lambda s: self._zoned(s, render_many(s, ctx, query)), write=False), query)

    def show(self, ctx: RequestContext, resource_id: str) -> dict[str, Any]:
        return self.core.db.run(lambda s: self._show(s, ctx, resource_id), write=False)

    def _show(self, session: Session, ctx: RequestContext, network_id: str) -> dict[str, Any]:
        body = render_one(session, get_network(session, ctx, network_id))
        return self._zoned(session, sharing.mark_shared(session, ctx, "network", [body]))[0]

    def create(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        attrs = validate("network", SPEC, body, creating=True)
        project = owner_project(ctx, attrs)
        target = {"project_id": project}
        policy.check(ctx, "create_network", target)
        policy.check_attributes(ctx, "create", "network", [k for k in attrs if k in body], target, attrs)

        def work(session: Session) -> dict[str, Any]:
            quotas.check(session, self.core.config, ctx, "network", project_id=project)
            return self.create_in(session, project, attrs)

        return self.core.db.run(work)

    def create_in(self, session: Session, project: str, attrs: dict[str, Any]) -> dict[str, Any]:
        """Create the network for ``project`` in ``session`` (``attrs`` validated; no policy or quota check:
        the API path makes them, the L3 HA service creates its hidden per-project network through here)."""
        network = Network(
            id=new_id(),
            project_id=project,
            name=attrs["name"],
            description=attrs["description"],
            status="ACTIVE",
            admin_state_up=attrs["admin_state_up"],
            shared=False,
            external=False,
            port_security_enabled=attrs["port_security_enabled"],
            availability_zone_hints=attrs.get("availability_zone_hints") or [],
            dns_domain=attrs.get("dns_domain", ""),
        )
        availability_zones.check_hints(session, "network", network.availability_zone_hints)
        session.add(network)
        session.flush()  # the segment row refers to the network
        network_id = network.id
        _apply_access(session, network, attrs)
        segment = segments.allocate(
            session,
            self.core.config,
            network_id,
            attrs.get("provider:network_type"),
            attrs.get("provider:physical_network"),
            attrs.get("provider:segmentation_id"),
        )
        default_mtu = segments.MTU.get(segment.network_type, 1500)
        if attrs.get("mtu", default_mtu) > default_mtu:
            raise InvalidInput(error_message=f"Requested MTU is too big, maximum is {default_mtu}")
        network.mtu = attrs.get("mtu") or default_mtu  # 0 asks for the maximum, as ML2's ``net_mtu or max_mtu``
        network.network_type = segment.network_type
        network.physical_network = segment.physical_network
        network.segmentation_id = segment.segmentation_id
        session.flush()
        tags.set_requested(session, "network", network_id, attrs)
        changes.created(session, "network", network_id, network_id=network_id)
        return self._zoned(session, [render_one(session, network)])[0]

    def update(
        self, ctx: RequestContext, resource_id: str, body: dict[str, Any], revision: int | None
    ) -> dict[str, Any]:
        attrs = validate("network", SPEC, body, creating=False)
        policy.check_attributes(ctx, "update", "network", attrs, {"project_id": ctx.project_id}, attrs)
        return self.core.db.run(lambda s: self._update(s, ctx, resource_id, attrs, revision))

    def _update(
        self, session: Session, ctx: RequestContext, network_id: str, attrs: dict[str, Any], revision: int | None
    ) -> dict[str, Any]:
        network = get_network(session, ctx, network_id)
        require_owner(ctx, "update_network", network)
        check_revision(network.revision_number, revision)
        current = render_one(session, network)
        if any(attrs[key] != current[key] for key in PROVIDER if key in attrs):
            raise InvalidInput(error_message="Plugin does not support updating provider attributes")
        _apply_access(session, network, attrs)
        if attrs.get("mtu", 0) > segments.MTU.get(network.network_type, 1500):
            raise InvalidInput(error_message="Requested MTU is too big")
        if "mtu" in attrs:
            _check_mtu_fits_subnets(session, network.id, attrs["mtu"])
            attrs["mtu"] = attrs["mtu"] or segments.MTU.get(network.network_type, 1500)
        for key, value in attrs.items():
            if key in PROVIDER or key in ("is_default", "shared", "router:external"):
                continue
            setattr(network, RENAMED.get(key, key), value)
        changes.updated(session, "network", network, network_id=network_id)
        session.flush()
        return self._zoned(session, [render_one(session, network)])[0]

    def delete(self, ctx: RequestContext, resource_id: str) -> None:
        self.core.db.run(lambda s: self.delete_in(s, ctx, resource_id))

    def delete_in(self, session: Session, ctx: RequestContext, network_id: str) -> None:
        """Delete the network in ``session`` as ``ctx`` (404 if hidden from it, 409 ``NetworkInUse`` while a
        port other than its DHCP port is on it)."""
        network = get_network(session, ctx, network_id)
        require_owner(ctx, "delete_network", network)
        ports = session.execute(select(Port.id, Port.device_owner).where(Port.network_id == network_id)).all()
        if any(owner not in AUTO_DELETE_OWNERS for _, owner in ports):
            raise NetworkInUse(net_id=network_id)
        for port_id, _ in ports:
            changes.deleted(session, "port", port_id, network_id=network_id)
        port_ids = [port_id for port_id, _ in ports]
        subnet_ids = list(session.scalars(select(Subnet.id).where(Subnet.network_id == network_id)))
        for subnet_id in subnet_ids:
            changes.deleted(session, "subnet", subnet_id, network_id=network_id)
        session.execute(delete(Port).where(Port.network_id == network_id))
        session.execute(delete(Subnet).where(Subnet.network_id == network_id))
        for kind, ids in (("port", port_ids), ("subnet", subnet_ids), ("network", [network_id])):
            session.execute(delete(Tag).where(Tag.resource_type == kind, Tag.resource_id.in_(ids)))
        segments.release(session, network_id)
        rbac_rows.forget(session, "network", network_id)
        session.delete(network)
        changes.deleted(session, "network", network_id, network_id=network_id)
