"""The agent scheduler APIs (issue 21: ``l3_agent_scheduler``, ``dhcp_agent_scheduler``) through the in-process
app: which agent hosts a router / a network's DHCP, manual rescheduling to a second registered agent, and the
host state documents the agents build their dataplane from (the old host's no longer lists what moved)."""

from __future__ import annotations

from typing import Any

from tests.api.helpers import assert_error, create, network, subnet
from tests.api.openstack_clients import noauth_sdk
from tests.api.openstack_clients import openstack_cli as cli

MEMBER = {"X-Project-Id": "alice", "X-Roles": "member"}
MISSING = "0f0f0f0f-0000-4000-8000-000000000000"


def register_node(client: Any, host: str) -> dict[str, str]:
    """Register the three agent rows one floatnet agent reports; their ids by type."""
    ids = {}
    for agent_type in ("L3 agent", "DHCP agent", "Open vSwitch agent"):
        body = {"agent": {"host": host, "agent_type": agent_type}}
        response = client.post("/v2.0/floatnet/agents", json=body)
        assert response.status_code in (200, 201), response.text
        ids[agent_type] = response.json()["agent"]["id"]
    return ids


def _get(client: Any, path: str, key: str) -> list[dict[str, Any]]:
    response = client.get(path)
    assert response.status_code == 200, response.text
    return list(response.json()[key])


def _state_ids(client: Any, host: str, key: str) -> set[str]:
    response = client.get(f"/v2.0/floatnet/hosts/{host}/state")
    assert response.status_code == 200, response.text
    items = response.json()[key]
    if key == "networks":
        return {n["id"] for n in items if n["dhcp"] is not None}
    return {item["id"] for item in items}


def _two_nodes(client: Any) -> tuple[dict[str, str], dict[str, str]]:
    return register_node(client, "node-a"), register_node(client, "node-b")


def test_router_moves_to_a_second_agent(app_client: Any) -> None:
    nodes = dict(zip(("node-a", "node-b"), _two_nodes(app_client), strict=True))
    router = create(app_client, "router", name="r")
    hosting = _get(app_client, f"/v2.0/routers/{router['id']}/l3-agents", "agents")
    assert len(hosting) == 1 and hosting[0]["agent_type"] == "L3 agent"
    first = hosting[0]["host"]
    second = "node-b" if first == "node-a" else "node-a"
    first_id, second_id = nodes[first]["L3 agent"], nodes[second]["L3 agent"]
    assert router["id"] in _state_ids(app_client, first, "routers")
    assert [r["id"] for r in _get(app_client, f"/v2.0/agents/{first_id}/l3-routers", "routers")] == [router["id"]]
    url = f"/v2.0/agents/{second_id}/l3-routers"
    assert_error(app_client.post(url, json={"router_id": router["id"]}), 409, "RouterHostedByL3Agent", first_id)
    assert_error(app_client.delete(f"{url}/{router['id']}"), 409, "RouterNotHostedByL3Agent")
    assert app_client.post(f"/v2.0/agents/{first_id}/l3-routers", json={"router_id": router["id"]}).status_code == 201
    assert app_client.delete(f"/v2.0/agents/{first_id}/l3-routers/{router['id']}").status_code == 204
    assert _get(app_client, f"/v2.0/routers/{router['id']}/l3-agents", "agents") == []
    assert router["id"] not in _state_ids(app_client, first, "routers")
    added = app_client.post(url, json={"router_id": router["id"]})
    assert (added.status_code, added.json()) == (201, None)
    assert [a["id"] for a in _get(app_client, f"/v2.0/routers/{router['id']}/l3-agents", "agents")] == [second_id]
    assert router["id"] in _state_ids(app_client, second, "routers")
    assert router["id"] not in _state_ids(app_client, first, "routers")
    assert _get(app_client, f"/v2.0/agents/{first_id}/l3-routers", "routers") == []
    changes = app_client.get(f"/v2.0/floatnet/hosts/{first}/changes", params={"after": 0, "timeout": 0}).json()
    assert any(c.get("router_id") == router["id"] for c in changes["changes"])  # both agents refetch it


def _dhcp_ports(client: Any, network_id: str) -> dict[str, str]:
    """The network's DHCP ports: host -> address."""
    params = {"network_id": network_id, "device_owner": "network:dhcp"}
    ports = _get(client, "/v2.0/ports?" + "&".join(f"{k}={v}" for k, v in params.items()), "ports")
    return {p["binding:host_id"]: p["fixed_ips"][0]["ip_address"] for p in ports}


def test_dhcp_on_a_second_agent_then_moved(app_client: Any) -> None:
    """As Neutron: a network hosted by one DHCP agent can be added to a second (each with its own DHCP port);
    409 only for an agent already hosting it; removing it from one agent removes that agent's port only."""
    nodes = dict(zip(("node-a", "node-b"), _two_nodes(app_client), strict=True))
    net = network(app_client, name="n")
    assert _get(app_client, f"/v2.0/networks/{net['id']}/dhcp-agents", "agents") == []  # no DHCP subnet yet
    subnet(app_client, net["id"], "10.60.0.0/24")
    hosting = _get(app_client, f"/v2.0/networks/{net['id']}/dhcp-agents", "agents")
    first = hosting[0]["host"]
    second = "node-b" if first == "node-a" else "node-a"
    first_id, second_id = nodes[first]["DHCP agent"], nodes[second]["DHCP agent"]
    assert hosting[0]["id"] == first_id and net["id"] in _state_ids(app_client, first, "networks")
    assert _dhcp_ports(app_client, net["id"]) == {first: "10.60.0.2"}
    url = f"/v2.0/agents/{second_id}/dhcp-networks"
    assert app_client.post(url, json={"network_id": net["id"]}).status_code == 201
    assert_error(app_client.post(url, json={"network_id": net["id"]}), 409, "NetworkHostedByDHCPAgent", second_id)
    agents = _get(app_client, f"/v2.0/networks/{net['id']}/dhcp-agents", "agents")
    assert sorted(a["id"] for a in agents) == sorted([first_id, second_id])
    assert _dhcp_ports(app_client, net["id"]) == {first: "10.60.0.2", second: "10.60.0.3"}
    assert net["id"] in _state_ids(app_client, first, "networks") & _state_ids(app_client, second, "networks")
    first_url = f"/v2.0/agents/{first_id}/dhcp-networks"
    assert app_client.delete(f"{first_url}/{net['id']}").status_code == 204
    assert_error(app_client.delete(f"{first_url}/{net['id']}"), 409, "NetworkNotHostedByDhcpAgent")
    assert [n["id"] for n in _get(app_client, url, "networks")] == [net["id"]]
    assert _dhcp_ports(app_client, net["id"]) == {second: "10.60.0.3"}
    assert net["id"] in _state_ids(app_client, second, "networks")
    assert net["id"] not in _state_ids(app_client, first, "networks")
    for node in nodes:  # the operator's removal is remembered: reports do not put it back on the first agent
        register_node(app_client, node)
    assert _dhcp_ports(app_client, net["id"]) == {second: "10.60.0.3"}


def test_scheduler_refusals(app_client: Any) -> None:
    node = register_node(app_client, "node-a")
    router = create(app_client, "router", name="r")
    l3, dhcp = node["L3 agent"], node["DHCP agent"]
    body = {"router_id": router["id"]}
    assert_error(app_client.post(f"/v2.0/agents/{dhcp}/l3-routers", json=body), 404, "InvalidL3Agent")
    assert_error(app_client.post(f"/v2.0/agents/{l3}/dhcp-networks", json={"network_id": MISSING}), 404,
                 "InvalidDHCPAgent")  # fmt: skip
    assert_error(app_client.post(f"/v2.0/agents/{MISSING}/l3-routers", json=body), 404, "AgentNotFound")
    assert_error(app_client.post(f"/v2.0/agents/{l3}/l3-routers", json={"router_id": MISSING}), 404, "RouterNotFound")
    assert_error(app_client.post(f"/v2.0/agents/{l3}/l3-routers", json={"router_id": 5}), 400, "HTTPBadRequest",
                 "router_id")  # fmt: skip
    assert_error(app_client.post(f"/v2.0/agents/{l3}/l3-routers", json={}), 400, "HTTPBadRequest", "router_id")
    hinted = {"router_id": router["id"], "ha_chassis_priority": 2}  # Neutron takes (and, without OVN, ignores) it
    assert app_client.post(f"/v2.0/agents/{l3}/l3-routers", json=hinted).status_code == 201
    assert_error(app_client.post(f"/v2.0/agents/{l3}/l3-routers", json={**hinted, "ha_chassis_priority": "x"}), 400,
                 "HTTPBadRequest", "ha_chassis_priority")  # fmt: skip
    assert_error(app_client.post(f"/v2.0/agents/{l3}/l3-routers", json={"router_id": router["id"], "x": 1}), 400,
                 "HTTPBadRequest", "x")  # fmt: skip
    assert_error(app_client.post(f"/v2.0/agents/{l3}/l3-routers", json=[1]), 400, "HTTPBadRequest", "router_id")
    assert_error(app_client.get(f"/v2.0/routers/{MISSING}/l3-agents"), 404, "RouterNotFound")
    assert_error(app_client.get(f"/v2.0/networks/{MISSING}/dhcp-agents"), 404, "NetworkNotFound")
    for method, path in (
        ("GET", f"/v2.0/agents/{l3}/l3-routers"),
        ("POST", f"/v2.0/agents/{l3}/l3-routers"),
        ("DELETE", f"/v2.0/agents/{l3}/l3-routers/{router['id']}"),
        ("GET", f"/v2.0/routers/{router['id']}/l3-agents"),
        ("GET", f"/v2.0/agents/{dhcp}/dhcp-networks"),
        ("GET", f"/v2.0/networks/{MISSING}/dhcp-agents"),
    ):
        response = app_client.request(method, path, json=body if method == "POST" else None, headers=MEMBER)
        assert_error(response, 403, "PolicyNotAuthorized")
    app_client.put(f"/v2.0/agents/{l3}", json={"agent": {"admin_state_up": False}})
    app_client.delete(f"/v2.0/agents/{l3}/l3-routers/{router['id']}")
    assert_error(app_client.post(f"/v2.0/agents/{l3}/l3-routers", json=body), 404, "InvalidL3Agent")
    aliases = {e["alias"] for e in app_client.get("/v2.0/extensions").json()["extensions"]}
    assert {"l3_agent_scheduler", "dhcp_agent_scheduler"} <= aliases


def test_scheduler_with_the_clients_live(api: Any, live_server: str) -> None:
    """Hostile requests through a real server, then openstacksdk and the ``openstack`` CLI move a router and a
    network's DHCP between two registered agents."""
    nodes = dict(zip(("live-a", "live-b"), (register_node(api, "live-a"), register_node(api, "live-b")), strict=True))
    l3 = nodes["live-a"]["L3 agent"]
    assert_error(api.post(f"/v2.0/agents/{l3}/l3-routers", json={"router_id": ["x"]}), 400, "HTTPBadRequest",
                 "router_id")  # fmt: skip
    assert_error(api.post(f"/v2.0/agents/{l3}/l3-routers", content=b"{", headers={"Content-Type": "application/json"}),
                 400, "MalformedRequestBody")  # fmt: skip
    assert_error(api.post(f"/v2.0/agents/{l3}/l3-routers", json={"router_id": "nope"}), 404, "RouterNotFound")
    assert_error(api.get(f"/v2.0/agents/{l3}/dhcp-networks"), 404, "InvalidDHCPAgent")
    assert_error(api.get(f"/v2.0/agents/{l3}/l3-routers", headers=MEMBER), 403, "PolicyNotAuthorized")
    with noauth_sdk(live_server) as sdk:
        router = sdk.network.create_router(name="sched-r")
        current = list(sdk.network.routers_hosting_l3_agents(router))
        assert len(current) == 1
        other = nodes["live-b" if current[0].host == "live-a" else "live-a"]["L3 agent"]
        sdk.network.remove_router_from_agent(sdk.network.get_agent(current[0].id), router)
        sdk.network.add_router_to_agent(sdk.network.get_agent(other), router)
        assert [a.id for a in sdk.network.routers_hosting_l3_agents(router)] == [other]
        assert [r.id for r in sdk.network.agent_hosted_routers(other)] == [router.id]
        sdk.network.add_router_to_agent(sdk.network.get_agent(current[0].id), router)  # 409 (the SDK does not raise)
        assert [a.id for a in sdk.network.routers_hosting_l3_agents(router)] == [other]
    cli(live_server, "network", "create", "sched-net")
    cli(live_server, "subnet", "create", "--network", "sched-net", "--subnet-range", "10.61.0.0/24", "sched-sub")
    hosting = cli(live_server, "network", "agent", "list", "--network", "sched-net", "-f", "json")
    assert len(hosting) == 1
    other = nodes["live-b" if hosting[0]["Host"] == "live-a" else "live-a"]["DHCP agent"]
    cli(live_server, "network", "agent", "remove", "network", "--dhcp", hosting[0]["ID"], "sched-net")
    cli(live_server, "network", "agent", "add", "network", "--dhcp", other, "sched-net")
    assert [a["ID"] for a in cli(live_server, "network", "agent", "list", "--network", "sched-net", "-f", "json")] == [
        other
    ]
    l3_host = cli(live_server, "network", "agent", "list", "--router", "sched-r", "-f", "json")[0]["Host"]
    cli(live_server, "network", "agent", "remove", "router", "--l3", nodes[l3_host]["L3 agent"], "sched-r")
    assert cli(live_server, "network", "agent", "list", "--router", "sched-r", "-f", "json") == []
