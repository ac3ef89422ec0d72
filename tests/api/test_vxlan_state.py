"""VXLAN in the host state: vxlan networks wire to ``br-int`` and list their tunnel peers — the tunnel
endpoints of the other hosts carrying the network (bound ports, its DHCP host, its routers' L3 hosts) —, and the
agents' ``tunneling_ip``/``tunnel_types`` show in Neutron's agents view. A live server refuses the bad
provider requests."""

from __future__ import annotations

from typing import Any

from tests.api.helpers import assert_error, network, port, subnet
from tests.api.test_agents import register, state

IPS = {"node1": "10.99.0.1", "node2": "10.99.0.2", "node3": "10.99.0.3"}


def _agents(client: Any) -> None:
    """node1 runs DHCP, node3 routers; node1-3 tunnel, node4 has no local_ip."""
    for host, address in IPS.items():
        register(client, host, "Open vSwitch agent",
                 configurations={"tunneling_ip": address, "tunnel_types": ["vxlan"]})  # fmt: skip
    register(client, "node4", "Open vSwitch agent", configurations={"tunneling_ip": None, "tunnel_types": []})
    register(client, "node1", "DHCP agent")
    register(client, "node3", "L3 agent")


def _vxlan_world(client: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A vxlan network with DHCP, an instance port on node2 and node4, a router (node3) interface."""
    net = network(client, **{"provider:network_type": "vxlan", "provider:segmentation_id": 4242})
    sub = subnet(client, net["id"], "10.42.0.0/24")
    for host in ("node2", "node4"):
        port(client, net["id"], **{"binding:host_id": host})
    router = client.post("/v2.0/routers", json={"router": {"name": "r"}}).json()["router"]
    response = client.put(f"/v2.0/routers/{router['id']}/add_router_interface", json={"subnet_id": sub["id"]})
    assert response.status_code == 200, response.text
    return net, router


def _network(doc: dict[str, Any], network_id: str) -> dict[str, Any]:
    return next(n for n in doc["networks"] if n["id"] == network_id)


def test_peers_are_the_other_hosts_carrying_the_network(app_client: Any) -> None:
    _agents(app_client)
    net, _router = _vxlan_world(app_client)
    assert net["mtu"] == 1450
    expected = {
        "node1": ["10.99.0.2", "10.99.0.3"],  # DHCP host: the bound port's and the router's hosts
        "node2": ["10.99.0.1", "10.99.0.3"],
        "node3": ["10.99.0.1", "10.99.0.2"],
        "node4": ["10.99.0.1", "10.99.0.2", "10.99.0.3"],  # carries it, but has no endpoint of its own
    }
    for host, peers in expected.items():
        found = _network(state(app_client, host), net["id"])
        assert found["tunnel_peers"] == peers, host
        assert (found["bridge"], found["network_type"], found["segmentation_id"]) == ("br-int", "vxlan", 4242)
    filtered = _network(state(app_client, "node2", network_id=net["id"]), net["id"])
    assert filtered["tunnel_peers"] == ["10.99.0.1", "10.99.0.3"]
    [bound] = state(app_client, "node2")["ports"]
    assert (bound["bridge"], bound["network_type"]) == ("br-int", "vxlan")
    [interface] = state(app_client, "node3")["routers"][0]["interfaces"]
    assert (interface["bridge"], interface["network_type"], interface["mtu"]) == ("br-int", "vxlan", 1450)


def test_a_host_leaving_the_network_leaves_the_peers(app_client: Any) -> None:
    _agents(app_client)
    net, _router = _vxlan_world(app_client)
    [mine] = app_client.get("/v2.0/ports", params={"binding:host_id": "node2"}).json()["ports"]
    assert app_client.delete(f"/v2.0/ports/{mine['id']}").status_code == 204
    doc = state(app_client, "node2")
    assert doc["ports"] == [] and net["id"] not in {n["id"] for n in doc["networks"]}
    assert _network(state(app_client, "node1"), net["id"])["tunnel_peers"] == ["10.99.0.3"]


def test_vlan_networks_carry_no_peers_and_agents_show_tunnelling(app_client: Any) -> None:
    _agents(app_client)
    net = network(app_client)
    subnet(app_client, net["id"], "10.43.0.0/24")
    port(app_client, net["id"], **{"binding:host_id": "node2"})
    assert "tunnel_peers" not in _network(state(app_client, "node2"), net["id"])
    agents = app_client.get("/v2.0/agents", params={"host": "node2"}).json()["agents"]
    ovs = next(a for a in agents if a["agent_type"] == "Open vSwitch agent")
    assert ovs["configurations"]["tunneling_ip"] == "10.99.0.2"
    assert ovs["configurations"]["tunnel_types"] == ["vxlan"]


def test_bad_vxlan_requests_on_a_live_server(api: Any) -> None:
    body = {"provider:network_type": "vxlan", "provider:segmentation_id": 77}
    assert api.post("/v2.0/networks", json={"network": body}).status_code == 201
    assert_error(api.post("/v2.0/networks", json={"network": body}), 409, "TunnelIdInUse")
    with_physnet = {**body, "provider:physical_network": "public_eth1"}
    assert_error(api.post("/v2.0/networks", json={"network": with_physnet}), 400, "InvalidInput",
                 "physical_network")  # fmt: skip
    too_big = {**body, "provider:segmentation_id": 2**24}
    assert_error(api.post("/v2.0/networks", json={"network": too_big}), 400, "InvalidInput",
                 "segmentation_id")  # fmt: skip
    member = {"X-Project-Id": "alice", "X-Roles": "member"}
    response = api.post("/v2.0/networks", json={"network": body}, headers=member)
    assert response.status_code == 403, response.text


def test_a_router_moving_tells_the_carriers_of_its_vxlan_networks(app_client: Any) -> None:
    _agents(app_client)
    net, router = _vxlan_world(app_client)
    old = register(app_client, "node3", "L3 agent")
    new = register(app_client, "node1", "L3 agent")
    seq = int(app_client.get("/v2.0/floatnet/hosts/node2/changes", params={"timeout": 0}).json()["seq"])
    response = app_client.delete(f"/v2.0/agents/{old['id']}/l3-routers/{router['id']}")
    assert response.status_code == 204, response.text
    response = app_client.post(f"/v2.0/agents/{new['id']}/l3-routers", json={"router_id": router["id"]})
    assert response.status_code == 201, response.text
    feed = app_client.get("/v2.0/floatnet/hosts/node2/changes", params={"timeout": 0, "after": seq}).json()
    assert net["id"] in {c["network_id"] for c in feed["changes"] if c["kind"] == "router"}  # node2 refetches
    assert _network(state(app_client, "node2", network_id=net["id"]), net["id"])["tunnel_peers"] == ["10.99.0.1"]
