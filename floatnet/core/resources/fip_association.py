"""Which fixed IP a floating IP maps to, and through which router: the association rules.

Given a port (and optionally one of its fixed IPs) the association is valid when:

* the port is not a DHCP port (400, Neutron's ``is_fip_serviced``); every other owner may have one, router
  interfaces included, as in Neutron;
* a non-admin's port belongs to the floating IP's project (400 otherwise: the network owner sees, but may not
  map, another project's port on its network);
* the port has that fixed IP, or exactly one IPv4 address when none is named (400 otherwise);
* no other floating IP already maps that (port, fixed IP) — 409 ``FloatingIPPortAlreadyAssociated``;
* some router has an interface on the fixed IP's subnet and its gateway on the floating IP's network — that
  router becomes ``router_id``; none is 404 ``ExternalGatewayForFloatingIPNotFound``.

The router lookup is one indexed query (interfaces by subnet, joined to the router's gateway port); the
statements are built once (this is the associate hot path).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from floatnet.core.context import RequestContext
from floatnet.core.errors import BadRequest
from floatnet.core.l3_errors import ExternalGatewayForFloatingIPNotFound, FloatingIPPortAlreadyAssociated
from floatnet.core.resources.fip_target import Target
from floatnet.core.resources.router_owned_ports import ROUTER_INTERFACE
from floatnet.core.resources.scoped_rows import port_row
from floatnet.db.models import FloatingIP, IPAllocation, Port, Router, RouterPort, table_of

NOT_ASSOCIABLE = "network:dhcp"  # Neutron's is_fip_serviced: only the DHCP port is refused, any other owner


def _bad(msg: str) -> BadRequest:
    return BadRequest(resource="floatingip", msg=msg)


def _pick_ip(port_id: str, ips: list[dict[str, str]], wanted: str | None) -> dict[str, str]:
    if wanted is not None:
        found = next((ip for ip in ips if ip["ip_address"] == wanted), None)
        if found is None:
            raise _bad(f"Port {port_id} does not have fixed ip {wanted}")
        if ipaddress.ip_address(wanted).version != 4:
            raise _bad(f"Cannot add floating IP to port {port_id}: fixed IP {wanted} is not IPv4")
        return found
    v4 = [ip for ip in ips if ipaddress.ip_address(ip["ip_address"]).version == 4]
    if not v4:
        raise _bad(f"Cannot add floating IP to port {port_id} that has no fixed IPv4 addresses")
    if len(v4) > 1:
        raise _bad(
            f"Port {port_id} has multiple fixed IPv4 addresses. Must provide a specific IPv4 address "
            "when assigning a floating IP"
        )
    return v4[0]


_FIPS, _PORTS, _ROUTERS = table_of(FloatingIP), table_of(Port), table_of(Router)
_ROUTER_PORTS, _ALLOCATIONS = table_of(RouterPort), table_of(IPAllocation)
ROUTER_FOR = (
    select(_ROUTER_PORTS.c.router_id)
    .join(_ALLOCATIONS, _ALLOCATIONS.c.port_id == _ROUTER_PORTS.c.port_id)
    .join(_ROUTERS, _ROUTERS.c.id == _ROUTER_PORTS.c.router_id)
    .join(_PORTS, _PORTS.c.id == _ROUTERS.c.gw_port_id)
    .where(
        _ALLOCATIONS.c.subnet_id == bindparam("subnet_id"),
        _ROUTER_PORTS.c.port_type == ROUTER_INTERFACE,
        _PORTS.c.network_id == bindparam("network_id"),
    )
    .order_by(_ROUTER_PORTS.c.router_id)
    .limit(1)
)
HOLDER = select(_FIPS.c.id).where(
    _FIPS.c.fixed_port_id == bindparam("port_id"),
    _FIPS.c.fixed_ip_address == bindparam("fixed_ip"),
    _FIPS.c.id != bindparam("fip_id"),
)
PORT_IPS = select(_ALLOCATIONS.c.subnet_id, _ALLOCATIONS.c.ip_address).where(
    _ALLOCATIONS.c.port_id == bindparam("port_id")
)


def router_for(session: Session, subnet_id: str, floating_network_id: str) -> str | None:
    """The router with an interface on ``subnet_id`` and its gateway on ``floating_network_id``."""
    params = {"subnet_id": subnet_id, "network_id": floating_network_id}
    return session.connection().execute(ROUTER_FOR, params).scalar()


def _check_free(session: Session, fip: Any, port_id: str, fixed_ip: str) -> None:
    params = {"port_id": port_id, "fixed_ip": fixed_ip, "fip_id": fip.id}
    if session.connection().execute(HOLDER, params).first() is not None:
        raise FloatingIPPortAlreadyAssociated(
            floating_ip_address=fip.floating_ip_address,
            fip_id=fip.id,
            port_id=port_id,
            fixed_ip=fixed_ip,
            net_id=fip.floating_network_id,
        )


def _port_ips(session: Session, port_id: str) -> list[dict[str, str]]:
    rows = session.connection().execute(PORT_IPS, {"port_id": port_id})
    return [{"subnet_id": subnet_id, "ip_address": address} for subnet_id, address in sorted(rows, key=_by_ip)]


def _by_ip(row: Any) -> str:
    return str(row[1])


def resolve(session: Session, ctx: RequestContext, fip: Any, port_id: str, fixed_ip: str | None) -> Target:
    """The association of ``fip`` with ``port_id`` (and ``fixed_ip``), validated as the module says."""
    port = port_row(session, ctx, port_id)
    if port.device_owner == NOT_ASSOCIABLE:
        raise _bad(f"Port {port_id} is unable to be assigned a floating IP")
    if port.network_id == fip.floating_network_id:
        raise _bad(f"Port {port_id} is on the floating IP's external network {fip.floating_network_id}")
    if port.project_id != fip.project_id and not ctx.is_admin:
        raise _bad(f"Cannot process floating IP association with Port {port_id}, since that port is owned by a "
                   "different project")  # fmt: skip
    chosen = _pick_ip(port.id, _port_ips(session, port.id), fixed_ip)
    _check_free(session, fip, port.id, chosen["ip_address"])
    router_id = router_for(session, chosen["subnet_id"], fip.floating_network_id)
    if router_id is None:
        raise ExternalGatewayForFloatingIPNotFound(
            external_network_id=fip.floating_network_id, subnet_id=chosen["subnet_id"], port_id=port.id
        )
    return Target(port.id, chosen["ip_address"], router_id)
