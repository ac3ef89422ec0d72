"""A subnet's CIDR from a subnet pool (``subnetpool_id`` + ``prefixlen``, a CIDR inside the pool, or
``use_default_subnetpool``), as Neutron's ``_get_subnetpool_id`` and ``SubnetAllocator.allocate_subnet``.

:func:`resolve` runs in the subnet's creating transaction: it locks the pool row, so the free space it
computes cannot change before the subnet row is flushed; concurrent creates from one pool queue on that lock
(SQLite serialises writers anyway) and never overlap.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from floatnet.core.context import RequestContext
from floatnet.core.errors import BadRequest
from floatnet.core.ipam import prefixes as px
from floatnet.core.pool_errors import (
    MaxPrefixSubnetAllocationError,
    MinPrefixSubnetAllocationError,
    NetworkSubnetPoolAffinityError,
    SubnetAllocationError,
    SubnetPoolQuotaExceeded,
)
from floatnet.core.resources import subnet_pools
from floatnet.db.models import Subnet, SubnetPool


def _bad(msg: str) -> BadRequest:
    return BadRequest(resource="subnets", msg=msg)


def wants_pool(attrs: dict[str, Any]) -> bool:
    """Whether the new subnet comes from a pool; refuses the combinations Neutron refuses (400)."""
    pool_id, use_default = attrs.get("subnetpool_id"), attrs.get("use_default_subnetpool")
    if pool_id and use_default:
        raise _bad("subnetpool_id and use_default_subnetpool cannot both be specified")
    if not (pool_id or use_default):
        return False
    if "cidr" not in attrs and attrs.get("allocation_pools"):
        raise _bad("allocation_pools allowed only for specific subnet requests.")
    return True


def _pool_of(session: Session, ctx: RequestContext, attrs: dict[str, Any]) -> SubnetPool:
    if attrs.get("subnetpool_id"):
        return subnet_pools.get_pool(session, ctx, attrs["subnetpool_id"], lock=True)
    version = ipaddress.ip_network(attrs["cidr"]).version if "cidr" in attrs else attrs.get("ip_version")
    if version is None:
        raise _bad("ip_version must be specified in the absence of cidr and subnetpool_id")
    pool = subnet_pools.default_pool(session, version)
    if pool is None:
        raise _bad(f"No default subnetpool found for IPv{version}")
    session.refresh(pool, with_for_update=True)
    return pool


def _check_length(pool: SubnetPool, prefixlen: int) -> None:
    if prefixlen > pool.max_prefixlen:
        raise MaxPrefixSubnetAllocationError(prefixlen=prefixlen, max_prefixlen=pool.max_prefixlen)
    if prefixlen < pool.min_prefixlen:
        raise MinPrefixSubnetAllocationError(prefixlen=prefixlen, min_prefixlen=pool.min_prefixlen)


def _choose(session: Session, pool: SubnetPool, attrs: dict[str, Any]) -> px.IPNetwork:
    free = px.subtract(px.parse(pool.prefixes), subnet_pools.taken(session, pool.id))
    if "cidr" in attrs:
        net = ipaddress.ip_network(attrs["cidr"])
        _check_length(pool, net.prefixlen)
        if not px.covers(free, net):
            raise SubnetAllocationError(reason="Cannot allocate requested subnet from the available set of prefixes")
        return net
    prefixlen = attrs.get("prefixlen")
    prefixlen = pool.default_prefixlen if prefixlen is None else prefixlen
    _check_length(pool, prefixlen)
    chosen = px.choose(free, prefixlen)
    if chosen is None:
        raise SubnetAllocationError(reason=f"Insufficient prefix space to allocate subnet size /{prefixlen}")
    return chosen


def _check_quota(session: Session, pool: SubnetPool, project: str, net: px.IPNetwork) -> None:
    if pool.default_quota is None:
        return
    if subnet_pools.quota_used(session, pool.id, project) + px.units(net) > pool.default_quota:
        raise SubnetPoolQuotaExceeded()


def _check_affinity(session: Session, network_id: str, version: int, pool_id: str | None) -> None:
    """Neutron's ``_validate_network_subnetpools``: subnets of one IP version on a network share one pool."""
    stmt = select(Subnet.subnetpool_id).where(Subnet.network_id == network_id, Subnet.ip_version == version)
    if any(other != pool_id for other in session.scalars(stmt)):
        raise NetworkSubnetPoolAffinityError()


def resolve(session: Session, ctx: RequestContext, project: str, network_id: str, attrs: dict[str, Any]) -> None:
    """Fill ``attrs`` (a copy per attempt) with the pool's choice: ``cidr``, ``ip_version``, ``subnetpool_id``.
    A subnet without a pool only gets the network affinity check."""
    if not wants_pool(attrs):
        _check_affinity(session, network_id, ipaddress.ip_network(attrs["cidr"]).version, None)
        return
    pool = _pool_of(session, ctx, attrs)
    version = attrs.get("ip_version")
    if version is not None and version != pool.ip_version:
        raise _bad(f"Cannot allocate IPv{version} subnet from IPv{pool.ip_version} subnet pool")
    net = _choose(session, pool, attrs)
    _check_quota(session, pool, project, net)
    _check_affinity(session, network_id, pool.ip_version, pool.id)
    attrs.update({"cidr": str(net), "ip_version": pool.ip_version, "subnetpool_id": pool.id})
