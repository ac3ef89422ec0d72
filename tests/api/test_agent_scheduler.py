"""The agent scheduler APIs (issue 21: ``l3_agent_scheduler``, ``dhcp_agent_scheduler``) through the in-process
app: which agent hosts a router / a network's DHCP, manual rescheduling to a second registered agent, and the
host state documents the agents build their dataplane from (the old host's no longer lists what moved)."""

from __future__ import annotations

from typing import Any

from tests.api.helpers import assert_error, create, network, subnet

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


def test_dhcp_moves_to_a_second_agent(app_client: Any) -> None:
    nodes = dict(zip(("node-a", "node-b"), _two_nodes(app_client), strict=True))
    net = network(app_client, name="n")
    assert _get(app_client, f"/v2.0/networks/{net['id']}/dhcp-agents", "agents") == []  # no DHCP subnet yet
    subnet(app_client, net["id"], "10.60.0.0/24")
    hosting = _get(app_client, f"/v2.0/networks/{net['id']}/dhcp-agents", "agents")
    first = hosting[0]["host"]
    second = "node-b" if first == "node-a" else "node-a"
    first_id, second_id = nodes[first]["DHCP agent"], nodes[second]["DHCP agent"]
    assert hosting[0]["id"] == first_id and net["id"] in _state_ids(app_client, first, "networks")
    url = f"/v2.0/agents/{second_id}/dhcp-networks"
    assert_error(app_client.post(url, json={"network_id": net["id"]}), 409, "NetworkHostedByDHCPAgent", first_id)
    first_url = f"/v2.0/agents/{first_id}/dhcp-networks"
    assert_error(app_client.post(first_url, json={"network_id": net["id"]}), 409, "NetworkHostedByDHCPAgent")
    assert app_client.delete(f"{first_url}/{net['id']}").status_code == 204
    assert_error(app_client.delete(f"{first_url}/{net['id']}"), 409, "NetworkNotHostedByDhcpAgent")
    assert app_client.post(url, json={"network_id": net["id"]}).status_code == 201
    assert [n["id"] for n in _get(app_client, url, "networks")] == [net["id"]]
    assert net["id"] in _state_ids(app_client, second, "networks")
    assert net["id"] not in _state_ids(app_client, first, "networks")


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
