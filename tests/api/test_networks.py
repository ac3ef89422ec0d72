"""Networks over the API: segments, defaults, updates, deletion, scoping."""

from __future__ import annotations

from typing import Any

from tests.api.helpers import assert_error, network, port, project, subnet


def test_create_defaults_and_shape(app_client: Any) -> None:
    net = network(app_client, name="n1")
    assert net["name"] == "n1"
    assert net["admin_state_up"] is True and net["shared"] is False and net["router:external"] is False
    assert net["status"] == "ACTIVE" and net["subnets"] == [] and net["revision_number"] == 0
    assert net["project_id"] == net["tenant_id"] == "admin"
    assert net["provider:network_type"] == "vlan" and net["provider:physical_network"] == "public_eth1"
    assert net["provider:segmentation_id"] == 100 and net["mtu"] == 1500
    assert net["created_at"].endswith("Z") and net["port_security_enabled"] is True


def test_tenant_vlans_allocated_in_order_then_vxlan(make_app_client: Any, server_config: Any) -> None:
    ini = """
[ml2]
type_drivers = vlan,vxlan
tenant_network_types = vlan,vxlan
[ml2_type_vlan]
network_vlan_ranges = physA:10:11
[ml2_type_vxlan]
vni_ranges = 5:5
"""
    client = make_app_client(ini)
    segments = [network(client)["provider:segmentation_id"] for _ in range(3)]
    assert segments == [10, 11, 5]
    assert network_type_of(client, 2) == ("vxlan", 1450)
    assert_error(client.post("/v2.0/networks", json={"network": {}}), 503, "NoNetworkAvailable")


def network_type_of(client: Any, index: int) -> tuple[str, int]:
    nets = client.get("/v2.0/networks", params={"sort_key": "provider:segmentation_id"}).json()["networks"]
    vxlan = [n for n in nets if n["provider:network_type"] == "vxlan"][0]
    return vxlan["provider:network_type"], vxlan["mtu"]


def test_seed_vlan_network_and_vlan_in_use(app_client: Any) -> None:
    body = {
        "name": "vlan_100",
        "provider:network_type": "vlan",
        "provider:physical_network": "public_eth1",
        "provider:segmentation_id": 150,
    }
    assert network(app_client, **body)["provider:segmentation_id"] == 150
    response = app_client.post("/v2.0/networks", json={"network": body})
    assert_error(response, 409, "VlanIdInUse", "The VLAN 150 on physical network public_eth1 is in use")


def test_vlan_out_of_range_and_unknown_physnet(app_client: Any) -> None:
    bad = {"provider:network_type": "vlan", "provider:physical_network": "public_eth1"}
    response = app_client.post("/v2.0/networks", json={"network": {**bad, "provider:segmentation_id": 4095}})
    assert_error(response, 400, "InvalidInput", "out of range")
    response = app_client.post("/v2.0/networks", json={"network": {**bad, "provider:physical_network": "nowhere"}})
    assert_error(response, 400, "InvalidInput", "nowhere")


def test_vlan_outside_tenant_range_is_allowed_for_provider(app_client: Any) -> None:
    net = network(
        app_client,
        **{
            "provider:network_type": "vlan",
            "provider:physical_network": "public_eth2",
            "provider:segmentation_id": 3000,
        },
    )
    assert net["provider:segmentation_id"] == 3000


def test_flat_rules(app_client: Any) -> None:
    flat = {
        "provider:network_type": "flat",
        "provider:physical_network": "public_eth0",
        "router:external": True,
    }
    net = network(app_client, **flat)
    assert net["router:external"] is True and net["provider:segmentation_id"] is None
    assert_error(app_client.post("/v2.0/networks", json={"network": flat}), 409, "FlatNetworkInUse")
    other = {**flat, "provider:physical_network": "not_listed"}
    assert_error(app_client.post("/v2.0/networks", json={"network": other}), 400, "InvalidInput")
    with_id = {**flat, "provider:physical_network": "physnet_flat", "provider:segmentation_id": 3}
    assert_error(app_client.post("/v2.0/networks", json={"network": with_id}), 400, "InvalidInput")


def test_deleting_network_frees_its_segment(app_client: Any) -> None:
    body = {"provider:network_type": "vxlan", "provider:segmentation_id": 1500}
    net = network(app_client, **body)
    assert app_client.delete(f"/v2.0/networks/{net['id']}").status_code == 204
    assert network(app_client, **body)["provider:segmentation_id"] == 1500


def test_update_bumps_revision_and_refuses_provider_change(app_client: Any) -> None:
    net = network(app_client, name="a")
    response = app_client.put(f"/v2.0/networks/{net['id']}", json={"network": {"name": "b", "mtu": 1400}})
    assert response.status_code == 200
    updated = response.json()["network"]
    assert updated["name"] == "b" and updated["mtu"] == 1400 and updated["revision_number"] == 1
    change = {"network": {"provider:segmentation_id": 199}}
    assert_error(app_client.put(f"/v2.0/networks/{net['id']}", json=change), 400, "InvalidInput")
    too_big = {"network": {"mtu": 9000}}
    assert_error(app_client.put(f"/v2.0/networks/{net['id']}", json=too_big), 400, "InvalidInput")


def test_if_match_revision(app_client: Any) -> None:
    net = network(app_client)
    url = f"/v2.0/networks/{net['id']}"
    ok = app_client.put(url, json={"network": {"name": "x"}}, headers={"If-Match": "revision_number=0"})
    assert ok.status_code == 200
    stale = app_client.put(url, json={"network": {"name": "y"}}, headers={"If-Match": "revision_number=0"})
    assert_error(stale, 412, "RevisionNumberConstraintFailed", "Constrained to 0, but current revision is 1")
    assert app_client.get(url).json()["network"]["name"] == "x"


def test_delete_with_ports_is_in_use_but_dhcp_port_goes(app_client: Any) -> None:
    net = network(app_client)
    sub = subnet(app_client, net["id"], "10.0.0.0/24")
    vm = port(app_client, net["id"], device_owner="compute:nova")
    assert_error(app_client.delete(f"/v2.0/networks/{net['id']}"), 409, "NetworkInUse", net["id"])
    assert app_client.delete(f"/v2.0/ports/{vm['id']}").status_code == 204
    assert app_client.delete(f"/v2.0/networks/{net['id']}").status_code == 204
    assert app_client.get(f"/v2.0/subnets/{sub['id']}").status_code == 404
    assert app_client.get("/v2.0/ports").json()["ports"] == []


def test_project_scoping(app_client: Any) -> None:
    alice, bob = project("alice"), project("bob")
    private = network(app_client, alice, name="private")
    shared = network(app_client, ADMIN_HEADERS, name="shared", shared=True)
    external = network(app_client, ADMIN_HEADERS, name="ext", **{"router:external": True})
    names = {n["name"] for n in app_client.get("/v2.0/networks", headers=bob).json()["networks"]}
    assert names == {"shared", "ext"}
    assert_error(app_client.get(f"/v2.0/networks/{private['id']}", headers=bob), 404, "NetworkNotFound")
    assert_error(app_client.delete(f"/v2.0/networks/{private['id']}", headers=bob), 404, "NetworkNotFound")
    rename = {"network": {"name": "mine"}}
    response = app_client.put(f"/v2.0/networks/{shared['id']}", json=rename, headers=bob)
    assert_error(response, 403, "PolicyNotAuthorized")
    seen = app_client.get(f"/v2.0/networks/{external['id']}", headers=bob).json()["network"]
    assert "provider:network_type" not in seen and seen["router:external"] is True


ADMIN_HEADERS = project("operators", admin=True)


def test_non_admin_cannot_set_admin_attributes(app_client: Any) -> None:
    alice = project("alice")
    for attrs in (
        {"shared": True},
        {"router:external": True},
        {"provider:network_type": "vxlan"},
    ):
        response = app_client.post("/v2.0/networks", json={"network": attrs}, headers=alice)
        assert_error(response, 403, "PolicyNotAuthorized")
    other = app_client.post("/v2.0/networks", json={"network": {"project_id": "bob"}}, headers=alice)
    assert_error(other, 400, "HTTPBadRequest", "requires admin privileges")
    mine = network(app_client, alice)
    assert mine["project_id"] == "alice" and "provider:segmentation_id" not in mine


def test_admin_creates_for_another_project(app_client: Any) -> None:
    net = network(app_client, tenant_id="carol")
    assert net["project_id"] == "carol"
    listed = app_client.get("/v2.0/networks", headers=project("carol")).json()["networks"]
    assert [n["id"] for n in listed] == [net["id"]]


def test_cannot_unshare_while_other_projects_use_it(app_client: Any) -> None:
    shared = network(app_client, shared=True)
    subnet(app_client, shared["id"], "10.9.0.0/24", enable_dhcp=False)
    theirs = port(app_client, shared["id"], project("bob"))
    unshare = {"network": {"shared": False}}
    assert_error(app_client.put(f"/v2.0/networks/{shared['id']}", json=unshare), 409, "InvalidSharedSetting")
    app_client.delete(f"/v2.0/ports/{theirs['id']}")
    assert app_client.put(f"/v2.0/networks/{shared['id']}", json=unshare).json()["network"]["shared"] is False


def test_if_match_on_delete(app_client: Any) -> None:
    net = network(app_client)
    url = f"/v2.0/networks/{net['id']}"
    app_client.put(url, json={"network": {"name": "moved-on"}})
    stale = app_client.delete(url, headers={"If-Match": "revision_number=0"})
    assert_error(stale, 412, "RevisionNumberConstraintFailed")
    assert app_client.get(url).status_code == 200
    assert app_client.delete(url, headers={"If-Match": "revision_number=1"}).status_code == 204
