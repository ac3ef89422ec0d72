"""l3-ha (issue 15) through the API: HA routers, their replicas on the L3 agents with ``ha_state``, the hidden
per-project HA network and HA ports, conversion only while the router is down, ``[DEFAULT] l3_ha`` and
``max_l3_agents_per_router``, the agent scheduler's manual replicas, and the hostile requests against a real
server."""

from __future__ import annotations

import ipaddress
from typing import Any

import httpx

from tests.api.helpers import assert_error, create
from tests.api.test_agent_scheduler import register_node
from tests.conftest import DEFAULT_INI

ALICE = {"X-Project-Id": "alice", "X-Roles": "member"}
HA_OWNER = "network:router_ha_interface"


def ha_ini(**options: Any) -> str:
    """The test config with ``[DEFAULT]`` options added."""
    extra = "".join(f"{name} = {value}\n" for name, value in options.items())
    return DEFAULT_INI.replace("[DEFAULT]\n", "[DEFAULT]\n" + extra, 1)


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def agents_of(client: Any, router_id: str) -> list[dict[str, Any]]:
    return list(ok(client.get(f"/v2.0/routers/{router_id}/l3-agents"))["agents"])


def ha_router(client: Any, project: str = "alice", **attrs: Any) -> dict[str, Any]:
    return create(client, "router", name="r", ha=True, project_id=project, **attrs)


def ha_ports(client: Any, router_id: str, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    params = {"device_id": router_id, "device_owner": HA_OWNER}
    return list(ok(client.get("/v2.0/ports", params=params, headers=headers or {}))["ports"])


def ha_networks(client: Any, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    found = ok(client.get("/v2.0/networks", headers=headers or {}))["networks"]
    return [net for net in found if net["name"].startswith("HA network project")]


def test_ha_router_runs_on_every_alive_agent_up_to_three(app_client: Any) -> None:
    for host in ("node-a", "node-b", "node-c", "node-d"):
        register_node(app_client, host)
    router = ha_router(app_client)
    assert router["ha"] is True
    agents = agents_of(app_client, router["id"])
    assert len(agents) == 3 and {a["ha_state"] for a in agents} == {"standby"}
    assert {a["agent_type"] for a in agents} == {"L3 agent"}
    hosts = {a["host"] for a in agents}
    for host in ("node-a", "node-b", "node-c", "node-d"):
        state = ok(app_client.get(f"/v2.0/floatnet/hosts/{host}/state"))
        assert (router["id"] in {r["id"] for r in state["routers"]}) == (host in hosts)
    for agent in agents:
        hosted = ok(app_client.get(f"/v2.0/agents/{agent['id']}/l3-routers"))["routers"]
        assert [r["id"] for r in hosted] == [router["id"]]


def test_ha_network_and_ports_are_hidden_from_the_project(app_client: Any) -> None:
    register_node(app_client, "node-a")
    router = ha_router(app_client)
    (network,) = ha_networks(app_client)
    assert network["name"] == "HA network project alice" and network["project_id"] == ""
    subnet = ok(app_client.get(f"/v2.0/subnets/{network['subnets'][0]}"))["subnet"]
    assert subnet["cidr"] == "169.254.192.0/18" and subnet["gateway_ip"] is None and not subnet["enable_dhcp"]
    assert subnet["name"] == "HA subnet project alice"
    (port,) = ha_ports(app_client, router["id"])
    assert port["project_id"] == "" and port["name"] == "HA port project alice"
    assert port["binding:host_id"] == "node-a"
    address = ipaddress.ip_address(port["fixed_ips"][0]["ip_address"])
    assert address in ipaddress.ip_network("169.254.192.0/18")
    assert ha_networks(app_client, ALICE) == [] and ha_ports(app_client, router["id"], ALICE) == []
    shown = ok(app_client.get(f"/v2.0/routers/{router['id']}", headers=ALICE))["router"]
    assert "ha" not in shown  # get_router:ha is admin only
    assert_error(app_client.get(f"/v2.0/networks/{network['id']}", headers=ALICE), 404, "NetworkNotFound")


def test_one_ha_network_per_project_gone_with_its_last_ha_router(app_client: Any) -> None:
    register_node(app_client, "node-a")
    first, second = ha_router(app_client), ha_router(app_client)
    ha_router(app_client, project="bob")
    assert sorted(n["name"] for n in ha_networks(app_client)) == ["HA network project alice", "HA network project bob"]
    assert app_client.delete(f"/v2.0/routers/{first['id']}").status_code == 204
    assert app_client.delete(f"/v2.0/routers/{first['id']}").status_code == 404
    assert len(ha_networks(app_client)) == 2 and ha_ports(app_client, first["id"]) == []
    assert app_client.delete(f"/v2.0/routers/{second['id']}").status_code == 204
    assert [n["name"] for n in ha_networks(app_client)] == ["HA network project bob"]


def test_conversion_only_while_the_router_is_down(app_client: Any) -> None:
    register_node(app_client, "node-a")
    register_node(app_client, "node-b")
    router = create(app_client, "router", name="r", project_id="alice")
    url = f"/v2.0/routers/{router['id']}"
    assert_error(app_client.put(url, json={"router": {"ha": True}}), 400, "BadRequest", "admin_state_up to False")
    assert len(agents_of(app_client, router["id"])) == 1
    converted = ok(app_client.put(url, json={"router": {"ha": True, "admin_state_up": False}}))["router"]
    assert converted["ha"] is True
    assert {a["ha_state"] for a in agents_of(app_client, router["id"])} == {"standby"}
    assert len(agents_of(app_client, router["id"])) == 2 and len(ha_ports(app_client, router["id"])) == 2
    assert ok(app_client.put(url, json={"router": {"admin_state_up": True}}))["router"]["ha"] is True
    assert_error(app_client.put(url, json={"router": {"ha": False}}), 400, "BadRequest", "admin_state_up")
    assert ok(app_client.put(url, json={"router": {"ha": True}}))["router"]["ha"] is True  # no change: no rule
    back = ok(app_client.put(url, json={"router": {"ha": False, "admin_state_up": False}}))["router"]
    assert back["ha"] is False and ha_ports(app_client, router["id"]) == [] and ha_networks(app_client) == []
    (agent,) = agents_of(app_client, router["id"])
    assert agent["ha_state"] is None  # a router that is not HA: Neutron's null


def test_l3_ha_makes_new_routers_ha_and_max_agents_caps_replicas(make_app_client: Any) -> None:
    client = make_app_client(ha_ini(l3_ha="true", max_l3_agents_per_router=2))
    register_node(client, "node-a")
    router = create(client, "router", name="r", headers=ALICE)
    assert "ha" not in router
    assert ok(client.get(f"/v2.0/routers/{router['id']}"))["router"]["ha"] is True
    assert [a["host"] for a in agents_of(client, router["id"])] == ["node-a"]
    plain = create(client, "router", name="plain", ha=False)
    assert plain["ha"] is False and agents_of(client, plain["id"])[0]["ha_state"] is None
    register_node(client, "node-b")  # a report places the missing replica on the new agent
    assert sorted(a["host"] for a in agents_of(client, router["id"])) == ["node-a", "node-b"]
    placed = {a["host"] for a in agents_of(client, router["id"])}
    register_node(client, "node-c")  # full: a third agent takes nothing
    assert {a["host"] for a in agents_of(client, router["id"])} == placed


def test_replicas_are_spread_by_a_stable_per_router_order(make_app_client: Any) -> None:
    client = make_app_client(ha_ini(max_l3_agents_per_router=2))
    for host in ("node-a", "node-b", "node-c", "node-d"):
        register_node(client, host)
    routers = [ha_router(client) for _ in range(8)]
    placements = [frozenset(a["host"] for a in agents_of(client, r["id"])) for r in routers]
    assert all(len(hosts) == 2 for hosts in placements) and len(set(placements)) > 1
    register_node(client, "node-e")
    assert [frozenset(a["host"] for a in agents_of(client, r["id"])) for r in routers] == placements


def test_every_agent_with_zero_max(make_app_client: Any) -> None:
    client = make_app_client(ha_ini(max_l3_agents_per_router=0))
    for host in ("node-a", "node-b", "node-c", "node-d"):
        register_node(client, host)
    assert len(agents_of(client, ha_router(client)["id"])) == 4


def test_operator_adds_and_removes_replicas(make_app_client: Any) -> None:
    client = make_app_client(ha_ini(max_l3_agents_per_router=1))
    node_a, node_b = register_node(client, "node-a")["L3 agent"], register_node(client, "node-b")["L3 agent"]
    router = ha_router(client)
    (only,) = agents_of(client, router["id"])
    other = node_b if only["id"] == node_a else node_a
    add = f"/v2.0/agents/{other}/l3-routers"
    assert client.post(add, json={"router_id": router["id"]}).status_code == 201
    assert client.post(add, json={"router_id": router["id"]}).status_code == 201  # already there: nothing
    assert len(agents_of(client, router["id"])) == 2 and len(ha_ports(client, router["id"])) == 2
    assert client.delete(f"{add}/{router['id']}").status_code == 204
    assert [a["id"] for a in agents_of(client, router["id"])] == [only["id"]]
    assert_error(client.delete(f"{add}/{router['id']}"), 409, "RouterNotHostedByL3Agent")


def test_no_agent_yet_then_the_first_report_places_it(app_client: Any) -> None:
    router = ha_router(app_client)
    assert agents_of(app_client, router["id"]) == []
    register_node(app_client, "node-a")
    assert [a["host"] for a in agents_of(app_client, router["id"])] == ["node-a"]


def hostile(client: httpx.Client | Any) -> None:
    """What l3-ha refuses: ``ha`` from a project member (403 on create, update and — hidden — show),
    a non-boolean ``ha`` (400 naming it), converting a router that is up (400), the replicas' agents to a
    member (403)."""
    refused = client.post("/v2.0/routers", json={"router": {"name": "x", "ha": True}}, headers=ALICE)
    assert_error(refused, 403, "PolicyNotAuthorized", "create_router:ha")
    assert_error(client.post("/v2.0/routers", json={"router": {"ha": "yes please"}}), 400, "HTTPBadRequest", "ha")
    mine = ok(client.post("/v2.0/routers", json={"router": {"name": "m"}}, headers=ALICE), 201)["router"]
    url = f"/v2.0/routers/{mine['id']}"
    down = {"router": {"ha": True, "admin_state_up": False}}
    assert_error(client.put(url, json=down, headers=ALICE), 403, "PolicyNotAuthorized", "update_router:ha")
    assert_error(client.put(url, json={"router": {"ha": True}}), 400, "BadRequest", "admin_state_up to False")
    assert_error(client.put(url, json={"router": {"ha": 3}}), 400, "HTTPBadRequest", "ha")
    assert ok(client.put(url, json=down))["router"]["ha"] is True
    assert "ha" not in ok(client.get(url, headers=ALICE))["router"]
    assert_error(client.get(f"{url}/l3-agents", headers=ALICE), 403, "PolicyNotAuthorized")


def test_hostile_requests(app_client: Any) -> None:
    hostile(app_client)


def test_hostile_requests_live(live_server: str) -> None:
    with httpx.Client(base_url=live_server, timeout=30) as client:
        hostile(client)


def test_each_host_gets_its_own_replica_and_reports_its_vrrp_state(app_client: Any) -> None:
    register_node(app_client, "node-a")
    register_node(app_client, "node-b")
    router = ha_router(app_client)
    ports = {p["binding:host_id"]: p for p in ha_ports(app_client, router["id"])}
    sections = {}
    for host in ("node-a", "node-b"):
        (doc,) = ok(app_client.get(f"/v2.0/floatnet/hosts/{host}/state"))["routers"]
        sections[host] = doc["ha"]
        assert doc["ha"]["port"]["port_id"] == ports[host]["id"]
        assert doc["ha"]["port"]["ip_address"] == ports[host]["fixed_ips"][0]["ip_address"]
        assert doc["ha"]["port"]["prefixlen"] == 18 and doc["ha"]["port"]["bridge"] == "br-eth1"
    assert sections["node-a"]["vr_id"] == sections["node-b"]["vr_id"] == 1
    second = ha_router(app_client)
    (doc,) = [r for r in ok(app_client.get("/v2.0/floatnet/hosts/node-a/state"))["routers"] if r["id"] == second["id"]]
    assert doc["ha"]["vr_id"] == 2
    plain = create(app_client, "router", name="plain")
    docs = ok(app_client.get(f"/v2.0/floatnet/hosts/{agents_of(app_client, plain['id'])[0]['host']}/state"))
    assert next(r for r in docs["routers"] if r["id"] == plain["id"])["ha"] is None

    body = {"ha_states": {router["id"]: "active", plain["id"]: "active"}}
    answer = ok(app_client.put("/v2.0/floatnet/hosts/node-b/status", json=body))
    assert answer["changed"]["ha_states"] == 1  # the plain router has no replica: ignored
    states = {a["host"]: a["ha_state"] for a in agents_of(app_client, router["id"])}
    assert states == {"node-a": "standby", "node-b": "active"}
    bad = app_client.put("/v2.0/floatnet/hosts/node-b/status", json={"ha_states": {router["id"]: "master"}})
    assert_error(bad, 400, "HTTPBadRequest", "master")
    refused = app_client.put("/v2.0/floatnet/hosts/node-b/status", json=body, headers=ALICE)
    assert_error(refused, 403, "PolicyNotAuthorized")


def test_an_ha_router_is_in_the_zones_of_its_replicas(app_client: Any) -> None:
    for host, zone in (("node-a", "zone-a"), ("node-b", "zone-b")):
        body = {"agent": {"host": host, "agent_type": "L3 agent", "availability_zone": zone}}
        assert app_client.post("/v2.0/floatnet/agents", json=body).status_code in (200, 201)
    router = ha_router(app_client)
    assert router["availability_zones"] == ["zone-a", "zone-b"]
    plain = create(app_client, "router", name="plain")
    assert len(plain["availability_zones"]) == 1


REPLICATED = "network:ha_router_replicated_interface"


def interface_owners(client: Any, router_id: str, headers: dict[str, str] | None = None) -> list[str]:
    """The router's ports' owners other than its HA ports, sorted."""
    ports = ok(client.get("/v2.0/ports", params={"device_id": router_id}, headers=headers or {}))["ports"]
    return sorted(p["device_owner"] for p in ports if p["device_owner"] != HA_OWNER)


def test_ha_router_interfaces_are_replicated_interfaces_as_neutrons(app_client: Any) -> None:
    """An HA router's interfaces (added by subnet or by port) are ``network:ha_router_replicated_interface``
    ports, as Neutron's: the port list and its ``device_owner`` filter show them so, to the project too; they
    are removed like any interface; converting the (down) router retypes them both ways."""
    register_node(app_client, "node-a")
    net = create(app_client, "network", ALICE, name="n")
    sub = create(app_client, "subnet", ALICE, network_id=net["id"], cidr="10.5.0.0/24", ip_version=4)
    net2 = create(app_client, "network", ALICE, name="n2")
    create(app_client, "subnet", ALICE, network_id=net2["id"], cidr="10.6.0.0/24", ip_version=4)
    spare = create(app_client, "port", ALICE, network_id=net2["id"])
    router = ha_router(app_client)
    url = f"/v2.0/routers/{router['id']}"
    by_subnet = ok(app_client.put(f"{url}/add_router_interface", json={"subnet_id": sub["id"]}, headers=ALICE))
    ok(app_client.put(f"{url}/add_router_interface", json={"port_id": spare["id"]}, headers=ALICE))
    assert interface_owners(app_client, router["id"], ALICE) == [REPLICATED, REPLICATED]
    shown = ok(app_client.get(f"/v2.0/ports/{by_subnet['port_id']}", headers=ALICE))["port"]
    assert shown["device_owner"] == REPLICATED and shown["device_id"] == router["id"]
    listed = ok(app_client.get("/v2.0/ports", params={"device_owner": REPLICATED}, headers=ALICE))["ports"]
    assert {p["id"] for p in listed} == {by_subnet["port_id"], spare["id"]}
    plain = ok(app_client.get("/v2.0/ports", params={"device_owner": "network:router_interface"}))["ports"]
    assert plain == []

    ok(app_client.put(url, json={"router": {"ha": False, "admin_state_up": False}}))
    assert interface_owners(app_client, router["id"]) == ["network:router_interface"] * 2
    ok(app_client.put(url, json={"router": {"ha": True}}))
    assert interface_owners(app_client, router["id"]) == [REPLICATED, REPLICATED]

    ok(app_client.put(f"{url}/remove_router_interface", json={"subnet_id": sub["id"]}, headers=ALICE))
    assert interface_owners(app_client, router["id"]) == [REPLICATED]
    assert app_client.get(f"/v2.0/ports/{by_subnet['port_id']}").status_code == 404


def test_every_replica_host_is_told_of_its_router_changes(app_client: Any) -> None:
    """The per-host feed wakes every replica's agent, not only the one host a non-HA router would hash to:
    else the second network node builds its replica only at its next full resync (a minute later)."""
    for host in ("node-a", "node-b", "node-c"):
        register_node(app_client, host)
    start = int(ok(app_client.get("/v2.0/floatnet/hosts/anyone/changes", params={"timeout": 0}))["seq"])
    router = ha_router(app_client)
    renamed = ok(app_client.put(f"/v2.0/routers/{router['id']}", json={"router": {"name": "renamed"}}))["router"]
    assert renamed["name"] == "renamed"
    for host in ("node-a", "node-b", "node-c"):
        feed = ok(app_client.get(f"/v2.0/floatnet/hosts/{host}/changes", params={"after": start, "timeout": 0}))
        told = [c for c in feed["changes"] if c["id"] == router["id"]]
        assert len(told) >= 2, (host, feed["changes"])  # the create and the rename
