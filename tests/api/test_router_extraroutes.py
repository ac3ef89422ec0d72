"""extraroute-atomic, the L3 extension attributes (ha, distributed, flavor_id, availability zones) and a
gateway on an external network without a subnet — in process for breadth, the hostile requests also
through a real listening server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.helpers import assert_error, project
from tests.api.l3_world import World, build, ok

ROUTE_A = {"destination": "192.0.2.0/24", "nexthop": "10.0.0.7"}
ROUTE_B = {"destination": "198.51.100.0/24", "nexthop": "10.0.0.8"}
ROUTE_A2 = {"destination": "192.0.2.0/24", "nexthop": "10.0.0.9"}


@pytest.fixture
def world(app_client: Any) -> World:
    return build(app_client)


@pytest.fixture(scope="module")
def live_world(live_server: str) -> Iterator[World]:
    """One L3 world on the module's live server (each live test adds its own routers to it)."""
    with httpx.Client(base_url=live_server, timeout=60) as client:
        yield build(client)


def edit(world: World, router_id: str, verb: str, routes: Any, headers: dict[str, str] | None = None) -> Any:
    body = {"router": {"routes": routes}}
    return world.client.put(f"/v2.0/routers/{router_id}/{verb}_extraroutes", json=body, headers=headers or {})


def routes_of(response: Any) -> list[dict[str, str]]:
    return sorted(ok(response)["router"]["routes"], key=lambda r: (r["destination"], r["nexthop"]))


def test_add_is_a_union_and_remove_a_difference(world: World) -> None:
    router_id = world.router()
    assert routes_of(edit(world, router_id, "add", [ROUTE_A])) == [ROUTE_A]
    assert routes_of(edit(world, router_id, "add", [ROUTE_A, ROUTE_B, ROUTE_A2])) == [ROUTE_A, ROUTE_A2, ROUTE_B]
    assert routes_of(edit(world, router_id, "add", [{"destination": "192.0.2.0/24", "nexthop": "10.0.0.7"}])) == [
        ROUTE_A,
        ROUTE_A2,
        ROUTE_B,
    ]
    missing = {"destination": "203.0.113.0/24", "nexthop": "10.0.0.7"}
    assert routes_of(edit(world, router_id, "remove", [ROUTE_A, missing])) == [ROUTE_A2, ROUTE_B]
    shown = ok(world.client.get(f"/v2.0/routers/{router_id}"))["router"]
    assert sorted(shown["routes"], key=lambda r: r["nexthop"]) == [ROUTE_B, ROUTE_A2]
    assert routes_of(edit(world, router_id, "remove", [ROUTE_A2, ROUTE_B])) == []


def test_the_answer_is_the_whole_router_and_bumps_its_revision(world: World) -> None:
    router_id = world.router()
    before = ok(world.client.get(f"/v2.0/routers/{router_id}"))["router"]
    after = ok(edit(world, router_id, "add", [ROUTE_A]))["router"]
    assert set(after) == set(before) and after["id"] == router_id
    assert after["revision_number"] > before["revision_number"]
    assert after["external_gateway_info"] == before["external_gateway_info"]


def test_the_resulting_set_is_validated_like_routes(world: World) -> None:
    router_id = world.router()
    unreachable = {"destination": "192.0.2.0/24", "nexthop": "172.16.0.1"}
    assert_error(edit(world, router_id, "add", [unreachable]), 400, "InvalidRoutes", "not connected")
    own = ok(world.client.get(f"/v2.0/routers/{router_id}"))["router"]["external_gateway_info"]
    mine = {"destination": "192.0.2.0/24", "nexthop": own["external_fixed_ips"][0]["ip_address"]}
    assert_error(edit(world, router_id, "add", [mine]), 400, "InvalidRoutes", "used by router")
    many = [{"destination": f"192.0.2.{i}/32", "nexthop": "10.0.0.7"} for i in range(20)]
    ok(edit(world, router_id, "add", many))
    more = [{"destination": f"198.51.100.{i}/32", "nexthop": "10.0.0.7"} for i in range(11)]
    assert_error(edit(world, router_id, "add", more), 400, "RoutesExhausted")
    assert len(ok(world.client.get(f"/v2.0/routers/{router_id}"))["router"]["routes"]) == 20


def hostile_requests(world: World) -> None:
    """The refusals every client can provoke; run in process and on the live server."""
    router_id = world.router()
    path = f"/v2.0/routers/{router_id}/add_extraroutes"
    for body, kind in (
        ({}, "HTTPBadRequest"),
        ({"router": {}}, "HTTPBadRequest"),
        ({"router": {"routes": "x"}}, "HTTPBadRequest"),
        ({"router": {"routes": [{"destination": "192.0.2.1/24", "nexthop": "10.0.0.7"}]}}, "HTTPBadRequest"),
        ({"router": {"routes": [{"destination": "192.0.2.0/24", "nexthop": "nope"}]}}, "HTTPBadRequest"),
        ({"router": {"routes": [{"destination": "192.0.2.0/24"}]}}, "HTTPBadRequest"),
        ({"router": {"routes": [], "name": "x"}}, "HTTPBadRequest"),
        ([1, 2], "HTTPBadRequest"),
    ):
        assert_error(world.client.put(path, json=body), 400, kind, "")
    unknown = "/v2.0/routers/00000000-0000-0000-0000-000000000000/remove_extraroutes"
    assert_error(world.client.put(unknown, json={"router": {"routes": []}}), 404, "RouterNotFound")
    assert_error(edit(world, router_id, "add", [ROUTE_A], project("other")), 404, "RouterNotFound")
    reader = {"X-Project-Id": "demo", "X-Roles": "reader"}
    owned = ok(world.client.post("/v2.0/routers", json={"router": {"name": "r"}}, headers=project("demo")), 201)
    refused = edit(world, owned["router"]["id"], "remove", [], reader)
    assert_error(refused, 403, "PolicyNotAuthorized", "remove_extraroutes")
    assert world.client.get(path).status_code == 405


def test_hostile_extraroute_requests(world: World) -> None:
    hostile_requests(world)


def test_hostile_extraroute_requests_live(live_world: World) -> None:
    hostile_requests(live_world)


def l3_agent(world: World, zone: str = "nova") -> None:
    """Register an L3 agent in ``zone``: a router's zones are its hosting agent's (none without one)."""
    agent = {"host": "node-az", "agent_type": "L3 agent", "availability_zone": zone}
    assert world.client.post("/v2.0/floatnet/agents", json={"agent": agent}).status_code in (200, 201)


def test_extension_attributes_have_neutrons_defaults(world: World) -> None:
    router = ok(world.client.post("/v2.0/routers", json={"router": {"name": "r"}}), 201)["router"]
    assert router["ha"] is False and router["distributed"] is False and router["flavor_id"] is None
    assert router["availability_zone_hints"] == [] and router["availability_zones"] == []  # no L3 agent yet
    l3_agent(world)
    assert ok(world.client.get(f"/v2.0/routers/{router['id']}"))["router"]["availability_zones"] == ["nova"]
    member = ok(world.client.post("/v2.0/routers", json={"router": {}}, headers=project("demo")), 201)["router"]
    assert "ha" not in member and "distributed" not in member
    assert member["availability_zones"] == ["nova"] and member["flavor_id"] is None
    listed = ok(world.client.get("/v2.0/routers", params={"ha": "false", "distributed": "0"}))["routers"]
    assert {r["id"] for r in listed} == {router["id"], member["id"]}
    assert ok(world.client.get("/v2.0/routers", params={"ha": "true"}))["routers"] == []
    assert_error(world.client.get("/v2.0/routers", params={"ha": "maybe"}), 400, "HTTPBadRequest", "ha")


def extension_refusals(world: World) -> None:
    """``ha`` from non-admins, ``distributed`` true, flavors and unknown zones are refused as Neutron refuses
    them (``ha: true`` itself is l3-ha: tests/api/test_router_ha.py)."""
    routers = "/v2.0/routers"
    for name in ("ha", "distributed"):
        refused = world.client.post(routers, json={"router": {name: True}}, headers=project("demo"))
        assert_error(refused, 403, "PolicyNotAuthorized", f"create_router:{name}")
        assert_error(world.client.post(routers, json={"router": {name: "x"}}), 400, "HTTPBadRequest", name)
    refused = world.client.post(routers, json={"router": {"distributed": True}})
    assert_error(refused, 400, "BadRequest", "not available")
    router = ok(world.client.post(routers, json={"router": {"ha": False, "distributed": False}}), 201)["router"]
    converted = world.client.put(f"{routers}/{router['id']}", json={"router": {"ha": True}})
    assert_error(converted, 400, "BadRequest", "admin_state_up to False")  # l3-ha: only a router that is down
    flavor = "8fa2c2d4-7d3a-4b8e-9b59-0b7b7f6c1a11"
    assert_error(world.client.post(routers, json={"router": {"flavor_id": flavor}}), 404, "FlavorNotFound", flavor)
    assert_error(world.client.post(routers, json={"router": {"flavor_id": "x"}}), 400, "HTTPBadRequest", "flavor_id")
    change = {"router": {"availability_zone_hints": ["nova"]}}
    assert_error(world.client.put(f"{routers}/{router['id']}", json=change), 400, "HTTPBadRequest", "read-only")
    assert_error(world.client.post(routers, json=change), 404, "AvailabilityZoneNotFound", "nova")  # no agent in it
    l3_agent(world)
    for hints, status, kind in (
        (["zone9"], 404, "AvailabilityZoneNotFound"),
        (["nova", "nova"], 400, "HTTPBadRequest"),
        ("nova", 400, "HTTPBadRequest"),
        ([7], 400, "HTTPBadRequest"),
        (["z" * 256], 400, "InvalidInput"),
    ):
        body = {"router": {"availability_zone_hints": hints}}
        assert_error(world.client.post(routers, json=body), status, kind)
    hinted = ok(world.client.post(routers, json={"router": {"availability_zone_hints": ["nova"]}}), 201)
    assert hinted["router"]["availability_zone_hints"] == ["nova"]
    shown = ok(world.client.get(f"{routers}/{hinted['router']['id']}"))["router"]
    assert shown["availability_zone_hints"] == ["nova"]


def test_extension_refusals(world: World) -> None:
    extension_refusals(world)


def test_extension_refusals_live(live_world: World) -> None:
    extension_refusals(live_world)


def test_zone_comes_from_the_hosting_l3_agent(world: World) -> None:
    l3_agent(world, "zone-a")
    body = {"router": {"availability_zone_hints": ["zone-a"]}}
    router = ok(world.client.post("/v2.0/routers", json=body), 201)["router"]
    assert router["availability_zones"] == ["zone-a"]
    assert_error(world.client.post("/v2.0/routers", json={"router": {"availability_zone_hints": ["nova"]}}), 404,
                 "AvailabilityZoneNotFound")  # fmt: skip


def gateway_without_subnet(world: World) -> None:
    ext = {"name": "bare", "router:external": True, "provider:network_type": "vlan",
           "provider:physical_network": "public_eth2", "provider:segmentation_id": 77}  # fmt: skip
    bare = ok(world.client.post("/v2.0/networks", json={"network": ext}), 201)["network"]["id"]
    info = {"network_id": bare}
    router = ok(world.client.post("/v2.0/routers", json={"router": {"external_gateway_info": info}}), 201)
    gateway = router["router"]["external_gateway_info"]
    assert gateway["network_id"] == bare and gateway["external_fixed_ips"] == []
    ports = ok(world.client.get("/v2.0/ports", params={"device_id": router["router"]["id"]}))["ports"]
    assert [(p["device_owner"], p["fixed_ips"]) for p in ports] == [("network:router_gateway", [])]
    moved = world.set_gateway(router["router"]["id"], world.ext_net)["external_gateway_info"]
    assert moved["external_fixed_ips"][0]["subnet_id"] == world.ext_subnet
    assert world.set_gateway(router["router"]["id"], None)["external_gateway_info"] is None


def test_gateway_on_an_external_network_without_subnet(world: World) -> None:
    gateway_without_subnet(world)


def test_gateway_on_an_external_network_without_subnet_live(live_world: World) -> None:
    gateway_without_subnet(live_world)


def test_extensions_list_extraroute_atomic(world: World) -> None:
    aliases = {ext["alias"] for ext in ok(world.client.get("/v2.0/extensions"))["extensions"]}
    assert {"extraroute", "extraroute-atomic", "router_availability_zone", "l3-ha"} <= aliases
    assert not {"dvr", "l3-flavors"} & aliases


def test_agent_gets_a_router_whose_gateway_has_no_address_as_one_without_gateway(world: World) -> None:
    """The agent's router slice leaves out a gateway without addresses (nothing to plug an address or SNAT
    on), and the agent's parser accepts the result: no crash, no SNAT."""
    from floatnet.agent.desired import parse_router
    from floatnet.core.agent_protocol import router_slice

    ext = {"name": "bare", "router:external": True, "provider:network_type": "vlan",
           "provider:physical_network": "public_eth2", "provider:segmentation_id": 78}  # fmt: skip
    bare = ok(world.client.post("/v2.0/networks", json={"network": ext}), 201)["network"]["id"]
    router_id = world.router(gateway=False)
    world.set_gateway(router_id, bare)
    ok(edit(world, router_id, "add", [ROUTE_A]))
    core = world.client.app.state.core
    [view] = core.db.run(lambda s: router_slice.load(s, core.config, [router_id]), write=False)
    assert view["gateway"] is None and view["routes"] == [ROUTE_A] and len(view["interfaces"]) == 1
    parsed = parse_router(view)
    assert parsed.gateway is None and parsed.interfaces
