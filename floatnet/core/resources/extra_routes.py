"""Extra routes of a router (extraroute): validated against the subnets the router is attached to.

A route's nexthop must lie in a subnet the router has a port on (interface or gateway) and must not be one of
the router's own addresses; at most :data:`MAX_ROUTES` routes; duplicates collapse. An interface whose subnet
holds a nexthop cannot be removed (409 ``RouterInterfaceInUseByRoute``).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from floatnet.core.errors import BadRequest
from floatnet.core.l3_errors import InvalidRoutes
from floatnet.core.validation import cidr, dict_with, ip_address, list_of
from floatnet.db.models import IPAllocation, Router, RouterPort, RouterRoute, Subnet

MAX_ROUTES = 30

_convert = list_of(dict_with({"destination": cidr, "nexthop": ip_address}, required=("destination", "nexthop")))


class RoutesExhausted(BadRequest):
    message_template = (
        "Unable to complete operation for %(router_id)s. The number of routes exceeds the maximum %(quota)s."
    )


def convert(value: Any) -> list[dict[str, str]]:
    """A list of ``{destination, nexthop}`` (``None`` = no routes), duplicates removed, order kept."""
    routes = _convert(value if value is not None else [])
    unique: list[dict[str, str]] = []
    for route in routes:
        if route not in unique:
            unique.append(route)
    return unique


def attached(session: Session, router_id: str) -> tuple[list[str], set[str]]:
    """The CIDRs of the subnets the router has ports on, and the router's own addresses."""
    rows = session.execute(
        select(Subnet.cidr, IPAllocation.ip_address)
        .join(IPAllocation, IPAllocation.subnet_id == Subnet.id)
        .join(RouterPort, RouterPort.port_id == IPAllocation.port_id)
        .where(RouterPort.router_id == router_id)
    ).all()
    return [row.cidr for row in rows], {row.ip_address for row in rows}


def _check(routes: list[dict[str, str]], cidrs: list[str], own: set[str]) -> None:
    networks = [ipaddress.ip_network(c) for c in cidrs]
    for route in routes:
        nexthop = ipaddress.ip_address(route["nexthop"])
        if str(nexthop) in own:
            raise InvalidRoutes(routes=[route], reason="the nexthop is used by router")
        if not any(nexthop in net for net in networks):
            raise InvalidRoutes(routes=[route], reason="the nexthop is not connected with router")


def replace(session: Session, router: Router, routes: list[dict[str, str]]) -> None:
    """Make ``routes`` the router's extra routes (validated; see the module docstring)."""
    if len(routes) > MAX_ROUTES:
        raise RoutesExhausted(router_id=router.id, quota=MAX_ROUTES)
    cidrs, own = attached(session, router.id)
    _check(routes, cidrs, own)
    session.execute(delete(RouterRoute).where(RouterRoute.router_id == router.id))
    if routes:
        session.execute(insert(RouterRoute), [{"router_id": router.id, **route} for route in routes])


def nexthops_in(session: Session, router_id: str, subnet_cidr: str) -> bool:
    """Whether any extra route of the router has its nexthop in ``subnet_cidr``."""
    net = ipaddress.ip_network(subnet_cidr)
    hops = session.scalars(select(RouterRoute.nexthop).where(RouterRoute.router_id == router_id))
    return any(ipaddress.ip_address(hop) in net for hop in hops)
