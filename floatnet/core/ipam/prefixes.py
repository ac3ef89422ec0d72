"""Prefix arithmetic of subnet pools, as Neutron's ``subnet_alloc`` does it with ``netaddr.IPSet``.

Pure functions over ``ipaddress`` networks: compacting a pool's prefix list, what is still free once the
pool's subnets are taken out, choosing a block for a new subnet (best fit: the smallest free block that holds
the requested length, its first aligned sub-block, as Neutron's ``_allocate_any_subnet``) and the quota
units a prefix costs. The transaction that calls them holds the pool's lock, so two allocations never see the
same free set (:mod:`floatnet.core.resources.subnet_pools`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from floatnet.core.ipam.pools import IPNetwork

MAX_PREFIXLEN = {4: 32, 6: 128}
DEFAULT_MIN_PREFIXLEN = {4: 8, 6: 64}
QUOTA_UNITS = {4: 32, 6: 64}  # Neutron counts IPv4 pool quota in addresses (/32), IPv6 in /64 networks


def compact(prefixes: Iterable[IPNetwork]) -> list[IPNetwork]:
    """The smallest list of networks covering exactly ``prefixes`` (overlaps merged, neighbours joined)."""
    by_version: dict[int, list[IPNetwork]] = {4: [], 6: []}
    for net in prefixes:
        by_version[net.version].append(net)
    merged: list[IPNetwork] = []
    for version in (4, 6):
        merged.extend(ipaddress.collapse_addresses(by_version[version]))  # type: ignore[type-var]
    return merged


def subtract(prefixes: Iterable[IPNetwork], taken: Iterable[IPNetwork]) -> list[IPNetwork]:
    """``prefixes`` minus every network of ``taken`` (the free space of a pool), compacted."""
    free = compact(prefixes)
    for cut in compact(taken):
        rest: list[IPNetwork] = []
        for block in free:
            if block.version != cut.version or not block.overlaps(cut):
                rest.append(block)
            elif not cut.supernet_of(block):  # type: ignore[arg-type]
                rest.extend(block.address_exclude(cut))  # type: ignore[arg-type]
        free = rest
    return compact(free)


def overlaps(first: Iterable[IPNetwork], second: Iterable[IPNetwork]) -> bool:
    """Whether any network of ``first`` shares an address with one of ``second``."""
    others = list(second)
    return any(a.version == b.version and a.overlaps(b) for a in first for b in others)  # type: ignore[arg-type]


def covers(prefixes: Iterable[IPNetwork], net: IPNetwork) -> bool:
    """Whether ``net`` lies wholly inside the union of ``prefixes``."""
    return not subtract([net], prefixes)


def choose(free: Iterable[IPNetwork], prefixlen: int) -> IPNetwork | None:
    """Neutron's choice for an any-subnet request: among free blocks at least as large as ``/prefixlen``, the
    smallest (lowest address first), and in it the first ``/prefixlen``. None when nothing fits."""
    fitting = sorted(
        (b for b in free if b.prefixlen <= prefixlen), key=lambda b: (-b.prefixlen, int(b.network_address))
    )
    if not fitting:
        return None
    block = fitting[0]
    first: IPNetwork = next(iter(block.subnets(new_prefix=prefixlen)))  # type: ignore[assignment]
    return first


def units(net: IPNetwork) -> int:
    """The quota units ``net`` costs in its pool (addresses for IPv4, /64 networks for IPv6)."""
    return int(2 ** max(QUOTA_UNITS[net.version] - net.prefixlen, 0))


def parse(texts: Iterable[str]) -> list[IPNetwork]:
    """Stored prefix texts as networks."""
    return [ipaddress.ip_network(text) for text in texts]
