"""IP address management: pools, and race-free allocation of fixed IPs.

Correctness comes from the database: ``UNIQUE (network_id, ip_address)`` on ``ip_allocations``, writers
serialised per database (SQLite) or per subnet row lock (PostgreSQL), and a whole-transaction retry on a
conflict. Speed comes from a per-subnet hint (where the last automatic allocation ended): candidates after the
hint are probed in batches with one indexed query each; only when those are all taken does a full scan of the
subnet's allocations decide between the first free address and ``IpAddressGenerationFailure``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from floatnet.core.errors import (
    GatewayConflictWithAllocationPools,
    InvalidAllocationPool,
    OutOfBoundsAllocationPool,
    OverlappingAllocationPools,
)
from floatnet.db.models import IPAllocation, table_of
from floatnet.db.session import serialize

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
BATCHES = (4, 32, 128, 512)  # the hint is usually right: probe few first, then widen


def host_bounds(net: IPNetwork) -> tuple[int, int]:
    """First and last usable address (as ints): v4 excludes network and broadcast, v6 the anycast address."""
    first, last = int(net.network_address), int(net.broadcast_address)
    if net.version == 4 and net.prefixlen < 31:
        return first + 1, last - 1
    if net.version == 6 and net.prefixlen < 127:
        return first + 1, last
    return first, last


def default_gateway(net: IPNetwork) -> str:
    """The default gateway: the first usable address."""
    return str(ipaddress.ip_address(host_bounds(net)[0]))


def default_pools(net: IPNetwork, gateway: str | None) -> list[dict[str, str]]:
    """The whole usable range, minus the gateway (which may split it in two)."""
    low, high = host_bounds(net)
    gw = int(ipaddress.ip_address(gateway)) if gateway else None
    ranges = [(low, high)]
    if gw is not None and low <= gw <= high:
        ranges = [(low, gw - 1), (gw + 1, high)]
    return [_pool(a, b, net.version) for a, b in ranges if a <= b]


def _pool(start: int, end: int, version: int) -> dict[str, str]:
    make = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
    return {"start": str(make(start)), "end": str(make(end))}


def pool_ranges(pools: list[dict[str, str]]) -> list[tuple[int, int]]:
    """Stored pools as inclusive int ranges."""
    return [(int(ipaddress.ip_address(p["start"])), int(ipaddress.ip_address(p["end"]))) for p in pools]


def check_pools(net: IPNetwork, pools: list[dict[str, str]], gateway: str | None) -> list[dict[str, str]]:
    """Validate requested pools (inside the usable range, ordered, disjoint, gateway outside); canonical."""
    low, high = host_bounds(net)
    ranges: list[tuple[int, int, str]] = []
    for pool in pools:
        text = f"{pool['start']}-{pool['end']}"
        start, end = ipaddress.ip_address(pool["start"]), ipaddress.ip_address(pool["end"])
        if start.version != net.version or end.version != net.version or int(start) > int(end):
            raise InvalidAllocationPool(pool=text)
        if not (low <= int(start) and int(end) <= high):
            raise OutOfBoundsAllocationPool(pool=text, subnet_cidr=str(net))
        ranges.append((int(start), int(end), text))
    ranges.sort()
    for (_, end_a, text_a), (start_b, _, text_b) in zip(ranges, ranges[1:], strict=False):
        if start_b <= end_a:
            raise OverlappingAllocationPools(pool_1=text_a, pool_2=text_b, subnet_cidr=str(net))
    if gateway:
        gw = int(ipaddress.ip_address(gateway))
        for start_i, end_i, text in ranges:
            if start_i <= gw <= end_i:
                raise GatewayConflictWithAllocationPools(ip_address=gateway, pool=text)
    return [_pool(a, b, net.version) for a, b, _ in ranges]


def in_subnet(subnet: Any, address: str) -> bool:
    """Whether ``address`` is a usable address of ``subnet`` (not its network/broadcast address)."""
    net = ipaddress.ip_network(subnet.cidr)
    value = ipaddress.ip_address(address)
    if value.version != net.version or value not in net:
        return False
    low, high = host_bounds(net)
    return low <= int(value) <= high


def _candidates(ranges: list[tuple[int, int]], start: int) -> Iterator[int]:
    """Pool addresses from ``start`` on, wrapping around to the pools' beginning."""
    for low, high in ranges:
        yield from range(max(low, start), high + 1)
    for low, high in ranges:
        yield from range(low, min(high, start - 1) + 1)


ALLOCS = table_of(IPAllocation)
TAKEN = select(ALLOCS.c.ip_address).where(
    ALLOCS.c.network_id == bindparam("network_id"), ALLOCS.c.ip_address.in_(bindparam("ips", expanding=True))
)


def _taken(session: Session, network_id: str, addresses: list[str]) -> set[str]:
    rows = session.connection().execute(TAKEN, {"network_id": network_id, "ips": addresses})
    return {row[0] for row in rows}


def _probe(session: Session, subnet: Any, ranges: list[tuple[int, int]], start: int) -> int | None:
    make = ipaddress.ip_address
    candidates = _candidates(ranges, start)
    for size in BATCHES:
        batch = [value for _, value in zip(range(size), candidates, strict=False)]
        if not batch:
            return None
        texts = [str(make(value)) for value in batch]
        taken = _taken(session, subnet.network_id, texts)
        for value, text in zip(batch, texts, strict=True):
            if text not in taken:
                return value
    return None


def _scan(session: Session, subnet: Any, ranges: list[tuple[int, int]]) -> int | None:
    rows = session.execute(select(IPAllocation.ip_address).where(IPAllocation.subnet_id == subnet.id))
    taken = {int(ipaddress.ip_address(row[0])) for row in rows}
    return next((value for value in _candidates(ranges, 0) if value not in taken), None)


# The lock allocators queue on (PostgreSQL; SQLite serialises writers already). Without it, servers with their
# own hints picked the same free address concurrently and retried in lockstep until the retries ran out (409
# TooManyConflicts). Its own, not the change log's: an allocator holds it while it goes on to update rows (a
# router's gateway, a port's fixed IPs) that an agent's status report may hold, and a status report takes the
# change log's lock (at its commit, :func:`floatnet.core.agent_protocol.feed.logged`) but never this one, so
# the report never waits for an allocator: the order is this lock, rows, the change log's lock.
ALLOCATION_LOCK = "ipam"


def next_free(session: Session, hints: dict[str, int], subnet: Any) -> str | None:
    """A free address of ``subnet``'s pools (None when the pools are exhausted); records the hint. Concurrent
    allocators queue (:data:`ALLOCATION_LOCK`), so each sees the addresses the previous one committed."""
    ranges = pool_ranges(subnet.allocation_pools)
    if not ranges:
        return None
    serialize(session, ALLOCATION_LOCK)
    start = hints.get(subnet.id, ranges[0][0])
    found = _probe(session, subnet, ranges, start)
    if found is None:
        found = _scan(session, subnet, ranges)
    if found is None:
        return None
    hints[subnet.id] = found + 1
    return str(ipaddress.ip_address(found))


def is_allocated(session: Session, network_id: str, address: str) -> bool:
    """Whether ``address`` is already a fixed IP on ``network_id``."""
    return bool(_taken(session, network_id, [address]))
