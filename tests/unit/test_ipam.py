"""IPAM's pure parts: usable ranges, default pools, pool validation, candidate order."""

from __future__ import annotations

import ipaddress

import pytest

from floatnet.core import errors
from floatnet.core.ipam import pools as ipam


def net(text: str) -> ipam.IPNetwork:
    return ipaddress.ip_network(text)


def test_host_bounds() -> None:
    assert ipam.host_bounds(net("10.0.0.0/24")) == (
        int(ipaddress.ip_address("10.0.0.1")),
        int(ipaddress.ip_address("10.0.0.254")),
    )
    assert ipam.host_bounds(net("10.0.0.0/31")) == (
        int(ipaddress.ip_address("10.0.0.0")),
        int(ipaddress.ip_address("10.0.0.1")),
    )
    low, high = ipam.host_bounds(net("2001:db8::/64"))
    assert str(ipaddress.ip_address(low)) == "2001:db8::1"
    assert str(ipaddress.ip_address(high)) == "2001:db8::ffff:ffff:ffff:ffff"


def test_default_pools() -> None:
    assert ipam.default_gateway(net("192.0.2.0/24")) == "192.0.2.1"
    assert ipam.default_pools(net("192.0.2.0/24"), "192.0.2.1") == [{"start": "192.0.2.2", "end": "192.0.2.254"}]
    assert ipam.default_pools(net("192.0.2.0/24"), None) == [{"start": "192.0.2.1", "end": "192.0.2.254"}]
    assert ipam.default_pools(net("192.0.2.0/24"), "192.0.2.254") == [{"start": "192.0.2.1", "end": "192.0.2.253"}]
    assert ipam.default_pools(net("192.0.2.0/30"), "192.0.2.1") == [{"start": "192.0.2.2", "end": "192.0.2.2"}]


def test_check_pools_sorts_and_validates() -> None:
    pools = [{"start": "10.0.0.50", "end": "10.0.0.60"}, {"start": "10.0.0.10", "end": "10.0.0.20"}]
    assert ipam.check_pools(net("10.0.0.0/24"), pools, "10.0.0.1") == list(reversed(pools))


@pytest.mark.parametrize(
    ("pools", "gateway", "error"),
    [
        ([{"start": "10.0.0.9", "end": "10.0.0.3"}], None, errors.InvalidAllocationPool),
        ([{"start": "10.0.0.0", "end": "10.0.0.3"}], None, errors.OutOfBoundsAllocationPool),
        ([{"start": "10.0.0.250", "end": "10.0.0.255"}], None, errors.OutOfBoundsAllocationPool),
        ([{"start": "2001:db8::1", "end": "2001:db8::5"}], None, errors.InvalidAllocationPool),
        (
            [{"start": "10.0.0.2", "end": "10.0.0.9"}, {"start": "10.0.0.9", "end": "10.0.0.12"}],
            None,
            errors.OverlappingAllocationPools,
        ),
        ([{"start": "10.0.0.2", "end": "10.0.0.9"}], "10.0.0.5", errors.GatewayConflictWithAllocationPools),
    ],
)
def test_check_pools_errors(pools: list[dict[str, str]], gateway: str | None, error: type[Exception]) -> None:
    with pytest.raises(error):
        ipam.check_pools(net("10.0.0.0/24"), pools, gateway)


def test_candidates_wrap_around_from_hint() -> None:
    ranges = [(1, 3), (10, 12)]
    assert list(ipam._candidates(ranges, 11)) == [11, 12, 1, 2, 3, 10]
    assert list(ipam._candidates(ranges, 0)) == [1, 2, 3, 10, 11, 12]
    assert list(ipam._candidates(ranges, 99)) == [1, 2, 3, 10, 11, 12]


class FakeSubnet:
    cidr = "10.0.0.0/24"


def test_in_subnet_excludes_network_and_broadcast() -> None:
    subnet = FakeSubnet()
    assert ipam.in_subnet(subnet, "10.0.0.7")
    assert not ipam.in_subnet(subnet, "10.0.0.0")
    assert not ipam.in_subnet(subnet, "10.0.0.255")
    assert not ipam.in_subnet(subnet, "10.0.1.7")
    assert not ipam.in_subnet(subnet, "2001:db8::1")
