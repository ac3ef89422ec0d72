"""Floating IPs over the API: allocation, association rules, port details, deletion and change rows."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.l3_world import POOL_START, World, build, error, ok

NEUTRON_FIELDS = {
    "id", "tenant_id", "project_id", "floating_ip_address", "floating_network_id", "router_id", "port_id",
    "fixed_ip_address", "status", "description", "tags", "created_at", "updated_at", "revision_number",
    "port_details", "port_forwardings", "dns_name", "dns_domain",
}  # fmt: skip
MISSING = "6a1f0c8e-8a42-4f3e-9d0e-3cbd8e9b5f00"


@pytest.fixture
def world(app_client: Any) -> World:
    return build(app_client)


def changes_after(world: World, seq: int) -> list[dict[str, Any]]:
    return list(ok(world.client.get("/v2.0/floatnet/hosts/h/changes", params={"after": seq, "timeout": 0}))["changes"])


def last_seq(world: World) -> int:
    return int(ok(world.client.get("/v2.0/floatnet/hosts/h/changes", params={"timeout": 0}))["seq"])


def test_create_allocates_from_the_pool_with_its_own_port(world: World) -> None:
    fip = world.fip(description="web")
    assert set(fip) == NEUTRON_FIELDS
    assert fip["floating_ip_address"] == POOL_START and fip["status"] == "DOWN"
    assert fip["router_id"] is None and fip["port_id"] is None and fip["port_details"] is None
    assert fip["description"] == "web" and fip["floating_network_id"] == world.ext_net
    [port] = ok(world.client.get("/v2.0/ports", params={"device_owner": "network:floatingip"}))["ports"]
    assert port["device_id"] == fip["id"] and port["network_id"] == world.ext_net
    assert port["fixed_ips"] == [{"subnet_id": world.ext_subnet, "ip_address": POOL_START}]
    error(world.client.delete(f"/v2.0/ports/{port['id']}"), 409, "ServicePortInUse")
    ok(world.client.delete(f"/v2.0/floatingips/{fip['id']}"), 204)
    assert ok(world.client.get("/v2.0/ports", params={"device_owner": "network:floatingip"}))["ports"] == []
    error(world.client.get(f"/v2.0/floatingips/{fip['id']}"), 404, "FloatingIPNotFound")


def test_floating_network_must_be_external(world: World) -> None:
    body = {"floatingip": {"floating_network_id": world.net}}
    error(world.client.post("/v2.0/floatingips", json=body), 400, "BadRequest")
    body = {"floatingip": {"floating_network_id": MISSING}}
    error(world.client.post("/v2.0/floatingips", json=body), 404, "NetworkNotFound")
    error(world.client.post("/v2.0/floatingips", json={"floatingip": {}}), 400, "HTTPBadRequest")


def test_chosen_address(world: World) -> None:
    fip = world.fip(floating_ip_address="203.0.113.110")
    assert fip["floating_ip_address"] == "203.0.113.110"
    body = {"floatingip": {"floating_network_id": world.ext_net, "floating_ip_address": "203.0.113.110"}}
    error(world.client.post("/v2.0/floatingips", json=body), 409, "IpAddressAlreadyAllocated")
    body["floatingip"]["floating_ip_address"] = "198.51.100.7"
    error(world.client.post("/v2.0/floatingips", json=body), 400, "InvalidIpForNetwork")
    body["floatingip"]["floating_ip_address"] = "203.0.113.1"
    error(world.client.post("/v2.0/floatingips", json=body), 409, "IpAddressAlreadyAllocated")
    assert len(ok(world.client.get("/v2.0/floatingips"))["floatingips"]) == 1


def test_pool_exhaustion_is_a_clean_409(app_client: Any) -> None:
    world = build(app_client, pool=("203.0.113.100", "203.0.113.104"))
    addresses = {world.fip()["floating_ip_address"] for _ in range(5)}
    assert len(addresses) == 5
    error(world.client.post("/v2.0/floatingips", json={"floatingip": {"floating_network_id": world.ext_net}}),
          409, "IpAddressGenerationFailure")  # fmt: skip
    assert len(ok(world.client.get("/v2.0/floatingips"))["floatingips"]) == 5


def test_associate_at_create_computes_router_and_port_details(world: World) -> None:
    router_id = world.router()
    port = world.port(name="vm1")
    fip = world.fip(port_id=port["id"])
    assert fip["router_id"] == router_id and fip["port_id"] == port["id"]
    assert fip["fixed_ip_address"] == port["fixed_ips"][0]["ip_address"] and fip["status"] == "DOWN"
    details = fip["port_details"]
    assert details == {
        "name": "vm1", "network_id": world.net, "mac_address": port["mac_address"], "admin_state_up": True,
        "status": port["status"], "device_id": "", "device_owner": "",
    }  # fmt: skip


def test_no_router_to_the_external_network(world: World) -> None:
    world.router(gateway=False)
    port = world.port()
    body = {"floatingip": {"floating_network_id": world.ext_net, "port_id": port["id"]}}
    error(world.client.post("/v2.0/floatingips", json=body), 404, "ExternalGatewayForFloatingIPNotFound")
    assert ok(world.client.get("/v2.0/floatingips"))["floatingips"] == []
    assert ok(world.client.get("/v2.0/ports", params={"device_owner": "network:floatingip"}))["ports"] == []


def test_associate_disassociate_reassociate(world: World) -> None:
    router_id = world.router()
    first, second = world.port(), world.port()
    fip = world.fip()
    moved = ok(world.associate(fip["id"], first["id"]))["floatingip"]
    assert moved["port_id"] == first["id"] and moved["router_id"] == router_id and moved["revision_number"] == 1
    moved = ok(world.associate(fip["id"], second["id"]))["floatingip"]
    assert moved["port_id"] == second["id"] and moved["fixed_ip_address"] == second["fixed_ips"][0]["ip_address"]
    cleared = ok(world.associate(fip["id"], None))["floatingip"]
    assert cleared["port_id"] is None and cleared["router_id"] is None and cleared["fixed_ip_address"] is None
    assert cleared["port_details"] is None


def test_multi_ip_port_needs_fixed_ip_address(world: World) -> None:
    world.router()
    port = world.port(fixed_ips=[{"subnet_id": world.subnet}, {"subnet_id": world.subnet}])
    fip = world.fip()
    error(world.associate(fip["id"], port["id"]), 400, "BadRequest")
    error(world.associate(fip["id"], port["id"], fixed_ip_address="10.0.0.250"), 400, "BadRequest")
    second = port["fixed_ips"][1]["ip_address"]
    assert (
        ok(world.associate(fip["id"], port["id"], fixed_ip_address=second))["floatingip"]["fixed_ip_address"] == second
    )
    other = world.fip()
    error(
        world.associate(other["id"], port["id"], fixed_ip_address=second),
        409,
        "FloatingIPPortAlreadyAssociated",
    )
    first = port["fixed_ips"][0]["ip_address"]
    ok(world.associate(other["id"], port["id"], fixed_ip_address=first))
    body = {"floatingip": {"fixed_ip_address": first}}
    error(world.client.put(f"/v2.0/floatingips/{fip['id']}", json=body), 400, "BadRequest")


def test_only_the_dhcp_port_cannot_take_a_floating_ip(world: World) -> None:
    """Neutron's ``is_fip_serviced``: the DHCP port is refused, every other owner (router interfaces too) not."""
    router_id = world.router()
    owned = {"device_owner": "network:router_interface"}
    interface = ok(world.client.get("/v2.0/ports", params=owned))["ports"][0]
    fip = ok(world.associate(world.fip()["id"], interface["id"]))["floatingip"]
    assert fip["router_id"] == router_id and fip["fixed_ip_address"] == interface["fixed_ips"][0]["ip_address"]
    dhcp = ok(world.client.get("/v2.0/ports", params={"device_owner": "network:dhcp"}))["ports"][0]
    body = error(world.associate(world.fip()["id"], dhcp["id"]), 400, "BadRequest")
    assert body["message"] == f"Bad floatingip request: Port {dhcp['id']} is unable to be assigned a floating IP."
    error(world.associate(world.fip()["id"], MISSING), 404, "PortNotFound")


def test_deleting_the_port_disassociates(world: World) -> None:
    world.router()
    port = world.port()
    fip = world.fip(port_id=port["id"])
    seq = last_seq(world)
    ok(world.client.delete(f"/v2.0/ports/{port['id']}"), 204)
    shown = ok(world.client.get(f"/v2.0/floatingips/{fip['id']}"))["floatingip"]
    assert shown["port_id"] is None and shown["router_id"] is None and shown["status"] == "DOWN"
    assert any(c["kind"] == "floatingip" and c["id"] == fip["id"] for c in changes_after(world, seq))


def test_move_between_routers_logs_both(world: World) -> None:
    first_router = world.router("r1")
    net2, subnet2 = world.network("n2", "10.2.0.0/24")
    second_router = world.router("r2", interface=False)
    world.add_interface(second_router, subnet_id=subnet2)
    fip = world.fip(port_id=world.port()["id"])
    seq = last_seq(world)
    moved = ok(world.associate(fip["id"], world.port(net2)["id"]))["floatingip"]
    assert moved["router_id"] == second_router
    rows = [c for c in changes_after(world, seq) if c["kind"] == "floatingip"]
    assert {c["router_id"] for c in rows} == {first_router, second_router}


def test_router_refuses_to_drop_what_a_floating_ip_needs(world: World) -> None:
    router_id = world.router()
    fip = world.fip(port_id=world.port()["id"])
    body = {"router": {"external_gateway_info": None}}
    error(
        world.client.put(f"/v2.0/routers/{router_id}", json=body),
        409,
        "RouterExternalGatewayInUseByFloatingIp",
    )
    remove = f"/v2.0/routers/{router_id}/remove_router_interface"
    error(world.client.put(remove, json={"subnet_id": world.subnet}), 409, "RouterInterfaceInUseByFloatingIP")
    ok(world.associate(fip["id"], None))
    ok(world.client.put(remove, json={"subnet_id": world.subnet}))
    assert world.set_gateway(router_id, None)["external_gateway_info"] is None


def test_list_filters_and_fields(world: World) -> None:
    world.router()
    port = world.port()
    bound = world.fip(port_id=port["id"])
    world.fip()
    by_port = ok(world.client.get("/v2.0/floatingips", params={"port_id": port["id"]}))["floatingips"]
    assert [f["id"] for f in by_port] == [bound["id"]]
    address = {"floating_ip_address": bound["floating_ip_address"]}
    by_address = ok(world.client.get("/v2.0/floatingips", params=address))["floatingips"]
    assert [f["id"] for f in by_address] == [bound["id"]]
    fields = ok(world.client.get("/v2.0/floatingips", params={"fields": ["id", "status"]}))["floatingips"]
    assert all(set(item) == {"id", "status"} for item in fields) and len(fields) == 2


def test_status_report_sets_active_without_revision_bump(world: World) -> None:
    world.router()
    fip = world.fip(port_id=world.port()["id"])
    body = {"floatingips": {fip["id"]: "ACTIVE", MISSING: "ACTIVE"}}
    answer = ok(world.client.put("/v2.0/floatnet/hosts/h/status", json=body))
    assert answer["changed"]["floatingips"] == 1
    shown = ok(world.client.get(f"/v2.0/floatingips/{fip['id']}"))["floatingip"]
    assert shown["status"] == "ACTIVE" and shown["revision_number"] == fip["revision_number"]
    assert ok(world.client.put("/v2.0/floatnet/hosts/h/status", json=body))["changed"]["floatingips"] == 0
    moved = ok(world.associate(fip["id"], world.port()["id"]))["floatingip"]
    assert moved["status"] == "DOWN"


def test_projects_are_isolated(world: World) -> None:
    fip = world.fip()
    alice = {"X-Project-Id": "alice", "X-Roles": "member"}
    assert ok(world.client.get("/v2.0/floatingips", headers=alice))["floatingips"] == []
    error(world.client.get(f"/v2.0/floatingips/{fip['id']}", headers=alice), 404, "FloatingIPNotFound")
    body = {"floatingip": {"floating_network_id": world.ext_net}}
    own = ok(world.client.post("/v2.0/floatingips", json=body, headers=alice), 201)["floatingip"]
    assert own["project_id"] == "alice"
    admin_port = world.port()
    body = {"floatingip": {"port_id": admin_port["id"]}}
    error(world.client.put(f"/v2.0/floatingips/{own['id']}", json=body, headers=alice), 404, "PortNotFound")
