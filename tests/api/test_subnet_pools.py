"""Subnet pools and address scopes through the in-process app: Neutron's attributes, defaults, bounds,
prefix rules, subnets from a pool, address scopes and their errors (issue 21)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.helpers import ADMIN, assert_error, network, project

ALICE, BOB = project("alice"), project("bob")
READER = {"X-Project-Id": "alice", "X-Roles": "reader"}
SP, AS = "subnetpool", "address_scope"


def _as(headers: dict[str, str] | None) -> dict[str, str]:
    return ALICE if headers is None else headers


def pool_post(client: Any, headers: dict[str, str] | None = None, **attrs: Any) -> Any:
    return client.post("/v2.0/subnetpools", json={SP: attrs}, headers=_as(headers))


def pool(client: Any, headers: dict[str, str] | None = None, **attrs: Any) -> dict[str, Any]:
    attrs.setdefault("name", "p")
    response = pool_post(client, headers, **attrs)
    assert response.status_code == 201, response.text
    return dict(response.json()[SP])


def scope(client: Any, headers: dict[str, str] | None = None, **attrs: Any) -> dict[str, Any]:
    response = client.post("/v2.0/address-scopes", json={AS: {"name": "s", **attrs}}, headers=_as(headers))
    assert response.status_code == 201, response.text
    return dict(response.json()[AS])


def subnet_post(client: Any, network_id: str, headers: dict[str, str] | None = None, **attrs: Any) -> Any:
    return client.post("/v2.0/subnets", json={"subnet": {"network_id": network_id, **attrs}}, headers=_as(headers))


def test_pool_defaults_as_neutron(app_client: Any) -> None:
    created = pool(app_client, prefixes=["10.1.0.0/16", "10.0.0.0/16", "10.0.5.0/24"])
    assert created["prefixes"] == ["10.0.0.0/15"]  # compacted like netaddr.IPSet
    assert created["ip_version"] == 4
    assert (created["min_prefixlen"], created["max_prefixlen"], created["default_prefixlen"]) == (8, 32, 8)
    assert created["default_quota"] is None and created["address_scope_id"] is None
    assert created["is_default"] is False and created["shared"] is False
    assert created["revision_number"] == 0 and created["tags"] == [] and "status" not in created
    v6 = pool(app_client, prefixes=["2001:db8::/48"])
    assert (v6["ip_version"], v6["min_prefixlen"], v6["max_prefixlen"], v6["default_prefixlen"]) == (6, 64, 128, 64)


BAD_POOLS: list[tuple[dict[str, Any], int, str]] = [
    ({"prefixes": []}, 400, "EmptySubnetPoolPrefixList"),
    ({"prefixes": ["10.0.0.0/8", "2001:db8::/32"]}, 400, "PrefixVersionMismatch"),
    ({"prefixes": ["10.0.0.1/8"]}, 400, "HTTPBadRequest"),
    ({"prefixes": "10.0.0.0/8"}, 400, "HTTPBadRequest"),
    ({}, 400, "HTTPBadRequest"),
    ({"prefixes": ["10.0.0.0/8"], "min_prefixlen": 30, "max_prefixlen": 24}, 400, "IllegalSubnetPoolPrefixBounds"),
    ({"prefixes": ["10.0.0.0/8"], "max_prefixlen": 33}, 400, "IllegalSubnetPoolPrefixBounds"),
    ({"prefixes": ["10.0.0.0/8"], "default_prefixlen": 4}, 400, "IllegalSubnetPoolPrefixBounds"),
    ({"prefixes": ["10.0.0.0/8"], "min_prefixlen": -1}, 400, "UnsupportedMinSubnetPoolPrefix"),
    ({"prefixes": ["10.0.0.0/8"], "default_quota": -1}, 400, "HTTPBadRequest"),
    ({"prefixes": ["10.0.0.0/8"], "min_prefixlen": "x"}, 400, "HTTPBadRequest"),
    ({"prefixes": ["10.0.0.0/8"], "address_scope_id": "nope"}, 400, "HTTPBadRequest"),
    ({"prefixes": ["10.0.0.0/8"], "shared": True}, 403, "PolicyNotAuthorized"),
    ({"prefixes": ["10.0.0.0/8"], "is_default": True}, 403, "PolicyNotAuthorized"),
    ({"prefixes": ["10.0.0.0/8"], "ip_version": 4}, 400, "HTTPBadRequest"),
]


@pytest.mark.parametrize(("attrs", "status", "kind"), BAD_POOLS)
def test_bad_pools_are_typed_4xx(app_client: Any, attrs: dict[str, Any], status: int, kind: str) -> None:
    assert_error(pool_post(app_client, ALICE, **attrs), status, kind)


def test_one_default_pool_per_ip_version(app_client: Any) -> None:
    pool(app_client, ADMIN, prefixes=["10.0.0.0/8"], is_default=True)
    pool(app_client, ADMIN, prefixes=["2001:db8::/32"], is_default=True)
    response = pool_post(app_client, ADMIN, prefixes=["172.16.0.0/12"], is_default=True)
    assert_error(response, 400, "InvalidInput", "Only one default may exist per IP family")
    other = pool(app_client, ADMIN, prefixes=["172.16.0.0/12"])
    again = app_client.put(f"/v2.0/subnetpools/{other['id']}", json={SP: {"is_default": True}})
    assert_error(again, 400, "InvalidInput")


def test_prefixes_only_grow_and_prefix_ops(app_client: Any) -> None:
    created = pool(app_client, prefixes=["10.0.0.0/16"])
    url = f"/v2.0/subnetpools/{created['id']}"
    response = app_client.put(url, json={SP: {"prefixes": ["10.1.0.0/16"]}}, headers=ALICE)
    assert_error(response, 400, "IllegalSubnetPoolPrefixUpdate", "Existing prefixes must be a subset")
    updated = app_client.put(url, json={SP: {"prefixes": ["10.0.0.0/16", "10.1.0.0/16"]}}, headers=ALICE).json()[SP]
    assert updated["prefixes"] == ["10.0.0.0/15"] and updated["revision_number"] == 1
    added = app_client.put(url + "/add_prefixes", json={"prefixes": ["192.168.0.0/24"]}, headers=ALICE)
    assert added.status_code == 200 and added.json() == {"prefixes": ["10.0.0.0/15", "192.168.0.0/24"]}
    removed = app_client.put(url + "/remove_prefixes", json={"prefixes": ["10.1.0.0/16"]}, headers=ALICE)
    assert removed.json() == {"prefixes": ["10.0.0.0/16", "192.168.0.0/24"]}
    mixed = app_client.put(url + "/add_prefixes", json={"prefixes": ["2001:db8::/64"]}, headers=ALICE)
    assert_error(mixed, 400, "PrefixVersionMismatch")
    assert_error(app_client.put(url + "/add_prefixes", json={"prefixes": "x"}, headers=ALICE), 400, "BadRequest")
    assert_error(app_client.put(url + "/add_prefixes", json={"prefixes": ["10.0.0.0/8"]}, headers=BOB), 404,
                 "SubnetPoolNotFound")  # fmt: skip


def test_subnets_from_pool_prefixlen_cidr_and_default(app_client: Any) -> None:
    created = pool(app_client, ADMIN, prefixes=["10.10.0.0/24"], default_prefixlen=26, min_prefixlen=24,
                   max_prefixlen=28, shared=True, is_default=True)  # fmt: skip
    net = network(app_client, ALICE)
    first = subnet_post(app_client, net["id"], subnetpool_id=created["id"], prefixlen=26).json()["subnet"]
    assert first["cidr"] == "10.10.0.0/26" and first["subnetpool_id"] == created["id"]
    assert first["gateway_ip"] == "10.10.0.1" and first["ip_version"] == 4
    second = subnet_post(app_client, net["id"], subnetpool_id=created["id"]).json()["subnet"]
    assert second["cidr"] == "10.10.0.64/26"
    third = subnet_post(app_client, net["id"], subnetpool_id=created["id"], cidr="10.10.0.192/27").json()["subnet"]
    assert third["cidr"] == "10.10.0.192/27"
    fourth = subnet_post(app_client, net["id"], use_default_subnetpool=True, ip_version=4, prefixlen=28)
    # best fit: the free /27 is cut before the free /26
    assert fourth.status_code == 201 and fourth.json()["subnet"]["cidr"] == "10.10.0.224/28", fourth.text
    taken = subnet_post(app_client, net["id"], subnetpool_id=created["id"], cidr="10.10.0.0/27")
    assert_error(taken, 409, "SubnetAllocationError", "Cannot allocate requested subnet")
    assert_error(subnet_post(app_client, net["id"], subnetpool_id=created["id"], prefixlen=25), 409,
                 "SubnetAllocationError", "Insufficient prefix space to allocate subnet size /25")  # fmt: skip
    assert_error(subnet_post(app_client, net["id"], subnetpool_id=created["id"], prefixlen=29), 400,
                 "MaxPrefixSubnetAllocationError")  # fmt: skip
    assert_error(subnet_post(app_client, net["id"], subnetpool_id=created["id"], prefixlen=20), 400,
                 "MinPrefixSubnetAllocationError")  # fmt: skip
    assert_error(subnet_post(app_client, net["id"], subnetpool_id=created["id"], ip_version=6), 400, "BadRequest",
                 "Cannot allocate IPv6 subnet from IPv4 subnet pool")  # fmt: skip
    assert_error(subnet_post(app_client, net["id"], use_default_subnetpool=True, ip_version=6), 400, "BadRequest",
                 "No default subnetpool found for IPv6")  # fmt: skip
    both = subnet_post(app_client, net["id"], subnetpool_id=created["id"], use_default_subnetpool=True)
    assert_error(both, 400, "BadRequest", "cannot both be specified")
    pools_any = subnet_post(app_client, net["id"], subnetpool_id=created["id"],
                            allocation_pools=[{"start": "10.10.0.2", "end": "10.10.0.3"}])  # fmt: skip
    assert_error(pools_any, 400, "BadRequest", "allocation_pools allowed only for specific subnet requests")
    unknown = subnet_post(app_client, net["id"], subnetpool_id="6b3c4a55-7a52-4d4c-9d0f-1f5e8b2b6a11")
    assert_error(unknown, 404, "SubnetPoolNotFound")
    affinity = subnet_post(app_client, net["id"], cidr="10.99.0.0/24", ip_version=4)
    assert_error(affinity, 400, "NetworkSubnetPoolAffinityError")


def test_pool_in_use_and_remove_prefix_in_use(app_client: Any) -> None:
    created = pool(app_client, prefixes=["10.20.0.0/16"], default_prefixlen=24)
    net = network(app_client, ALICE)
    sub = subnet_post(app_client, net["id"], subnetpool_id=created["id"]).json()["subnet"]
    url = f"/v2.0/subnetpools/{created['id']}"
    assert_error(app_client.delete(url, headers=ALICE), 400, "SubnetPoolDeleteError", "existing allocations")
    removing = app_client.put(url + "/remove_prefixes", json={"prefixes": ["10.20.0.0/20"]}, headers=ALICE)
    assert_error(removing, 400, "IllegalSubnetPoolPrefixUpdate", "in use by a subnet")
    assert app_client.delete(f"/v2.0/subnets/{sub['id']}", headers=ALICE).status_code == 204
    assert app_client.delete(url, headers=ALICE).status_code == 204
    assert_error(app_client.get(url, headers=ALICE), 404, "SubnetPoolNotFound")


def test_quota_per_pool_in_addresses(app_client: Any) -> None:
    created = pool(app_client, prefixes=["10.30.0.0/16"], default_prefixlen=26, default_quota=128)
    net = network(app_client, ALICE)
    for _ in range(2):
        assert subnet_post(app_client, net["id"], subnetpool_id=created["id"]).status_code == 201
    assert_error(subnet_post(app_client, net["id"], subnetpool_id=created["id"]), 409, "SubnetPoolQuotaExceeded")


def test_dual_stack_pools_on_one_network(app_client: Any) -> None:
    v4 = pool(app_client, prefixes=["10.40.0.0/16"], default_prefixlen=24)
    v6 = pool(app_client, prefixes=["2001:db8:40::/48"])
    net = network(app_client, ALICE)
    a = subnet_post(app_client, net["id"], subnetpool_id=v4["id"]).json()["subnet"]
    b = subnet_post(app_client, net["id"], subnetpool_id=v6["id"]).json()["subnet"]
    assert (a["cidr"], b["cidr"], b["ip_version"]) == ("10.40.0.0/24", "2001:db8:40::/64", 6)


def test_visibility_shared_and_policy(app_client: Any) -> None:
    mine = pool(app_client, prefixes=["10.50.0.0/16"])
    shared = pool(app_client, ADMIN, prefixes=["10.51.0.0/16"], shared=True)
    seen = {p["id"] for p in app_client.get("/v2.0/subnetpools", headers=BOB).json()["subnetpools"]}
    assert shared["id"] in seen and mine["id"] not in seen
    assert_error(app_client.get(f"/v2.0/subnetpools/{mine['id']}", headers=BOB), 404, "SubnetPoolNotFound")
    url = f"/v2.0/subnetpools/{shared['id']}"
    assert_error(app_client.put(url, json={SP: {"name": "x"}}, headers=BOB), 403, "PolicyNotAuthorized")
    assert_error(app_client.delete(url, headers=BOB), 403, "PolicyNotAuthorized")
    assert_error(app_client.put(f"/v2.0/subnetpools/{mine['id']}", json={SP: {"name": "x"}}, headers=READER), 403,
                 "PolicyNotAuthorized")  # fmt: skip
    assert_error(app_client.put(url, json={SP: {"shared": False}}, headers=ADMIN), 400, "HTTPBadRequest")


def test_list_filters_sort_paging_tags(app_client: Any) -> None:
    for index in range(5):
        pool(app_client, name=f"lp{index}", prefixes=[f"10.6{index}.0.0/16"], tags=["t"] if index % 2 else [])
    listed = app_client.get("/v2.0/subnetpools?sort_key=name&sort_dir=desc&limit=2", headers=ALICE).json()
    assert [p["name"] for p in listed["subnetpools"]] == ["lp4", "lp3"] and listed["subnetpools_links"]
    tagged = app_client.get("/v2.0/subnetpools?tags=t", headers=ALICE).json()["subnetpools"]
    assert sorted(p["name"] for p in tagged) == ["lp1", "lp3"]
    by_version = app_client.get("/v2.0/subnetpools?ip_version=4&name=lp2", headers=ALICE).json()["subnetpools"]
    assert [p["name"] for p in by_version] == ["lp2"]
    seen: list[str] = []
    url = "/v2.0/subnetpools?limit=2"
    while url:
        page = app_client.get(url, headers=ALICE).json()
        seen += [p["id"] for p in page["subnetpools"]]
        following = [link["href"] for link in page.get("subnetpools_links", []) if link["rel"] == "next"]
        url = "/v2.0" + following[0].split("/v2.0", 1)[1] if following else ""
    assert len(seen) == 5 and seen == sorted(seen)  # paged in SQL by id, each pool once
    one = by_version[0]["id"]
    assert app_client.put(f"/v2.0/subnetpools/{one}/tags/x", headers=ALICE).status_code == 201


def test_address_scopes(app_client: Any) -> None:
    s4 = scope(app_client, ip_version=4)
    assert (s4["ip_version"], s4["shared"], s4["revision_number"]) == (4, False, 0)
    assert_error(app_client.post("/v2.0/address-scopes", json={AS: {"name": "x"}}, headers=ALICE), 400,
                 "HTTPBadRequest")  # fmt: skip
    assert_error(app_client.post("/v2.0/address-scopes", json={AS: {"ip_version": 5}}, headers=ALICE), 400,
                 "HTTPBadRequest")  # fmt: skip
    assert_error(app_client.post("/v2.0/address-scopes", json={AS: {"ip_version": 4, "shared": True}},
                                 headers=ALICE), 403, "PolicyNotAuthorized")  # fmt: skip
    s6 = scope(app_client, ip_version=6)
    first = pool(app_client, prefixes=["10.70.0.0/16"], address_scope_id=s4["id"], default_prefixlen=24)
    assert first["address_scope_id"] == s4["id"]
    assert_error(pool_post(app_client, prefixes=["10.70.1.0/24"], address_scope_id=s4["id"]), 409,
                 "AddressScopePrefixConflict")  # fmt: skip
    assert_error(pool_post(app_client, prefixes=["10.71.0.0/16"], address_scope_id=s6["id"]), 400,
                 "IllegalSubnetPoolIpVersionAssociationToAddressScope")  # fmt: skip
    bobs = scope(app_client, BOB, ip_version=4)
    assert_error(pool_post(app_client, prefixes=["10.72.0.0/16"], address_scope_id=bobs["id"]), 404,
                 "AddressScopeNotFound")  # fmt: skip
    net = network(app_client, ALICE)
    subnet_post(app_client, net["id"], subnetpool_id=first["id"])
    shown = app_client.get(f"/v2.0/networks/{net['id']}", headers=ALICE).json()["network"]
    assert shown["ipv4_address_scope"] == s4["id"] and shown["ipv6_address_scope"] is None
    url = f"/v2.0/address-scopes/{s4['id']}"
    assert_error(app_client.delete(url, headers=ALICE), 409, "AddressScopeInUse")
    shared = scope(app_client, ADMIN, ip_version=4, shared=True)
    unshare = app_client.put(f"/v2.0/address-scopes/{shared['id']}", json={AS: {"shared": False}}, headers=ADMIN)
    assert_error(unshare, 400, "AddressScopeUpdateError")
    renamed = app_client.put(url, json={AS: {"name": "n"}}, headers=ALICE).json()[AS]
    assert renamed["name"] == "n" and renamed["revision_number"] == 1
    assert app_client.delete(f"/v2.0/address-scopes/{s6['id']}", headers=ALICE).status_code == 204


def test_pool_with_subnets_moves_into_a_scope(app_client: Any) -> None:
    s4 = scope(app_client, ip_version=4)
    first = pool(app_client, prefixes=["10.75.0.0/16"], default_prefixlen=24)
    second = pool(app_client, prefixes=["10.76.0.0/16"], default_prefixlen=24)
    net = network(app_client, ALICE)
    assert subnet_post(app_client, net["id"], subnetpool_id=first["id"]).status_code == 201
    url = f"/v2.0/subnetpools/{first['id']}"
    moved = app_client.put(url, json={SP: {"address_scope_id": s4["id"]}}, headers=ALICE)
    assert moved.status_code == 200 and moved.json()[SP]["address_scope_id"] == s4["id"]
    other = network(app_client, ALICE)
    assert subnet_post(app_client, other["id"], subnetpool_id=second["id"]).status_code == 201
    assert subnet_post(app_client, other["id"], cidr="10.77.0.0/24").status_code == 400  # pool affinity
    put = app_client.put(f"/v2.0/subnetpools/{second['id']}", json={SP: {"address_scope_id": s4["id"]}},
                         headers=ALICE)  # fmt: skip
    assert put.status_code == 200  # each network holds one pool's subnets (affinity), so none spans two scopes
    shown = app_client.get(f"/v2.0/networks/{other['id']}", headers=ALICE).json()["network"]
    assert shown["ipv4_address_scope"] == s4["id"]


def test_extensions_advertised(app_client: Any) -> None:
    aliases = {ext["alias"] for ext in app_client.get("/v2.0/extensions").json()["extensions"]}
    assert {"subnet_allocation", "default-subnetpools", "subnetpool-prefix-ops", "address-scope"} <= aliases
