"""Subnet pool prefix arithmetic (pure): compaction, free space, Neutron's best-fit choice, quota units."""

from __future__ import annotations

import ipaddress

from floatnet.core.ipam import prefixes as px


def nets(*texts: str) -> list[px.IPNetwork]:
    return [ipaddress.ip_network(text) for text in texts]


def test_compact_merges_overlaps_and_neighbours_per_version() -> None:
    merged = px.compact(nets("10.0.0.0/24", "10.0.1.0/24", "10.0.0.128/25", "2001:db8::/64"))
    assert [str(n) for n in merged] == ["10.0.0.0/23", "2001:db8::/64"]


def test_subtract_and_covers() -> None:
    free = px.subtract(nets("10.0.0.0/24"), nets("10.0.0.0/26", "10.0.0.192/27"))
    assert [str(n) for n in free] == ["10.0.0.64/26", "10.0.0.128/26", "10.0.0.224/27"]
    assert px.covers(free, ipaddress.ip_network("10.0.0.64/27"))
    assert not px.covers(free, ipaddress.ip_network("10.0.0.0/25"))
    assert px.subtract(nets("10.0.0.0/24"), nets("10.0.0.0/16")) == []


def test_choose_is_best_fit_lowest_first() -> None:
    free = nets("10.0.0.64/26", "10.0.0.128/25", "10.0.0.32/27")
    assert str(px.choose(free, 28)) == "10.0.0.32/28"
    assert str(px.choose(free, 26)) == "10.0.0.64/26"
    assert px.choose(free, 24) is None


def test_quota_units_are_addresses_or_slash_64s() -> None:
    assert px.units(ipaddress.ip_network("10.0.0.0/26")) == 64
    assert px.units(ipaddress.ip_network("2001:db8::/62")) == 4
    assert px.units(ipaddress.ip_network("2001:db8::/80")) == 1
