"""Ports over the API: fixed IPs, MACs, binding, errors, scoping."""

from __future__ import annotations

from typing import Any

from tests.api.helpers import assert_error, network, port, project, subnet


def _net_with_subnet(client: Any, cidr: str = "10.0.0.0/24", **attrs: Any) -> tuple[dict, dict]:
    net = network(client)
    return net, subnet(client, net["id"], cidr, enable_dhcp=False, **attrs)


def test_defaults(app_client: Any) -> None:
    net, sub = _net_with_subnet(app_client)
    created = port(app_client, net["id"], name="vm1")
    assert created["status"] == "DOWN" and created["admin_state_up"] is True
    assert created["mac_address"].startswith("fa:16:3e:")
    assert created["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "10.0.0.2"}]
    assert created["binding:vif_type"] == "unbound" and created["binding:vif_details"] == {}
    assert created["binding:vnic_type"] == "normal" and created["device_owner"] == ""
    assert app_client.get(f"/v2.0/ports/{created['id']}").json()["port"] == created


def test_binding_uses_bridge_mappings(app_client: Any) -> None:
    net, _ = _net_with_subnet(app_client)
    bound = port(app_client, net["id"], **{"binding:host_id": "node1"})
    assert bound["binding:vif_type"] == "ovs"
    details = bound["binding:vif_details"]
    assert details["bridge_name"] == "br-eth1" and details["port_filter"] is True and details["ovs_hybrid_plug"] is True
    assert details["datapath_type"] in ("system", "netdev")
    flat = network(app_client, **{"provider:network_type": "flat", "provider:physical_network": "physnet_flat"})
    unmapped = port(app_client, flat["id"], **{"binding:host_id": "node1"})
    assert unmapped["binding:vif_type"] == "binding_failed"
    unbind = {"port": {"binding:host_id": ""}}
    updated = app_client.put(f"/v2.0/ports/{bound['id']}", json=unbind).json()["port"]
    assert updated["binding:vif_type"] == "unbound" and updated["binding:vif_details"] == {}


def test_specific_ip_and_taken_ip(app_client: Any) -> None:
    net, sub = _net_with_subnet(app_client)
    chosen = port(app_client, net["id"], fixed_ips=[{"ip_address": "10.0.0.50"}])
    assert chosen["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "10.0.0.50"}]
    again = app_client.post(
        "/v2.0/ports", json={"port": {"network_id": net["id"], "fixed_ips": [{"ip_address": "10.0.0.50"}]}}
    )
    assert_error(again, 409, "IpAddressAlreadyAllocated", "10.0.0.50 already allocated")
    gateway = {"network_id": net["id"], "fixed_ips": [{"ip_address": "10.0.0.1"}]}
    assert_error(app_client.post("/v2.0/ports", json={"port": gateway}), 409, "IpAddressAlreadyAllocated")
    router = port(app_client, net["id"], device_owner="network:router_interface", **{"fixed_ips": gateway["fixed_ips"]})
    assert router["fixed_ips"][0]["ip_address"] == "10.0.0.1"


def test_invalid_fixed_ips(app_client: Any) -> None:
    net, sub = _net_with_subnet(app_client)
    other, other_sub = _net_with_subnet(app_client, "10.5.0.0/24")

    def post(fixed_ips: Any) -> Any:
        return app_client.post("/v2.0/ports", json={"port": {"network_id": net["id"], "fixed_ips": fixed_ips}})

    assert_error(post([{"ip_address": "192.0.2.5"}]), 400, "InvalidIpForNetwork")
    assert_error(post([{"subnet_id": sub["id"], "ip_address": "10.5.0.9"}]), 400, "InvalidIpForSubnet")
    assert_error(post([{"ip_address": "10.0.0.255"}]), 400, "InvalidIpForNetwork")
    assert_error(post([{"subnet_id": other_sub["id"]}]), 400, "InvalidInput")
    assert_error(post([{"ip_address": "not-an-ip"}]), 400, "HTTPBadRequest")
    assert_error(post("10.0.0.9"), 400, "HTTPBadRequest")
    assert app_client.get("/v2.0/ports", params={"network_id": net["id"]}).json()["ports"] == []
    assert other["id"] != net["id"]


def test_exhaustion_and_reuse(app_client: Any) -> None:
    net, _ = _net_with_subnet(app_client, "10.0.0.0/29")
    ports = [port(app_client, net["id"]) for _ in range(5)]
    addresses = {p["fixed_ips"][0]["ip_address"] for p in ports}
    assert addresses == {f"10.0.0.{i}" for i in range(2, 7)}
    full = app_client.post("/v2.0/ports", json={"port": {"network_id": net["id"]}})
    assert_error(full, 409, "IpAddressGenerationFailure", f"No more IP addresses available on network {net['id']}")
    app_client.delete(f"/v2.0/ports/{ports[2]['id']}")
    again = port(app_client, net["id"])
    assert again["fixed_ips"][0]["ip_address"] == ports[2]["fixed_ips"][0]["ip_address"]


def test_no_subnet_means_no_ip_and_empty_list_means_none(app_client: Any) -> None:
    bare = network(app_client)
    assert port(app_client, bare["id"])["fixed_ips"] == []
    net, _ = _net_with_subnet(app_client)
    assert port(app_client, net["id"], fixed_ips=[])["fixed_ips"] == []


def test_two_subnets_auto_picks_first_ipv4_and_explicit_both(app_client: Any) -> None:
    net, sub_a = _net_with_subnet(app_client)
    sub_b = subnet(app_client, net["id"], "10.0.1.0/24", enable_dhcp=False)
    assert port(app_client, net["id"])["fixed_ips"][0]["subnet_id"] == sub_a["id"]
    both = port(app_client, net["id"], fixed_ips=[{"subnet_id": sub_a["id"]}, {"subnet_id": sub_b["id"]}])
    assert [ip["subnet_id"] for ip in both["fixed_ips"]] == [sub_a["id"], sub_b["id"]]


def test_update_fixed_ips_keeps_and_frees(app_client: Any) -> None:
    net, sub = _net_with_subnet(app_client)
    created = port(app_client, net["id"], fixed_ips=[{"ip_address": "10.0.0.10"}, {"ip_address": "10.0.0.11"}])
    url = f"/v2.0/ports/{created['id']}"
    body = {"port": {"fixed_ips": [{"ip_address": "10.0.0.11"}, {"subnet_id": sub["id"], "ip_address": "10.0.0.12"}]}}
    updated = app_client.put(url, json=body).json()["port"]
    assert sorted(ip["ip_address"] for ip in updated["fixed_ips"]) == ["10.0.0.11", "10.0.0.12"]
    assert updated["revision_number"] == 1
    assert port(app_client, net["id"], fixed_ips=[{"ip_address": "10.0.0.10"}])["id"]


def test_mac_address_rules(app_client: Any) -> None:
    net, _ = _net_with_subnet(app_client)
    first = port(app_client, net["id"], mac_address="FA:16:3E:00:00:01")
    assert first["mac_address"] == "fa:16:3e:00:00:01"
    dup = app_client.post("/v2.0/ports", json={"port": {"network_id": net["id"], "mac_address": "fa:16:3e:00:00:01"}})
    assert_error(dup, 409, "MacAddressInUse", "fa:16:3e:00:00:01 is in use")
    other, _ = _net_with_subnet(app_client, "10.7.0.0/24")
    assert port(app_client, other["id"], mac_address="fa:16:3e:00:00:01")["mac_address"] == "fa:16:3e:00:00:01"
    bad = app_client.post("/v2.0/ports", json={"port": {"network_id": net["id"], "mac_address": "ff:ff:ff:ff:ff:ff"}})
    assert_error(bad, 400, "HTTPBadRequest", "mac_address")


def test_unknown_network_and_service_port_delete(app_client: Any) -> None:
    missing = app_client.post("/v2.0/ports", json={"port": {"network_id": "6a0e2bd6-0c1f-4d5e-9a3e-7bdf0ad0c0aa"}})
    assert_error(missing, 404, "NetworkNotFound")
    assert_error(app_client.post("/v2.0/ports", json={"port": {}}), 400, "HTTPBadRequest", "network_id")
    net, _ = _net_with_subnet(app_client)
    router = app_client.post("/v2.0/routers", json={"router": {"name": "r"}}).json()["router"]
    service = port(app_client, net["id"], device_owner="network:router_interface", device_id=router["id"])
    assert_error(app_client.delete(f"/v2.0/ports/{service['id']}"), 409, "ServicePortInUse", "router_interface")
    assert app_client.delete(f"/v2.0/routers/{router['id']}").status_code == 204
    assert app_client.delete(f"/v2.0/ports/{service['id']}").status_code == 204  # its router is gone: no orphan


def test_port_scoping_and_binding_hidden(app_client: Any) -> None:
    alice, bob = project("alice"), project("bob")
    net = network(app_client, alice)
    subnet(app_client, net["id"], "10.0.0.0/24", alice, enable_dhcp=False)
    mine = port(app_client, net["id"], alice)
    assert "binding:host_id" not in mine and "binding:vnic_type" in mine
    assert_error(app_client.get(f"/v2.0/ports/{mine['id']}", headers=bob), 404, "PortNotFound")
    assert app_client.get("/v2.0/ports", headers=bob).json()["ports"] == []
    bind = {"port": {"network_id": net["id"], "binding:host_id": "node1"}}
    assert_error(app_client.post("/v2.0/ports", json=bind, headers=alice), 403, "PolicyNotAuthorized")
    shared = network(app_client, shared=True)
    subnet(app_client, shared["id"], "10.1.0.0/24", enable_dhcp=False)
    on_shared = port(app_client, shared["id"], bob)
    assert on_shared["project_id"] == "bob"
    pinned = {"port": {"network_id": shared["id"], "fixed_ips": [{"ip_address": "10.1.0.9"}]}}
    assert_error(app_client.post("/v2.0/ports", json=pinned, headers=bob), 403, "PolicyNotAuthorized")


def test_bulk_create_is_all_or_nothing(app_client: Any) -> None:
    net, _ = _net_with_subnet(app_client, "10.0.0.0/29")
    two = app_client.post("/v2.0/ports", json={"ports": [{"network_id": net["id"], "name": n} for n in "ab"]})
    assert two.status_code == 201, two.text
    assert [p["name"] for p in two.json()["ports"]] == ["a", "b"]
    too_many = {"ports": [{"network_id": net["id"]} for _ in range(4)]}
    assert_error(app_client.post("/v2.0/ports", json=too_many), 409, "IpAddressGenerationFailure")
    assert len(app_client.get("/v2.0/ports", params={"network_id": net["id"]}).json()["ports"]) == 2
    bad_item = {"ports": [{"network_id": net["id"]}, "nope"]}
    assert_error(app_client.post("/v2.0/ports", json=bad_item), 400, "HTTPBadRequest")
    nets = app_client.post("/v2.0/networks", json={"networks": [{"name": "x"}, {"name": "y"}]})
    assert [n["name"] for n in nets.json()["networks"]] == ["x", "y"]


def test_none_clears_string_attributes(app_client: Any) -> None:
    net, _ = _net_with_subnet(app_client)
    bound = port(app_client, net["id"], device_id="vm-1", **{"binding:host_id": "node1"})
    cleared = {"port": {"binding:host_id": None, "device_id": None, "binding:profile": None}}
    updated = app_client.put(f"/v2.0/ports/{bound['id']}", json=cleared).json()["port"]
    assert updated["binding:host_id"] == "" and updated["device_id"] == "" and updated["binding:profile"] == {}
    assert updated["binding:vif_type"] == "unbound"


def test_fixed_ips_filter_matches_one_allocation(app_client: Any) -> None:
    net, sub_a = _net_with_subnet(app_client)
    sub_b = subnet(app_client, net["id"], "10.0.1.0/24", enable_dhcp=False)
    first = port(app_client, net["id"], fixed_ips=[{"ip_address": "10.0.0.5"}, {"ip_address": "10.0.1.6"}])
    second = port(app_client, net["id"], fixed_ips=[{"ip_address": "10.0.1.5"}])

    def found(*filters: str) -> list[str]:
        params = [("fixed_ips", f) for f in filters]
        return sorted(p["id"] for p in app_client.get("/v2.0/ports", params=params).json()["ports"])

    assert found("ip_address=10.0.0.5") == [first["id"]]
    assert found("ip_address=10.0.0.5", "ip_address=10.0.1.5") == sorted([first["id"], second["id"]])
    assert found(f"subnet_id={sub_b['id']}") == sorted([first["id"], second["id"]])
    assert found("ip_address=10.0.1.5", f"subnet_id={sub_a['id']}") == []
    assert found("ip_address=10.0.1.6", f"subnet_id={sub_b['id']}") == [first["id"]]
    assert_error(app_client.get("/v2.0/ports?fixed_ips=bogus"), 400, "HTTPBadRequest")


def test_security_attributes_are_validated(app_client: Any) -> None:
    """Issue 13 implemented security groups and address pairs (formerly refused as unsupported)."""
    net, _ = _net_with_subnet(app_client)
    assert port(app_client, net["id"], security_groups=[])["security_groups"] == []
    made = port(app_client, net["id"], allowed_address_pairs=[{"ip_address": "10.0.0.99"}])
    assert made["allowed_address_pairs"] == [{"ip_address": "10.0.0.99", "mac_address": made["mac_address"]}]
    groups = {"port": {"network_id": net["id"], "security_groups": ["default"]}}
    assert_error(app_client.post("/v2.0/ports", json=groups), 400, "HTTPBadRequest", "security_groups")
