"""Floating IP pools (``floatingip-pools``, ``GET /v2.0/floatingip_pools``): where floating IPs come from.

A pool is an IPv4 subnet of an external network the caller may see, shown as Neutron shows it
(``subnet_id``, ``subnet_name``, ``cidr``, ``network_id``, ``project_id``/``tenant_id``). The subnets
themselves stay hidden from other projects (``GET /v2.0/subnets``); this list is how a member learns which
ranges a floating IP can be allocated from. The list is read-only and keyed by ``subnet_id`` (pools have no
``id``), which paging markers name.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from floatnet.core.context import RequestContext
from floatnet.core.listing import ListQuery, Page, apply, sql_filters
from floatnet.core.resources.scoped_rows import network_visible_clause
from floatnet.core.service import Core
from floatnet.db.models import Network, Subnet

FILTERS = {
    "subnet_id": Subnet.id,
    "subnet_name": Subnet.name,
    "cidr": Subnet.cidr,
    "network_id": Subnet.network_id,
    "project_id": Subnet.project_id,
}
POOLS = (
    select(Subnet.id, Subnet.name, Subnet.cidr, Subnet.network_id, Subnet.project_id)
    .join(Network, Network.id == Subnet.network_id)
    .where(Network.external.is_(True), Subnet.ip_version == 4)
)


def list_pools(session: Session, ctx: RequestContext, query: ListQuery) -> list[dict[str, Any]]:
    """The pools ``ctx`` may allocate from, plain filters evaluated in SQL."""
    stmt = POOLS.where(network_visible_clause(ctx), *sql_filters(query, FILTERS))
    return [
        {
            "subnet_id": row.id,
            "subnet_name": row.name,
            "cidr": row.cidr,
            "network_id": row.network_id,
            "project_id": row.project_id,
            "tenant_id": row.project_id,
        }
        for row in session.execute(stmt)
    ]


class FloatingIPPoolService:
    """The ``floatingip_pools`` collection (list only)."""

    def __init__(self, core: Core) -> None:
        self.core = core

    def list(self, ctx: RequestContext, query: ListQuery) -> Page:
        return apply(self.core.db.run(lambda s: list_pools(s, ctx, query), write=False), query)
