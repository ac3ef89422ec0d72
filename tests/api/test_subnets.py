"""Subnets over the API: defaults, pools, gateway, overlap, DHCP port, deletion."""

from __future__ import annotations

from typing import Any

from tests.api.helpers import assert_error, network, port, project, subnet


def _dhcp_ports(client: Any, network_id: str) -> list[dict[str, Any]]:
    params = {"network_id": network_id, "device_owner": "network:dhcp"}
    return list(client.get("/v2.0/ports", params=params).json()["ports"])


def test_defaults(app_client: Any) -> None:
    net = network(app_client)
    sub = subnet(app_client, net["id"], "10.0.0.0/24", name="s")
    assert sub["gateway_ip"] == "10.0.0.1"
    assert sub["allocation_pools"] == [{"start": "10.0.0.2", "end": "10.0.0.254"}]
    assert sub["enable_dhcp"] is True and sub["dns_nameservers"] == [] and sub["host_routes"] == []
    assert app_client.get(f"/v2.0/networks/{net['id']}").json()["network"]["subnets"] == [sub["id"]]


def test_seed_subnet_with_pool_and_gateway(app_client: Any) -> None:
    net = network(app_client)
    sub = subnet(
        app_client,
        net["id"],
        "172.24.4.0/24",
        gateway_ip="172.24.4.254",
        allocation_pools=[{"start": "172.24.4.100", "end": "172.24.4.200"}],
        enable_dhcp=False,
        dns_nameservers=["192.0.2.53", "192.0.2.54"],
        host_routes=[{"destination": "192.0.2.0/24", "nexthop": "172.24.4.1"}],
    )
    assert sub["allocation_pools"] == [{"start": "172.24.4.100", "end": "172.24.4.200"}]
    assert sub["dns_nameservers"] == ["192.0.2.53", "192.0.2.54"]
    assert _dhcp_ports(app_client, net["id"]) == []
    assert port(app_client, net["id"])["fixed_ips"][0]["ip_address"] == "172.24.4.100"


def test_gateway_in_middle_splits_default_pool_and_null_gateway(app_client: Any) -> None:
    net = network(app_client)
    sub = subnet(app_client, net["id"], "10.1.0.0/29", gateway_ip="10.1.0.3")
    assert sub["allocation_pools"] == [
        {"start": "10.1.0.1", "end": "10.1.0.2"},
        {"start": "10.1.0.4", "end": "10.1.0.6"},
    ]
    nogw = subnet(app_client, net["id"], "10.2.0.0/30", gateway_ip=None)
    assert nogw["gateway_ip"] is None
    assert nogw["allocation_pools"] == [{"start": "10.2.0.1", "end": "10.2.0.2"}]


def test_pool_errors(app_client: Any) -> None:
    net = network(app_client)
    url = "/v2.0/subnets"

    def post(**attrs: Any) -> Any:
        body = {"network_id": net["id"], "cidr": "10.0.0.0/24", "ip_version": 4, **attrs}
        return app_client.post(url, json={"subnet": body})

    outside = post(allocation_pools=[{"start": "10.0.0.10", "end": "10.0.1.5"}])
    assert_error(outside, 400, "OutOfBoundsAllocationPool")
    reversed_pool = post(allocation_pools=[{"start": "10.0.0.20", "end": "10.0.0.10"}])
    assert_error(reversed_pool, 400, "InvalidAllocationPool")
    overlapping = [{"start": "10.0.0.10", "end": "10.0.0.20"}, {"start": "10.0.0.15", "end": "10.0.0.30"}]
    assert_error(post(allocation_pools=overlapping), 409, "OverlappingAllocationPools")
    gw_inside = post(gateway_ip="10.0.0.15", allocation_pools=[{"start": "10.0.0.10", "end": "10.0.0.20"}])
    assert_error(gw_inside, 409, "GatewayConflictWithAllocationPools")
    assert_error(post(gateway_ip="10.0.0.0"), 400, "InvalidInput", "Gateway is not valid")
    assert_error(post(gateway_ip="10.0.0.255"), 400, "InvalidInput", "Gateway is not valid")
    assert_error(post(cidr="10.0.0.1/24"), 400, "HTTPBadRequest", "Invalid input for cidr")
    assert_error(post(ip_version=6), 400, "InvalidInput", "does not match")
    assert_error(post(dns_nameservers=["1.1.1.1", "1.1.1.1"]), 400, "HTTPBadRequest", "Duplicate")
    assert app_client.get("/v2.0/subnets").json()["subnets"] == []


def test_overlapping_cidrs_on_one_network(app_client: Any) -> None:
    net = network(app_client)
    subnet(app_client, net["id"], "10.0.0.0/16")
    body = {"network_id": net["id"], "cidr": "10.0.5.0/24", "ip_version": 4}
    response = app_client.post("/v2.0/subnets", json={"subnet": body})
    assert_error(response, 400, "InvalidInput", "overlaps with another subnet")
    other = network(app_client)
    assert subnet(app_client, other["id"], "10.0.5.0/24")["cidr"] == "10.0.5.0/24"


def test_dhcp_port_follows_enable_dhcp(app_client: Any) -> None:
    net = network(app_client)
    sub_a = subnet(app_client, net["id"], "10.0.0.0/24")
    [dhcp] = _dhcp_ports(app_client, net["id"])
    assert dhcp["device_id"].startswith("dhcp") and dhcp["device_id"].endswith(net["id"])
    assert dhcp["fixed_ips"] == [{"subnet_id": sub_a["id"], "ip_address": "10.0.0.2"}]
    sub_b = subnet(app_client, net["id"], "10.0.1.0/24")
    [dhcp] = _dhcp_ports(app_client, net["id"])
    assert {ip["subnet_id"] for ip in dhcp["fixed_ips"]} == {sub_a["id"], sub_b["id"]}
    off = {"subnet": {"enable_dhcp": False}}
    assert app_client.put(f"/v2.0/subnets/{sub_a['id']}", json=off).status_code == 200
    [dhcp] = _dhcp_ports(app_client, net["id"])
    assert [ip["subnet_id"] for ip in dhcp["fixed_ips"]] == [sub_b["id"]]
    assert app_client.delete(f"/v2.0/subnets/{sub_b['id']}").status_code == 204
    assert _dhcp_ports(app_client, net["id"]) == []


def test_delete_subnet_in_use(app_client: Any) -> None:
    net = network(app_client)
    sub = subnet(app_client, net["id"], "10.0.0.0/24")
    vm = port(app_client, net["id"])
    assert_error(app_client.delete(f"/v2.0/subnets/{sub['id']}"), 409, "SubnetInUse")
    app_client.delete(f"/v2.0/ports/{vm['id']}")
    assert app_client.delete(f"/v2.0/subnets/{sub['id']}").status_code == 204


def test_update_pools_and_read_only(app_client: Any) -> None:
    net = network(app_client)
    sub = subnet(app_client, net["id"], "10.0.0.0/24")
    url = f"/v2.0/subnets/{sub['id']}"
    pools = {"subnet": {"allocation_pools": [{"start": "10.0.0.50", "end": "10.0.0.60"}]}}
    updated = app_client.put(url, json=pools).json()["subnet"]
    assert updated["allocation_pools"] == [{"start": "10.0.0.50", "end": "10.0.0.60"}]
    assert updated["revision_number"] == 1
    assert port(app_client, net["id"])["fixed_ips"][0]["ip_address"] == "10.0.0.50"
    cidr = app_client.put(url, json={"subnet": {"cidr": "10.9.0.0/24"}})
    assert_error(cidr, 400, "HTTPBadRequest", "Cannot update read-only attribute cidr")


def test_subnet_on_foreign_network(app_client: Any) -> None:
    alice, bob = project("alice"), project("bob")
    net = network(app_client, alice)
    body = {"network_id": net["id"], "cidr": "10.0.0.0/24", "ip_version": 4}
    assert_error(app_client.post("/v2.0/subnets", json={"subnet": body}, headers=bob), 404, "NetworkNotFound")
    sub = subnet(app_client, net["id"], "10.0.0.0/24", alice)
    assert_error(app_client.get(f"/v2.0/subnets/{sub['id']}", headers=bob), 404, "SubnetNotFound")
    assert app_client.get("/v2.0/subnets", headers=bob).json()["subnets"] == []


def test_gateway_held_by_router_interface_cannot_move(app_client: Any) -> None:
    net = network(app_client)
    sub = subnet(app_client, net["id"], "10.0.0.0/24", enable_dhcp=False)
    url = f"/v2.0/subnets/{sub['id']}"
    held = port(app_client, net["id"], device_owner="network:router_interface", fixed_ips=[{"ip_address": "10.0.0.1"}])
    assert_error(app_client.put(url, json={"subnet": {"gateway_ip": "10.0.0.254"}}), 409, "GatewayIpInUse")
    app_client.put(f"/v2.0/ports/{held['id']}", json={"port": {"device_owner": ""}})
    app_client.delete(f"/v2.0/ports/{held['id']}")
    moved = app_client.put(url, json={"subnet": {"gateway_ip": "10.0.0.254", "allocation_pools": [
        {"start": "10.0.0.2", "end": "10.0.0.200"}]}})  # fmt: skip
    assert moved.status_code == 200, moved.text
    assert moved.json()["subnet"]["gateway_ip"] == "10.0.0.254"
