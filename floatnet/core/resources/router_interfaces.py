"""``add_router_interface`` / ``remove_router_interface``: attaching subnets to a router.

By ``subnet_id`` the router gets a new ``network:router_interface`` port holding the subnet's gateway IP; by
``port_id`` an unused port of the caller becomes the interface. Neutron's refusals: a subnet without gateway,
a subnet (or an overlapping CIDR) already on the router (400), a port with a device (409 ``PortInUse``) or
without addresses (400). A non-admin may only plug what its project owns, since the interface takes the
subnet's gateway address, which every instance on the subnet routes through: another project's subnet — a
shared network's too — is a 400 ("not owned by the project making the request"), another project's port a
409 ``DeviceIDNotOwnedByTenant``, and an own port holding an address outside the pools of a subnet owned
by another project (its gateway, say) a 400. Removing an interface that floating IPs or extra routes still
need is a 409. Both operations bump the router's revision and log a port change naming the router and the
network.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from floatnet.core.agent_protocol import changes
from floatnet.core.context import RequestContext
from floatnet.core.errors import BadRequest, Conflict, PortInUse
from floatnet.core.l3_errors import (
    RouterInterfaceInUseByFloatingIP,
    RouterInterfaceInUseByRoute,
    RouterInterfaceNotFound,
    RouterInterfaceNotFoundForSubnet,
)
from floatnet.core.resources import extra_routes
from floatnet.core.resources.device_owners import check_device_id, interface_owner
from floatnet.core.resources.router_owned_ports import ROUTER_INTERFACE, addresses, create, network_of, remove
from floatnet.core.resources.routers import get_router
from floatnet.core.resources.scoped_rows import get_port, get_subnet, require_owner
from floatnet.core.service import Core
from floatnet.core.validation import to_uuid
from floatnet.db.models import FloatingIP, IPAllocation, Port, Router, RouterPort, Subnet


def _ids(body: Any) -> tuple[str | None, str | None]:
    if not isinstance(body, dict):
        raise BadRequest(resource="router", msg="Either subnet_id or port_id must be specified")
    try:
        subnet_id = to_uuid(body["subnet_id"]) if body.get("subnet_id") is not None else None
        port_id = to_uuid(body["port_id"]) if body.get("port_id") is not None else None
    except ValueError as exc:
        raise BadRequest(resource="router", msg=str(exc)) from None
    return subnet_id, port_id


def _router_subnets(session: Session, router_id: str) -> Sequence[Any]:
    """Subnets the router already has a port on (gateway included), with the port."""
    return session.execute(
        select(Subnet.id, Subnet.cidr, IPAllocation.port_id)
        .join(IPAllocation, IPAllocation.subnet_id == Subnet.id)
        .join(RouterPort, RouterPort.port_id == IPAllocation.port_id)
        .where(RouterPort.router_id == router_id)
    ).all()


def _check_new_subnet(session: Session, router_id: str, subnet: Subnet) -> None:
    new = ipaddress.ip_network(subnet.cidr)
    for row in _router_subnets(session, router_id):
        if row.id == subnet.id:
            raise BadRequest(resource="router", msg=f"Router already has a port on subnet {subnet.id}")
        if ipaddress.ip_network(row.cidr).overlaps(new):
            raise BadRequest(
                resource="router",
                msg=f"Cidr {subnet.cidr} of subnet {subnet.id} overlaps with cidr {row.cidr} of subnet {row.id}",
            )


def _by_subnet(session: Session, core: Core, ctx: RequestContext, router: Router, subnet_id: str) -> tuple[str, Subnet]:
    subnet = get_subnet(session, ctx, subnet_id)
    if not subnet.gateway_ip:
        raise BadRequest(resource="router", msg="Subnet for router interface must have a gateway IP")
    if not ctx.owns(subnet.project_id):
        raise BadRequest(
            resource="router",
            msg=f"Cannot add interface to router because subnet {subnet.id} is not owned by project making the request",
        )
    _check_new_subnet(session, router.id, subnet)
    requested = [{"subnet_id": subnet.id, "ip_address": subnet.gateway_ip}]
    network = network_of(session, subnet.network_id)
    port_id, _ = create(session, core, network, subnet.project_id, interface_owner(router), router.id, requested)
    return port_id, subnet


def _in_pools(subnet: Subnet, address: str) -> bool:
    """Whether ``address`` lies in one of the subnet's allocation pools (where automatic addresses come from)."""
    ip = int(ipaddress.ip_address(address))
    pools = subnet.allocation_pools or []
    bounds = [(int(ipaddress.ip_address(p["start"])), int(ipaddress.ip_address(p["end"]))) for p in pools]
    return any(low <= ip <= high for low, high in bounds)


def _check_port_addresses(
    ctx: RequestContext, port: Port, ips: list[dict[str, str]], subnets: dict[str, Subnet]
) -> None:
    """400 when a non-admin's port holds an address outside the pools of a subnet another project owns (the
    subnet's gateway, typically: only the subnet's owner may route it)."""
    for ip in ips:
        subnet = subnets[ip["subnet_id"]]
        if not ctx.owns(subnet.project_id) and not _in_pools(subnet, ip["ip_address"]):
            raise BadRequest(
                resource="router",
                msg=f"Cannot add interface to router because specified port {port.id} has an IP address out of "
                f"the allocation pool of subnet {subnet.id}, which is not owned by the project making the request",
            )


def _by_port(session: Session, ctx: RequestContext, router: Router, port_id: str) -> tuple[str, Subnet]:
    port = get_port(session, ctx, port_id)
    if port.device_id or port.device_owner:
        raise PortInUse(port_id=port.id, net_id=port.network_id, device_id=port.device_id or port.device_owner)
    check_device_id(session, ctx, port.project_id, interface_owner(router), router.id)
    ips = addresses(session, [port.id])[port.id]
    if not ips:
        raise BadRequest(resource="router", msg="Router port must have at least one fixed IP")
    subnets: dict[str, Subnet] = {}
    for ip in ips:
        subnet = session.get(Subnet, ip["subnet_id"])
        assert subnet is not None  # an allocation's subnet exists (foreign key)
        subnets[subnet.id] = subnet
    if sum(1 for s in subnets.values() if s.ip_version == 4) > 1:
        raise BadRequest(resource="router", msg="Cannot have multiple IPv4 subnets on router port")
    for subnet in subnets.values():
        _check_new_subnet(session, router.id, subnet)
    _check_port_addresses(ctx, port, ips, subnets)
    owned = {"device_owner": interface_owner(router), "device_id": router.id}
    changes.updated_where(session, "port", Port, port.id, owned, router_id=router.id, network_id=port.network_id)
    return port.id, subnets[ips[0]["subnet_id"]]


def _answer(router: Router, port_id: str, subnet: Subnet) -> dict[str, Any]:
    return {
        "id": router.id,
        "tenant_id": router.project_id,
        "project_id": router.project_id,
        "port_id": port_id,
        "subnet_id": subnet.id,
        "subnet_ids": [subnet.id],
        "network_id": subnet.network_id,
    }


def add(session: Session, core: Core, ctx: RequestContext, router_id: str, body: Any) -> dict[str, Any]:
    """Attach a subnet or port to the router (see the module docstring); answers Neutron's interface info."""
    subnet_id, port_id = _ids(body)
    if (subnet_id is None) == (port_id is None):
        message = (
            "Cannot specify both subnet-id and port-id"
            if subnet_id
            else "Either subnet_id or port_id must be specified"
        )
        raise BadRequest(resource="router", msg=message)
    router = get_router(session, ctx, router_id)
    require_owner(ctx, "add_router_interface", router)
    if subnet_id is not None:
        new_port, subnet = _by_subnet(session, core, ctx, router, subnet_id)
    else:
        assert port_id is not None
        new_port, subnet = _by_port(session, ctx, router, port_id)
    session.execute(insert(RouterPort).values(router_id=router.id, port_id=new_port, port_type=ROUTER_INTERFACE))
    changes.updated(session, "router", router, router_id=router.id)
    return _answer(router, new_port, subnet)


def _find(session: Session, router: Router, subnet_id: str | None, port_id: str | None) -> tuple[str, Subnet]:
    """The interface port to remove and its subnet (404 when the router has none such)."""
    rows = session.execute(
        select(IPAllocation.port_id, IPAllocation.subnet_id)
        .join(RouterPort, RouterPort.port_id == IPAllocation.port_id)
        .where(RouterPort.router_id == router.id, RouterPort.port_type == ROUTER_INTERFACE)
    ).all()
    if port_id is not None:
        mine = [row for row in rows if row.port_id == port_id]
        if not mine:
            raise RouterInterfaceNotFound(router_id=router.id, port_id=port_id)
        if subnet_id is not None and all(row.subnet_id != subnet_id for row in mine):
            raise Conflict(f"Subnet {subnet_id} is not associated with port {port_id}.")
        chosen = mine[0]
    else:
        found = next((row for row in rows if row.subnet_id == subnet_id), None)
        if found is None:
            raise RouterInterfaceNotFoundForSubnet(router_id=router.id, subnet_id=subnet_id)
        chosen = found
    subnet = session.get(Subnet, chosen.subnet_id)
    assert subnet is not None
    return chosen.port_id, subnet


def _ensure_unused(session: Session, router: Router, subnet: Subnet) -> None:
    net = ipaddress.ip_network(subnet.cidr)
    fixed = session.scalars(
        select(FloatingIP.fixed_ip_address).where(
            FloatingIP.router_id == router.id, FloatingIP.fixed_port_id.is_not(None)
        )
    )
    if any(address and ipaddress.ip_address(address) in net for address in fixed):
        raise RouterInterfaceInUseByFloatingIP(router_id=router.id, subnet_id=subnet.id)
    if extra_routes.nexthops_in(session, router.id, subnet.cidr):
        raise RouterInterfaceInUseByRoute(router_id=router.id, subnet_id=subnet.id)


def remove_interface(session: Session, ctx: RequestContext, router_id: str, body: Any) -> dict[str, Any]:
    """Detach a subnet or port from the router and delete the interface port."""
    subnet_id, port_id = _ids(body)
    if subnet_id is None and port_id is None:
        raise BadRequest(resource="router", msg="Either subnet_id or port_id must be specified")
    router = get_router(session, ctx, router_id)
    require_owner(ctx, "remove_router_interface", router)
    interface, subnet = _find(session, router, subnet_id, port_id)
    _ensure_unused(session, router, subnet)
    remove(session, interface)
    session.execute(delete(RouterPort).where(RouterPort.port_id == interface))
    changes.updated(session, "router", router, router_id=router.id)
    return _answer(router, interface, subnet)


class RouterInterfaceService:
    """``add_router_interface`` / ``remove_router_interface``, each one retried transaction."""

    def __init__(self, core: Core) -> None:
        self.core = core

    def add(self, ctx: RequestContext, router_id: str, body: Any) -> dict[str, Any]:
        """Attach a subnet or a port to the router (see :func:`add`)."""
        return self.core.db.run(lambda session: add(session, self.core, ctx, router_id, body))

    def remove(self, ctx: RequestContext, router_id: str, body: Any) -> dict[str, Any]:
        """Detach a subnet or a port from the router (see :func:`remove_interface`)."""
        return self.core.db.run(lambda session: remove_interface(session, ctx, router_id, body))
