"""Subnet pools and address scopes with the unchanged OpenStack clients (openstacksdk and the ``openstack``
CLI) against a real listening floatnet server (noauth admin): create, list with filters, show, set/unset,
delete, subnets from a pool, and the errors (issue 21)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from openstack import exceptions

from tests.api.openstack_clients import noauth_sdk
from tests.api.openstack_clients import openstack_cli as cli


@pytest.fixture
def sdk(live_server: str) -> Iterator[Any]:
    with noauth_sdk(live_server) as conn:
        yield conn


def test_openstacksdk_subnet_pools_and_scopes(sdk: Any) -> None:
    scope = sdk.network.create_address_scope(name="sdk-scope", ip_version=4)
    pool = sdk.network.create_subnet_pool(
        name="sdk-pool", prefixes=["10.160.0.0/24"], default_prefixlen=26, address_scope_id=scope.id
    )
    assert (pool.ip_version, pool.minimum_prefix_length, pool.maximum_prefix_length) == (4, 8, 32)
    assert sdk.network.find_subnet_pool("sdk-pool").id == pool.id
    assert [p.id for p in sdk.network.subnet_pools(address_scope_id=scope.id)] == [pool.id]
    assert sdk.network.find_address_scope("sdk-scope").id == scope.id
    with pytest.raises(exceptions.BadRequestException):
        sdk.network.create_subnet_pool(name="bad", prefixes=["10.0.0.0/8", "2001:db8::/32"])
    with pytest.raises(exceptions.ConflictException):
        sdk.network.create_subnet_pool(name="clash", prefixes=["10.160.0.0/25"], address_scope_id=scope.id)
    net = sdk.network.create_network(name="sdk-pool-net")
    sub = sdk.network.create_subnet(network_id=net.id, subnet_pool_id=pool.id, prefixlen=26, ip_version=4)
    assert (sub.cidr, sub.subnet_pool_id) == ("10.160.0.0/26", pool.id)
    assert sdk.network.get_network(net.id).ipv4_address_scope_id == scope.id
    pool = sdk.network.update_subnet_pool(pool, description="grown", prefixes=["10.160.0.0/24", "10.160.1.0/24"])
    assert pool.prefixes == ["10.160.0.0/23"] and pool.description == "grown"
    with pytest.raises(exceptions.BadRequestException):
        sdk.network.delete_subnet_pool(pool)
    sdk.network.delete_subnet(sub)
    sdk.network.delete_subnet_pool(pool)
    sdk.network.update_address_scope(scope, name="sdk-scope2")
    sdk.network.delete_address_scope(scope)
    assert sdk.network.find_address_scope("sdk-scope2") is None


def test_openstack_cli_subnet_pools_and_scopes(live_server: str) -> None:
    scope = cli(live_server, "address", "scope", "create", "--ip-version", "4", "cli-scope", "-f", "json")
    assert scope["ip_version"] == 4
    pool = cli(
        live_server, "subnet", "pool", "create", "--pool-prefix", "10.170.0.0/24", "--default-prefix-length", "26",
        "--address-scope", "cli-scope", "--default-quota", "256", "cli-pool", "-f", "json",
    )  # fmt: skip
    assert (pool["prefixes"], pool["default_quota"], pool["address_scope_id"]) == (
        ["10.170.0.0/24"], 256, scope["id"])  # fmt: skip
    listed = cli(live_server, "subnet", "pool", "list", "--address-scope", "cli-scope", "-f", "json")
    assert [p["Name"] for p in listed] == ["cli-pool"]
    cli(live_server, "subnet", "pool", "set", "--pool-prefix", "10.170.1.0/24", "--description", "d", "cli-pool")
    shown = cli(live_server, "subnet", "pool", "show", "cli-pool", "-f", "json")
    assert (shown["prefixes"], shown["description"]) == (["10.170.0.0/23"], "d")
    cli(live_server, "subnet", "pool", "unset", "--tag", "x", "cli-pool")
    cli(live_server, "network", "create", "cli-pool-net")
    sub = cli(
        live_server, "subnet", "create", "--network", "cli-pool-net", "--subnet-pool", "cli-pool",
        "--prefix-length", "26", "cli-pool-sub", "-f", "json",
    )  # fmt: skip
    assert sub["cidr"] == "10.170.0.0/26"
    scopes = cli(live_server, "address", "scope", "list", "-f", "json")
    assert "cli-scope" in {s["Name"] for s in scopes}
    cli(live_server, "address", "scope", "set", "--name", "cli-scope2", "cli-scope")
    assert cli(live_server, "address", "scope", "show", "cli-scope2", "-f", "json")["id"] == scope["id"]
    with pytest.raises(AssertionError, match="existing allocations"):
        cli(live_server, "subnet", "pool", "delete", "cli-pool")
    cli(live_server, "subnet", "delete", "cli-pool-sub")
    cli(live_server, "subnet", "pool", "delete", "cli-pool")
    cli(live_server, "address", "scope", "delete", "cli-scope2")
