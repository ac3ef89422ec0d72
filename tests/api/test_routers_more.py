"""More router and floating IP rules: gateway moves, fixed gateway addresses, route limits, pools by subnet."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.l3_world import World, build, error, ok


@pytest.fixture
def world(app_client: Any) -> World:
    return build(app_client)


def second_external(world: World) -> tuple[str, str]:
    ext = {"name": "public2", "router:external": True, "provider:network_type": "vlan",
           "provider:physical_network": "public_eth2", "provider:segmentation_id": 42}  # fmt: skip
    net = ok(world.client.post("/v2.0/networks", json={"network": ext}), 201)["network"]["id"]
    body = {"network_id": net, "cidr": "198.51.100.0/24", "ip_version": 4, "enable_dhcp": False}
    return net, ok(world.client.post("/v2.0/subnets", json={"subnet": body}), 201)["subnet"]["id"]


def test_gateway_cannot_move_away_from_floating_ips(world: World) -> None:
    router_id = world.router()
    other_net, _ = second_external(world)
    fip = world.fip(port_id=world.port()["id"])
    body = {"router": {"external_gateway_info": {"network_id": other_net}}}
    error(world.client.put(f"/v2.0/routers/{router_id}", json=body), 409, "RouterExternalGatewayInUseByFloatingIp")
    ok(world.associate(fip["id"], None))
    moved = ok(world.client.put(f"/v2.0/routers/{router_id}", json=body))["router"]["external_gateway_info"]
    assert moved["network_id"] == other_net
    assert moved["external_fixed_ips"][0]["ip_address"].startswith("198.51.100.")
    gateways = ok(world.client.get("/v2.0/ports", params={"device_owner": "network:router_gateway"}))["ports"]
    assert [p["network_id"] for p in gateways] == [other_net]


def test_gateway_address_change_keeps_floating_ips(world: World) -> None:
    router_id = world.router()
    fip = world.fip(port_id=world.port()["id"])
    wanted = [{"subnet_id": world.ext_subnet, "ip_address": "203.0.113.118"}]
    gateway = world.set_gateway(router_id, world.ext_net, external_fixed_ips=wanted)["external_gateway_info"]
    assert gateway["external_fixed_ips"] == wanted
    assert ok(world.client.get(f"/v2.0/floatingips/{fip['id']}"))["floatingip"]["router_id"] == router_id


def test_route_limit(world: World) -> None:
    router_id = world.router()
    routes = [{"destination": f"192.0.2.{i}/32", "nexthop": "10.0.0.7"} for i in range(31)]
    body = {"router": {"routes": routes}}
    error(world.client.put(f"/v2.0/routers/{router_id}", json=body), 400, "RoutesExhausted")
    body = {"router": {"routes": routes[:30]}}
    assert len(ok(world.client.put(f"/v2.0/routers/{router_id}", json=body))["router"]["routes"]) == 30


def test_floating_ip_from_a_chosen_subnet(world: World) -> None:
    body = {"network_id": world.ext_net, "cidr": "203.0.114.0/24", "ip_version": 4, "enable_dhcp": False}
    second = ok(world.client.post("/v2.0/subnets", json={"subnet": body}), 201)["subnet"]["id"]
    fip = world.fip(subnet_id=second)
    assert fip["floating_ip_address"].startswith("203.0.114.")
    body = {"floatingip": {"floating_network_id": world.ext_net, "subnet_id": world.subnet}}
    error(world.client.post("/v2.0/floatingips", json=body), 400, "InvalidInput")


def test_interface_and_gateway_ports_cannot_be_deleted_directly(world: World) -> None:
    world.router()
    for owner in ("network:router_interface", "network:router_gateway"):
        [port] = ok(world.client.get("/v2.0/ports", params={"device_owner": owner}))["ports"]
        assert world.client.delete(f"/v2.0/ports/{port['id']}").status_code == 409


def test_subnet_with_router_interface_cannot_be_deleted(world: World) -> None:
    world.router()
    assert world.client.delete(f"/v2.0/subnets/{world.subnet}").status_code == 409
    assert world.client.delete(f"/v2.0/networks/{world.ext_net}").status_code == 409


def test_failed_gateway_leaves_nothing_behind(world: World) -> None:
    full = build_full_pool(world)
    router = ok(world.client.post("/v2.0/routers", json={"router": {"name": "late"}}), 201)["router"]
    body = {"router": {"external_gateway_info": {"network_id": full}}}
    error(world.client.put(f"/v2.0/routers/{router['id']}", json=body), 409, "IpAddressGenerationFailure")
    assert ok(world.client.get(f"/v2.0/routers/{router['id']}"))["router"]["external_gateway_info"] is None
    assert ok(world.client.get("/v2.0/ports", params={"device_owner": "network:router_gateway"}))["ports"] == []


def build_full_pool(world: World) -> str:
    """An external network whose one-address pool is already used by a floating IP."""
    ext = {"name": "tiny", "router:external": True, "provider:network_type": "vlan",
           "provider:physical_network": "public_eth2", "provider:segmentation_id": 43}  # fmt: skip
    net = ok(world.client.post("/v2.0/networks", json={"network": ext}), 201)["network"]["id"]
    body = {"network_id": net, "cidr": "192.0.2.0/24", "ip_version": 4, "enable_dhcp": False,
            "allocation_pools": [{"start": "192.0.2.10", "end": "192.0.2.10"}]}  # fmt: skip
    ok(world.client.post("/v2.0/subnets", json={"subnet": body}), 201)
    ok(world.client.post("/v2.0/floatingips", json={"floatingip": {"floating_network_id": net}}), 201)
    return str(net)
