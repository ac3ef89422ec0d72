"""Network IP availability (``network-ip-availability``): how many addresses each network's subnets offer
and how many are allocated, for administrators (Neutron's ``get_network_ip_availability`` is admin-only).

``total_ips`` of a subnet is the size of its allocation pools (the addresses IPAM hands out automatically),
``used_ips`` the fixed IPs allocated on it (every port's, service ports included); a network's figures are
its subnets' sums. The ``ip_version`` filter keeps the subnets of that version, as in Neutron. Counting is
two grouped queries however many networks there are.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from floatnet.core.access import policy
from floatnet.core.context import RequestContext
from floatnet.core.errors import NetworkNotFound
from floatnet.core.listing import ListQuery, Page, apply, sql_filters
from floatnet.core.service import Core
from floatnet.db.models import IPAllocation, Network, Subnet

ACTION = "get_network_ip_availability"
FILTERS = {"network_id": Network.id, "network_name": Network.name, "project_id": Network.project_id}


def _pool_size(pools: list[dict[str, str]]) -> int:
    return sum(int(ipaddress.ip_address(p["end"])) - int(ipaddress.ip_address(p["start"])) + 1 for p in pools)


def _subnets(session: Session, network_ids: list[str], versions: list[int]) -> dict[str, list[dict[str, Any]]]:
    stmt = select(Subnet.id, Subnet.name, Subnet.cidr, Subnet.ip_version, Subnet.network_id, Subnet.allocation_pools)
    stmt = stmt.where(Subnet.network_id.in_(network_ids))
    if versions:
        stmt = stmt.where(Subnet.ip_version.in_(versions))
    rows = session.execute(stmt.order_by(Subnet.created_at, Subnet.id)).all()
    used_of = select(IPAllocation.subnet_id, func.count()).where(IPAllocation.subnet_id.in_([r.id for r in rows]))
    used = dict(session.execute(used_of.group_by(IPAllocation.subnet_id)).all())
    result: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        result[row.network_id].append(
            {
                "subnet_id": row.id,
                "subnet_name": row.name,
                "cidr": row.cidr,
                "ip_version": row.ip_version,
                "total_ips": _pool_size(row.allocation_pools or []),
                "used_ips": used.get(row.id, 0),
            }
        )
    return result


def availabilities(session: Session, query: ListQuery) -> list[dict[str, Any]]:
    """Every network matching ``query``'s network filters, with its subnets' availability."""
    versions = [int(value) for value in query.filters.pop("ip_version", [])]
    networks = session.execute(
        select(Network.id, Network.name, Network.project_id).where(*sql_filters(query, FILTERS))
    ).all()
    subnets = _subnets(session, [n.id for n in networks], versions)
    return [
        {
            "network_id": net.id,
            "network_name": net.name,
            "project_id": net.project_id,
            "tenant_id": net.project_id,
            "total_ips": sum(s["total_ips"] for s in subnets.get(net.id, [])),
            "used_ips": sum(s["used_ips"] for s in subnets.get(net.id, [])),
            "subnet_ip_availability": subnets.get(net.id, []),
        }
        for net in networks
    ]


class NetworkIPAvailabilityService:
    """``GET /v2.0/network-ip-availabilities[/{network_id}]`` (read only)."""

    def __init__(self, core: Core) -> None:
        self.core = core

    def list(self, ctx: RequestContext, query: ListQuery) -> Page:
        """The availabilities ``ctx`` may see (none for a non-administrator, as Neutron filters them out)."""
        found = self.core.db.run(lambda s: availabilities(s, query), write=False)
        return apply([item for item in found if policy.allowed(ctx, ACTION, item)], query)

    def show(self, ctx: RequestContext, network_id: str) -> dict[str, Any]:
        """One network's availability; an unknown network, or one ``ctx`` may not see it of, is a 404."""
        query = ListQuery(filters={"network_id": [network_id]})
        found = self.core.db.run(lambda s: availabilities(s, query), write=False)
        if not found or not policy.allowed(ctx, ACTION, found[0]):
            raise NetworkNotFound(net_id=network_id)
        return found[0]
