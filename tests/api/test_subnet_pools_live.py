"""Subnet pools and address scopes on a real listening server (issue 21): the hostile requests as admin,
member and reader (typed 4xx, forbidden ones refused, nothing written by a refused one), and twenty
concurrent subnet creates from one pool that never overlap."""

from __future__ import annotations

import ipaddress
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.api.helpers import assert_error, project
from tests.api.test_postgres import pg_ini
from tests.api.test_subnet_pools import BAD_POOLS

OWNER, OTHER = project("pool-owner"), project("pool-other")
READER = {"X-Project-Id": "pool-owner", "X-Roles": "reader"}
ADMIN = project("pool-admin", admin=True)
SP, AS = "subnetpool", "address_scope"


def _created(response: httpx.Response, key: str) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    return dict(response.json()[key])


def _pools(api: httpx.Client) -> Any:
    listed = api.get("/v2.0/subnetpools", headers=ADMIN).json()["subnetpools"]
    return sorted((p["id"], p["revision_number"], tuple(p["prefixes"])) for p in listed)


@pytest.mark.parametrize("headers", [OWNER, ADMIN], ids=["member", "admin"])
def test_bad_pools_refused_live(api: httpx.Client, headers: dict[str, str]) -> None:
    before = _pools(api)
    for attrs, status, kind in BAD_POOLS:
        response = api.post("/v2.0/subnetpools", json={SP: attrs}, headers=headers)
        if status == 403 and headers is ADMIN:
            assert response.status_code == 201, response.text  # admin-only attributes: an admin may
            api.delete(f"/v2.0/subnetpools/{response.json()[SP]['id']}", headers=ADMIN)
            continue
        assert_error(response, status, kind)
    assert _pools(api) == before


def test_forbidden_writes_refused_live(api: httpx.Client) -> None:
    mine = _created(api.post("/v2.0/subnetpools", json={SP: {"prefixes": ["10.80.0.0/16"]}}, headers=OWNER), SP)
    shared = {"prefixes": ["10.81.0.0/16"], "shared": True}
    theirs = _created(api.post("/v2.0/subnetpools", json={SP: shared}, headers=ADMIN), SP)
    before = _pools(api)
    url, shared_url = f"/v2.0/subnetpools/{mine['id']}", f"/v2.0/subnetpools/{theirs['id']}"
    assert_error(api.post("/v2.0/subnetpools", json={SP: {"prefixes": ["10.82.0.0/16"]}}, headers=READER), 403,
           "PolicyNotAuthorized")  # fmt: skip
    assert_error(api.put(url, json={SP: {"name": "r"}}, headers=READER), 403, "PolicyNotAuthorized")
    assert_error(api.put(url + "/add_prefixes", json={"prefixes": ["10.83.0.0/16"]}, headers=READER), 403,
           "PolicyNotAuthorized")  # fmt: skip
    assert_error(api.delete(url, headers=READER), 403, "PolicyNotAuthorized")
    assert_error(api.get(url, headers=OTHER), 404, "SubnetPoolNotFound")
    assert_error(api.put(url, json={SP: {"name": "x"}}, headers=OTHER), 404, "SubnetPoolNotFound")
    assert_error(api.put(shared_url, json={SP: {"name": "x"}}, headers=OTHER), 403, "PolicyNotAuthorized")
    assert_error(api.put(shared_url + "/remove_prefixes", json={"prefixes": ["10.81.0.0/17"]}, headers=OTHER), 403,
           "PolicyNotAuthorized")  # fmt: skip
    assert_error(api.delete(shared_url, headers=OTHER), 403, "PolicyNotAuthorized")
    assert_error(api.put(url, json={SP: {"is_default": True}}, headers=OWNER), 403, "PolicyNotAuthorized")
    assert_error(api.put(url, json={SP: {"prefixes": ["10.84.0.0/16"]}}, headers=OWNER), 400,
           "IllegalSubnetPoolPrefixUpdate")  # fmt: skip
    assert_error(api.put(url, json={SP: {"min_prefixlen": 40}}, headers=OWNER), 400, "IllegalSubnetPoolPrefixBounds")
    assert_error(
        api.put(url + "/add_prefixes", content=b"{not json", headers={**OWNER, "Content-Type": "application/json"}),
        400,
        "MalformedRequestBody",
    )
    assert _pools(api) == before


def test_hostile_address_scopes_live(api: httpx.Client) -> None:
    body = {AS: {"name": "s", "ip_version": 4}}
    scope = _created(api.post("/v2.0/address-scopes", json=body, headers=OWNER), AS)
    url = f"/v2.0/address-scopes/{scope['id']}"
    assert_error(api.post("/v2.0/address-scopes", json={AS: {"ip_version": "four"}}, headers=OWNER), 400,
           "HTTPBadRequest")  # fmt: skip
    assert_error(api.post("/v2.0/address-scopes", json={AS: {"ip_version": 4, "shared": True}}, headers=OWNER), 403,
           "PolicyNotAuthorized")  # fmt: skip
    assert_error(api.post("/v2.0/address-scopes", json=body, headers=READER), 403, "PolicyNotAuthorized")
    assert_error(api.put(url, json={AS: {"ip_version": 6}}, headers=OWNER), 400, "HTTPBadRequest")
    assert_error(api.put(url, json={AS: {"shared": True}}, headers=OWNER), 403, "PolicyNotAuthorized")
    assert_error(api.get(url, headers=OTHER), 404, "AddressScopeNotFound")
    assert_error(api.delete(url, headers=READER), 403, "PolicyNotAuthorized")
    pool = {"prefixes": ["10.90.0.0/16"], "address_scope_id": scope["id"]}
    assert_error(api.post("/v2.0/subnetpools", json={SP: pool}, headers=OTHER), 404, "AddressScopeNotFound")
    _created(api.post("/v2.0/subnetpools", json={SP: pool}, headers=OWNER), SP)
    overlapping = {"prefixes": ["10.90.128.0/17"], "address_scope_id": scope["id"]}
    assert_error(
        api.post("/v2.0/subnetpools", json={SP: overlapping}, headers=ADMIN), 409, "AddressScopePrefixConflict"
    )
    assert_error(api.delete(url, headers=OWNER), 409, "AddressScopeInUse")


def _race_twenty_subnets(url: str) -> None:
    """16 blocks of /26 in a /22, 20 creators on 20 networks (no per-network overlap check helps): 16 win,
    4 get ``SubnetAllocationError``, no two CIDRs overlap."""
    with httpx.Client(base_url=url, timeout=120) as api:
        body = {SP: {"prefixes": ["10.100.0.0/22"]}}
        pool = _created(api.post("/v2.0/subnetpools", json=body, headers=OWNER), SP)
        networks = [_created(api.post("/v2.0/networks", json={"network": {}}, headers=OWNER), "network")["id"]
                    for _ in range(20)]  # fmt: skip

    def create(network_id: str) -> httpx.Response:
        body = {"subnet": {"network_id": network_id, "subnetpool_id": pool["id"], "prefixlen": 26}}
        with httpx.Client(base_url=url, timeout=120) as own:
            return own.post("/v2.0/subnets", json=body, headers=OWNER)

    with ThreadPoolExecutor(20) as workers:
        responses = list(workers.map(create, networks))
    cidrs = [ipaddress.ip_network(r.json()["subnet"]["cidr"]) for r in responses if r.status_code == 201]
    refused = [r.json()["NeutronError"]["type"] for r in responses if r.status_code != 201]
    assert len(cidrs) == 16 and refused == ["SubnetAllocationError"] * 4, [r.text for r in responses]
    assert all(not a.overlaps(b) for i, a in enumerate(cidrs) for b in cidrs[i + 1 :])
    assert all(net.subnet_of(ipaddress.ip_network("10.100.0.0/22")) for net in cidrs)  # type: ignore[arg-type]


def test_twenty_concurrent_subnets_from_one_pool_never_overlap(live_server: str) -> None:
    _race_twenty_subnets(live_server)


def test_twenty_concurrent_subnets_from_one_pool_on_postgres(postgres_url: str, live_server_factory: Any) -> None:
    """PostgreSQL runs the creators truly in parallel: the pool's row lock is what keeps them apart."""
    _race_twenty_subnets(live_server_factory(pg_ini(postgres_url)))
