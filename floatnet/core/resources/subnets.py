"""Subnets: CIDR, gateway, allocation pools, DHCP options; a DHCP port follows ``enable_dhcp``.

IPv6 modes follow Neutron's rules (:mod:`floatnet.core.ipam.ipv6`); the ports' automatic addresses on a
SLAAC / DHCPv6-stateless subnet come and go with it (:mod:`floatnet.core.resources.auto_addresses`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from floatnet.config import Config
from floatnet.core.access import quotas
from floatnet.core.access.policy import check, check_attributes
from floatnet.core.agent_protocol import changes
from floatnet.core.context import RequestContext
from floatnet.core.errors import (
    DNSNameServersExhausted,
    GatewayIpInUse,
    HostRoutesExhausted,
    HTTPBadRequest,
    InvalidInput,
    SegmentNotFound,
    SubnetInUse,
)
from floatnet.core.ipam import ipv6
from floatnet.core.ipam import pools as ipam
from floatnet.core.listing import ListQuery, Page, apply, sql_filters
from floatnet.core.resources import auto_addresses, dhcp_port, networks, subnet_allocation, tags
from floatnet.core.resources.scoped_rows import get_network, get_subnet, require_owner, subnet_visible_clause
from floatnet.core.service import Core, check_revision, load_tags, owner_project, standard_attrs
from floatnet.core.validation import (
    Attr,
    cidr,
    dict_with,
    ip_address,
    list_of,
    nullable,
    project_id,
    string,
    subnet_cidr,
    subnet_service_types,
    to_bool,
    to_int,
    to_uuid,
    unique_list_of,
    validate,
)
from floatnet.db.models import IPAllocation, Network, Port, Subnet, Tag, new_id

IPV6_MODES = ("slaac", "dhcpv6-stateful", "dhcpv6-stateless")


def _mode(value: Any) -> str | None:
    if value is not None and value not in IPV6_MODES:
        raise ValueError(f"'{value}' is not in {list(IPV6_MODES)}")
    return value


def _ip_version(value: Any) -> int:
    number = to_int()(value)
    if number not in (4, 6):
        raise ValueError(f"'{value}' is not in [4, 6]")
    return number


SPEC: dict[str, Attr] = {
    "network_id": Attr(to_uuid, put=False, required=True),
    "cidr": Attr(subnet_cidr, put=False),
    "ip_version": Attr(_ip_version, put=False),
    "name": Attr(string(255), default=""),
    "description": Attr(string(255), default=""),
    "gateway_ip": Attr(nullable(ip_address)),
    "allocation_pools": Attr(list_of(dict_with({"start": ip_address, "end": ip_address}, ("start", "end")))),
    "enable_dhcp": Attr(to_bool, default=True),
    "dns_nameservers": Attr(unique_list_of(ip_address), default=list),
    "host_routes": Attr(
        list_of(dict_with({"destination": cidr, "nexthop": ip_address}, ("destination", "nexthop"))),
        default=list,
    ),
    "ipv6_ra_mode": Attr(_mode, put=False),
    "ipv6_address_mode": Attr(_mode, put=False),
    "subnetpool_id": Attr(nullable(to_uuid), put=False),
    "use_default_subnetpool": Attr(to_bool, put=False),
    "prefixlen": Attr(to_int(0, 128), put=False),
    "segment_id": Attr(nullable(to_uuid)),
    "service_types": Attr(subnet_service_types),
    "project_id": Attr(project_id, put=False),
    "tenant_id": Attr(project_id, put=False),
    "tags": Attr(list_of(string(60)), put=False),
}
FILTERS = {name: Subnet.__table__.c[name] for name in ("id", "name", "network_id", "project_id", "cidr")}
STORED: tuple[str, ...] = ("name", "description", "gateway_ip", "allocation_pools", "enable_dhcp")
STORED += ("dns_nameservers", "host_routes")


def render(row: Any, tag_list: list[str], external: bool) -> dict[str, Any]:
    """A subnet as Neutron shows it (``external``: its network's ``router:external``, the
    ``subnet-external-network`` attribute)."""
    body = standard_attrs(row, tag_list)
    del body["status"]
    body.update(
        {
            "network_id": row.network_id,
            "ip_version": row.ip_version,
            "cidr": row.cidr,
            "gateway_ip": row.gateway_ip,
            "allocation_pools": row.allocation_pools,
            "enable_dhcp": row.enable_dhcp,
            "dns_nameservers": row.dns_nameservers,
            "host_routes": row.host_routes,
            "ipv6_ra_mode": row.ipv6_ra_mode,
            "ipv6_address_mode": row.ipv6_address_mode,
            "subnetpool_id": row.subnetpool_id,
            "segment_id": None,
            "service_types": [],
            "dns_publish_fixed_ip": False,
            "router:external": external,
        }
    )
    return body


def render_many(session: Session, rows: Sequence[Any]) -> list[dict[str, Any]]:
    """Rendered subnets, tags and their networks' ``router:external`` loaded in one query each."""
    tag_map = load_tags(session, "subnet", [row.id for row in rows])
    network_ids = {row.network_id for row in rows}
    external = dict(session.execute(select(Network.id, Network.external).where(Network.id.in_(network_ids))).all())
    return [render(row, tag_map.get(row.id, []), bool(external.get(row.network_id))) for row in rows]


def _network_filters(query: ListQuery) -> list[Any]:
    """SQL conditions for ``shared`` and ``router:external``: a subnet has them from its network (Neutron
    filters subnets by the network's flags). ``shared`` is not shown on a subnet, so it leaves the query."""
    conditions = []
    for name, column in (("shared", Network.shared), ("router:external", Network.external)):
        values = query.filters.pop(name, None)
        if values is not None:
            wanted = select(Network.id).where(column.in_([value == "true" for value in values]))
            conditions.append(Subnet.network_id.in_(wanted))
    return conditions


def list_subnets(session: Session, ctx: RequestContext, query: ListQuery) -> list[dict[str, Any]]:
    """Subnets ``ctx`` may see (see :func:`scoped_rows.subnet_visible_clause`), column filters in SQL."""
    stmt = select(Subnet.__table__).where(subnet_visible_clause(ctx))
    stmt = stmt.where(*_network_filters(query), *sql_filters(query, FILTERS))
    return render_many(session, session.execute(stmt).all())


def check_limits(config: Config, attrs: dict[str, Any], subnet_id: str = "new subnet") -> None:
    """Neutron's per-subnet limits: ``[DEFAULT] max_dns_nameservers`` and ``max_subnet_host_routes`` (400)."""
    if len(attrs.get("dns_nameservers") or ()) > config.max_dns_nameservers:
        raise DNSNameServersExhausted(subnet_id=subnet_id, quota=config.max_dns_nameservers)
    if len(attrs.get("host_routes") or ()) > config.max_subnet_host_routes:
        raise HostRoutesExhausted(subnet_id=subnet_id, quota=config.max_subnet_host_routes)


def check_segment(attrs: dict[str, Any]) -> None:
    """floatnet's networks have no segment resources, so any ``segment_id`` names an unknown one (404, as
    Neutron answers an unknown segment)."""
    if attrs.get("segment_id") is not None:
        raise SegmentNotFound(segment_id=attrs["segment_id"])


def _check_gateway(net: ipam.IPNetwork, gateway: str | None) -> None:
    """Neutron's rule (``check_gateway_invalid_in_subnet``): a gateway of the subnet's IP version may lie outside
    the CIDR (an on-link router elsewhere); inside it, only the network address and the IPv4 broadcast address
    are refused."""
    if gateway is None:
        return
    address = ipaddress.ip_address(gateway)
    if address.version != net.version:
        raise InvalidInput(error_message=f"{gateway} is not a valid IPv{net.version} address for gateway_ip")
    reserved = {net.network_address} | ({net.broadcast_address} if net.version == 4 else set())
    if address in reserved:
        raise InvalidInput(error_message=f"Gateway is not valid on subnet {net}")


def _check_overlap(session: Session, network_id: str, net: ipam.IPNetwork) -> None:
    for other in session.scalars(select(Subnet.cidr).where(Subnet.network_id == network_id)):
        if ipaddress.ip_network(other).overlaps(net):
            raise InvalidInput(
                error_message=f"Requested subnet with cidr: {net} for network: {network_id} "
                "overlaps with another subnet"
            )


def _shape(attrs: dict[str, Any]) -> ipam.IPNetwork:
    """Validate cidr/ip_version/gateway/pools of a new subnet; fills the defaults into ``attrs``."""
    if "cidr" not in attrs:
        raise HTTPBadRequest(msg="Failed to parse request. Required attribute 'cidr' not specified")
    net = ipaddress.ip_network(attrs["cidr"])
    version = attrs.setdefault("ip_version", net.version)
    if version != net.version:
        raise InvalidInput(error_message=f"Cidr {net} does not match ip_version {version}")
    if net.version == 4 and net.prefixlen > 30:
        raise InvalidInput(error_message=f"Cidr {net} is too small: a subnet needs at least /30")
    if "gateway_ip" not in attrs:
        attrs["gateway_ip"] = ipam.default_gateway(net)
    _check_gateway(net, attrs["gateway_ip"])
    pools = attrs.get("allocation_pools")
    attrs["allocation_pools"] = (
        ipam.check_pools(net, pools, attrs["gateway_ip"])
        if pools is not None
        else ipam.default_pools(net, attrs["gateway_ip"])
    )
    return net


def _non_dhcp_allocations(session: Session, subnet_id: str) -> bool:
    dhcp_ports = select(Port.id).where(Port.device_owner == dhcp_port.OWNER)
    stmt = select(IPAllocation.port_id).where(
        IPAllocation.subnet_id == subnet_id, IPAllocation.port_id.not_in(dhcp_ports)
    )
    return session.execute(stmt.limit(1)).first() is not None


def _check_gateway_free(session: Session, subnet: Subnet) -> None:
    """The gateway may not move while a router interface holds it."""
    holder = session.execute(
        select(Port.id)
        .join(IPAllocation, IPAllocation.port_id == Port.id)
        .where(
            IPAllocation.subnet_id == subnet.id,
            IPAllocation.ip_address == subnet.gateway_ip,
            Port.device_owner.in_(ipv6.ROUTER_INTERFACE_OWNERS),
        )
    ).first()
    if holder is not None:
        raise GatewayIpInUse(ip_address=subnet.gateway_ip, port_id=holder[0])


class SubnetService:
    """The ``subnets`` resource."""

    def __init__(self, core: Core) -> None:
        self.core = core

    def list(self, ctx: RequestContext, query: ListQuery) -> Page:
        return apply(self.core.db.run(lambda s: list_subnets(s, ctx, query), write=False), query)

    def show(self, ctx: RequestContext, resource_id: str) -> dict[str, Any]:
        return self.core.db.run(lambda s: render_many(s, [get_subnet(s, ctx, resource_id)])[0], write=False)

    def create(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        attrs = validate("subnet", SPEC, body, creating=True)
        project = owner_project(ctx, attrs)
        net = None if subnet_allocation.wants_pool(attrs) else _shape(attrs)
        return self.core.db.run(lambda s: self._create(s, ctx, project, dict(attrs), net))

    def _create(
        self, session: Session, ctx: RequestContext, project: str, attrs: dict[str, Any], net: ipam.IPNetwork | None
    ) -> dict[str, Any]:
        """``net`` is None for a subnet from a pool: its CIDR is chosen here, under the pool's lock."""
        network = get_network(session, ctx, attrs["network_id"], lock=True)
        target = {"project_id": project, "network_project_id": network.project_id}
        check(ctx, "create_subnet", target)
        check_attributes(ctx, "create", "subnet", [key for key in SPEC if key in attrs], target, attrs)
        check_limits(self.core.config, attrs)
        check_segment(attrs)
        quotas.check(session, self.core.config, ctx, "subnet", project_id=project)
        subnet_allocation.resolve(session, ctx, project, network.id, attrs)
        net = _shape(attrs) if net is None else net
        ipv6.check_modes(attrs, str(net))
        if network.mtu:  # Neutron checks only a set MTU
            networks.check_mtu(network.id, network.mtu, [attrs["ip_version"]])
        _check_overlap(session, network.id, net)
        subnet = Subnet(
            id=new_id(),
            project_id=project,
            network_id=network.id,
            ip_version=attrs["ip_version"],
            cidr=str(net),
            ipv6_ra_mode=attrs.get("ipv6_ra_mode"),
            ipv6_address_mode=attrs.get("ipv6_address_mode"),
            subnetpool_id=attrs.get("subnetpool_id"),
            status="ACTIVE",
            **{key: attrs[key] for key in STORED},
        )
        session.add(subnet)
        session.flush()
        tags.set_requested(session, "subnet", subnet.id, attrs)
        changes.created(session, "subnet", subnet.id, network_id=network.id)
        auto_addresses.on_created(session, subnet)
        dhcp_port.sync(session, self.core, network)
        return render_many(session, [subnet])[0]

    def update(
        self, ctx: RequestContext, resource_id: str, body: dict[str, Any], revision: int | None
    ) -> dict[str, Any]:
        attrs = validate("subnet", SPEC, body, creating=False)
        return self.core.db.run(lambda s: self._update(s, ctx, resource_id, attrs, revision))

    def _update(
        self, session: Session, ctx: RequestContext, subnet_id: str, attrs: dict[str, Any], revision: int | None
    ) -> dict[str, Any]:
        subnet = get_subnet(session, ctx, subnet_id, lock=True)
        require_owner(ctx, "update_subnet", subnet)
        check_attributes(ctx, "update", "subnet", list(attrs), {"project_id": subnet.project_id}, attrs)
        check_limits(self.core.config, attrs, subnet.id)
        check_segment(attrs)
        check_revision(subnet.revision_number, revision)
        ipv6.check_dhcp_update(subnet, attrs)
        net = ipaddress.ip_network(subnet.cidr)
        gateway = attrs.get("gateway_ip", subnet.gateway_ip)
        _check_gateway(net, gateway)
        if gateway != subnet.gateway_ip and subnet.gateway_ip is not None:
            _check_gateway_free(session, subnet)
        pools = attrs.get("allocation_pools", subnet.allocation_pools)
        attrs["allocation_pools"] = ipam.check_pools(net, pools, gateway)
        for key in STORED:
            if key in attrs:
                setattr(subnet, key, attrs[key])
        if "allocation_pools" in attrs:
            self.core.ipam_hints.pop(subnet.id, None)
        changes.updated(session, "subnet", subnet, network_id=subnet.network_id)
        network = session.get(Network, subnet.network_id)
        assert network is not None
        changes.bump(network)  # Neutron: a subnet's update is a revision of its network (logged above)
        session.flush()
        dhcp_port.sync(session, self.core, network)
        return render_many(session, [subnet])[0]

    def delete(self, ctx: RequestContext, resource_id: str) -> None:
        self.core.db.run(lambda s: self._delete(s, ctx, resource_id))

    def _delete(self, session: Session, ctx: RequestContext, subnet_id: str) -> None:
        subnet = get_subnet(session, ctx, subnet_id, lock=True)
        require_owner(ctx, "delete_subnet", subnet)
        auto_addresses.on_delete(session, subnet)
        if _non_dhcp_allocations(session, subnet.id):
            raise SubnetInUse(subnet_id=subnet.id)
        session.execute(delete(IPAllocation).where(IPAllocation.subnet_id == subnet.id))
        session.execute(delete(Tag).where(Tag.resource_type == "subnet", Tag.resource_id == subnet.id))
        network = session.get(Network, subnet.network_id)
        assert network is not None
        session.delete(subnet)
        session.flush()
        self.core.ipam_hints.pop(subnet.id, None)
        changes.deleted(session, "subnet", subnet.id, network_id=network.id)
        dhcp_port.sync(session, self.core, network)
