"""Routers over the API: CRUD, gateway, interfaces, extra routes and Neutron's refusals."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.l3_world import POOL_END, POOL_START, World, build, error, ok


@pytest.fixture
def world(app_client: Any) -> World:
    return build(app_client)


def ports_of(world: World, **filters: str) -> list[dict[str, Any]]:
    return list(ok(world.client.get("/v2.0/ports", params=filters))["ports"])


def test_router_crud_fields(world: World) -> None:
    client = world.client
    body = {"name": "r1", "description": "d", "tags": ["blue"]}
    router = ok(client.post("/v2.0/routers", json={"router": body}), 201)["router"]
    assert router["external_gateway_info"] is None
    assert router["routes"] == [] and router["status"] == "ACTIVE" and router["admin_state_up"] is True
    assert router["tags"] == ["blue"] and router["revision_number"] == 0
    assert router["tenant_id"] == router["project_id"] == "admin"
    assert router["created_at"].endswith("Z")
    updated = ok(client.put(f"/v2.0/routers/{router['id']}", json={"router": {"name": "r2", "admin_state_up": False}}))
    assert updated["router"]["name"] == "r2" and updated["router"]["revision_number"] == 1
    listed = ok(client.get("/v2.0/routers", params={"name": "r2"}))["routers"]
    assert [r["id"] for r in listed] == [router["id"]]
    assert ok(client.get(f"/v2.0/routers/{router['id']}"))["router"]["admin_state_up"] is False
    ok(client.delete(f"/v2.0/routers/{router['id']}"), 204)
    error(client.get(f"/v2.0/routers/{router['id']}"), 404, "RouterNotFound")


def test_routes_cannot_be_given_at_create(world: World) -> None:
    body = {"router": {"name": "r", "routes": []}}
    error(world.client.post("/v2.0/routers", json=body), 400, "HTTPBadRequest")


def test_interface_by_subnet_takes_the_gateway_ip(world: World) -> None:
    router_id = world.router(gateway=False, interface=False)
    info = world.add_interface(router_id, subnet_id=world.subnet)
    assert info["id"] == router_id and info["subnet_id"] == world.subnet and info["subnet_ids"] == [world.subnet]
    assert info["network_id"] == world.net
    port = ok(world.client.get(f"/v2.0/ports/{info['port_id']}"))["port"]
    assert port["device_owner"] == "network:router_interface" and port["device_id"] == router_id
    assert port["fixed_ips"] == [{"subnet_id": world.subnet, "ip_address": "10.0.0.1"}]
    router = ok(world.client.get(f"/v2.0/routers/{router_id}"))["router"]
    assert router["revision_number"] == 1


def test_interface_refusals(world: World) -> None:
    client = world.client
    router_id = world.router(gateway=False)
    url = f"/v2.0/routers/{router_id}/add_router_interface"
    error(client.put(url, json={"subnet_id": world.subnet}), 400, "BadRequest")
    _, overlapping = world.network("other", "10.0.0.0/25")
    message = error(client.put(url, json={"subnet_id": overlapping}), 400, "BadRequest")["message"]
    assert "overlaps" in message
    _, no_gateway = world.network("nogw", "10.9.0.0/24", gateway_ip=None)
    message = error(client.put(url, json={"subnet_id": no_gateway}), 400, "BadRequest")["message"]
    assert "gateway IP" in message
    error(client.put(url, json={}), 400, "BadRequest")
    error(client.put(url, json={"subnet_id": world.subnet, "port_id": world.port()["id"]}), 400, "BadRequest")
    busy = world.port(device_id="vm-1", device_owner="compute:nova")
    error(client.put(url, json={"port_id": busy["id"]}), 409, "PortInUse")
    error(client.put(url, json={"subnet_id": "6a1f0c8e-8a42-4f3e-9d0e-3cbd8e9b5f00"}), 404, "SubnetNotFound")
    missing = "/v2.0/routers/6a1f0c8e-8a42-4f3e-9d0e-3cbd8e9b5f00/add_router_interface"
    error(client.put(missing, json={"subnet_id": world.subnet}), 404, "RouterNotFound")


def test_interface_by_port_and_removal_by_port(world: World) -> None:
    client = world.client
    router_id = world.router(gateway=False, interface=False)
    net, subnet = world.network("n2", "10.2.0.0/24")
    port = world.port(net, fixed_ips=[{"subnet_id": subnet, "ip_address": "10.2.0.254"}])
    info = world.add_interface(router_id, port_id=port["id"])
    assert info["port_id"] == port["id"] and info["subnet_id"] == subnet
    shown = ok(client.get(f"/v2.0/ports/{port['id']}"))["port"]
    assert shown["device_owner"] == "network:router_interface" and shown["device_id"] == router_id
    url = f"/v2.0/routers/{router_id}/remove_router_interface"
    error(client.put(url, json={"port_id": world.port()["id"]}), 404, "RouterInterfaceNotFound")
    error(client.put(url, json={"subnet_id": world.subnet}), 404, "RouterInterfaceNotFoundForSubnet")
    assert ok(client.put(url, json={"port_id": port["id"]}))["port_id"] == port["id"]
    error(client.get(f"/v2.0/ports/{port['id']}"), 404, "PortNotFound")


def test_delete_with_interface_is_router_in_use(world: World) -> None:
    client = world.client
    router_id = world.router()
    error(client.delete(f"/v2.0/routers/{router_id}"), 409, "RouterInUse")
    ok(client.put(f"/v2.0/routers/{router_id}/remove_router_interface", json={"subnet_id": world.subnet}))
    assert ports_of(world, device_owner="network:router_interface") == []
    ok(client.delete(f"/v2.0/routers/{router_id}"), 204)
    assert ports_of(world, device_owner="network:router_gateway") == []


def test_gateway_set_and_clear(world: World) -> None:
    router_id = world.router(gateway=False)
    router = world.set_gateway(router_id, world.ext_net)
    gateway = router["external_gateway_info"]
    assert gateway["network_id"] == world.ext_net and gateway["enable_snat"] is True
    [fixed] = gateway["external_fixed_ips"]
    assert fixed["subnet_id"] == world.ext_subnet and fixed["ip_address"] == POOL_START
    [port] = ports_of(world, device_owner="network:router_gateway")
    assert port["device_id"] == router_id and port["network_id"] == world.ext_net
    router = world.set_gateway(router_id, world.ext_net, enable_snat=False)
    assert router["external_gateway_info"]["enable_snat"] is False
    assert router["external_gateway_info"]["external_fixed_ips"] == gateway["external_fixed_ips"]
    assert world.set_gateway(router_id, None)["external_gateway_info"] is None
    assert ports_of(world, device_owner="network:router_gateway") == []


def test_gateway_with_chosen_address(world: World) -> None:
    router = ok(world.client.post("/v2.0/routers", json={"router": {"name": "g"}}), 201)["router"]
    fixed = [{"subnet_id": world.ext_subnet, "ip_address": POOL_END}]
    gateway = world.set_gateway(router["id"], world.ext_net, external_fixed_ips=fixed)["external_gateway_info"]
    assert gateway["external_fixed_ips"] == fixed
    other = ok(world.client.post("/v2.0/routers", json={"router": {"name": "h"}}), 201)["router"]
    body = {"router": {"external_gateway_info": {"network_id": world.ext_net, "external_fixed_ips": fixed}}}
    error(world.client.put(f"/v2.0/routers/{other['id']}", json=body), 409, "IpAddressAlreadyAllocated")
    assert ok(world.client.get(f"/v2.0/routers/{other['id']}"))["router"]["external_gateway_info"] is None


def test_gateway_on_internal_network_is_refused(world: World) -> None:
    router = ok(world.client.post("/v2.0/routers", json={"router": {"name": "g"}}), 201)["router"]
    body = {"router": {"external_gateway_info": {"network_id": world.net}}}
    message = error(world.client.put(f"/v2.0/routers/{router['id']}", json=body), 400, "BadRequest")["message"]
    assert "not an external network" in message
    create: dict[str, Any] = {"router": {"name": "x", "external_gateway_info": {"network_id": world.net}}}
    error(world.client.post("/v2.0/routers", json=create), 400, "BadRequest")
    assert [r["name"] for r in ok(world.client.get("/v2.0/routers"))["routers"]] == ["g"]


def test_create_with_gateway(world: World) -> None:
    body = {"router": {"name": "gw", "external_gateway_info": {"network_id": world.ext_net, "enable_snat": False}}}
    router = ok(world.client.post("/v2.0/routers", json=body), 201)["router"]
    assert router["external_gateway_info"]["enable_snat"] is False
    assert router["external_gateway_info"]["external_fixed_ips"][0]["ip_address"] == POOL_START


def test_extra_routes(world: World) -> None:
    client = world.client
    router_id = world.router()
    url = f"/v2.0/routers/{router_id}"
    routes = [{"destination": "192.0.2.0/24", "nexthop": "10.0.0.7"}]
    assert ok(client.put(url, json={"router": {"routes": routes}}))["router"]["routes"] == routes
    bad = [{"destination": "192.0.2.0/24", "nexthop": "10.77.0.1"}]
    error(client.put(url, json={"router": {"routes": bad}}), 400, "InvalidRoutes")
    own = [{"destination": "192.0.2.0/24", "nexthop": "10.0.0.1"}]
    error(client.put(url, json={"router": {"routes": own}}), 400, "InvalidRoutes")
    error(client.put(url, json={"router": {"routes": [{"destination": "x"}]}}), 400, "HTTPBadRequest")
    remove = f"{url}/remove_router_interface"
    error(client.put(remove, json={"subnet_id": world.subnet}), 409, "RouterInterfaceInUseByRoute")
    assert ok(client.put(url, json={"router": {"routes": None}}))["router"]["routes"] == []
    ok(client.put(remove, json={"subnet_id": world.subnet}))


def test_other_projects_cannot_see_or_touch(world: World) -> None:
    router_id = world.router(gateway=False, interface=False)
    alice = {"X-Project-Id": "alice", "X-Roles": "member"}
    error(world.client.get(f"/v2.0/routers/{router_id}", headers=alice), 404, "RouterNotFound")
    error(world.client.delete(f"/v2.0/routers/{router_id}", headers=alice), 404, "RouterNotFound")
    assert ok(world.client.get("/v2.0/routers", headers=alice))["routers"] == []
    own = ok(world.client.post("/v2.0/routers", json={"router": {"name": "a"}}, headers=alice), 201)["router"]
    assert own["project_id"] == "alice"
    body = {"router": {"external_gateway_info": {"network_id": world.ext_net, "enable_snat": False}}}
    error(world.client.put(f"/v2.0/routers/{own['id']}", json=body, headers=alice), 403, "PolicyNotAuthorized")


def test_router_changes_name_the_router(world: World) -> None:
    before = ok(world.client.get("/v2.0/floatnet/hosts/h/changes", params={"timeout": 0}))["seq"]
    router_id = world.router()
    batch = ok(world.client.get("/v2.0/floatnet/hosts/h/changes", params={"after": before, "timeout": 0}))
    router_rows = [c for c in batch["changes"] if c["kind"] == "router"]
    assert router_rows and all(c["router_id"] == router_id for c in router_rows)
    assert {c["op"] for c in router_rows} == {"create", "update"}
