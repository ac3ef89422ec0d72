"""Agents: registration/heartbeat, Neutron's agents resource, placement and the host state document."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from floatnet.db.models import Agent, Change, utcnow
from tests.api.l3_world import build, error, ok
from tests.conftest import DEFAULT_INI

MEMBER = {"X-Project-Id": "alice", "X-Roles": "member"}
L3_FAILOVER_INI = DEFAULT_INI.replace("[DEFAULT]\n", "[DEFAULT]\nallow_automatic_l3agent_failover = true\n")


def register(client: Any, host: str, agent_type: str = "L3 agent", **extra: Any) -> dict[str, Any]:
    body = {"agent": {"host": host, "agent_type": agent_type, **extra}}
    return dict(ok(client.post("/v2.0/floatnet/agents", json=body))["agent"])


def state(client: Any, host: str, **filters: Any) -> dict[str, Any]:
    return dict(ok(client.get(f"/v2.0/floatnet/hosts/{host}/state", params=filters)))


def age_heartbeats(client: Any, seconds: int) -> None:
    core = client.app.state.core
    old = utcnow() - timedelta(seconds=seconds)
    core.db.run(lambda s: s.execute(update(Agent).values(heartbeat_timestamp=old)))


def test_register_refresh_and_neutron_view(app_client: Any) -> None:
    agent = register(app_client, "node1", configurations={"bridge_mappings": {"public_eth0": "br-ex"}})
    assert agent["alive"] is True and agent["topic"] == "l3_agent" and agent["binary"] == "floatnet-agent"
    again = register(app_client, "node1", configurations={"routers": 3})
    assert again["id"] == agent["id"] and again["configurations"] == {"routers": 3}
    register(app_client, "node1", "Open vSwitch agent")
    listed = ok(app_client.get("/v2.0/agents"))["agents"]
    assert sorted(a["agent_type"] for a in listed) == ["L3 agent", "Open vSwitch agent"]
    assert ok(app_client.get("/v2.0/agents", params={"agent_type": "L3 agent"}))["agents"][0]["id"] == agent["id"]
    shown = ok(app_client.get(f"/v2.0/agents/{agent['id']}"))["agent"]
    assert shown["host"] == "node1" and " " in shown["heartbeat_timestamp"]
    updated = ok(app_client.put(f"/v2.0/agents/{agent['id']}", json={"agent": {"admin_state_up": False}}))
    assert updated["agent"]["admin_state_up"] is False
    ok(app_client.delete(f"/v2.0/agents/{agent['id']}"), 204)
    error(app_client.get(f"/v2.0/agents/{agent['id']}"), 404, "AgentNotFound")


def test_agents_are_admin_only(app_client: Any) -> None:
    agent = register(app_client, "node1")
    assert ok(app_client.get("/v2.0/agents", headers=MEMBER))["agents"] == []
    error(app_client.get(f"/v2.0/agents/{agent['id']}", headers=MEMBER), 404, "AgentNotFound")
    body = {"agent": {"host": "x", "agent_type": "L3 agent"}}
    error(app_client.post("/v2.0/floatnet/agents", json=body, headers=MEMBER), 403, "PolicyNotAuthorized")
    error(app_client.get("/v2.0/floatnet/hosts/node1/state", headers=MEMBER), 403, "PolicyNotAuthorized")
    assert app_client.post("/v2.0/agents", json={"agent": {}}).status_code == 405


def test_report_validation(app_client: Any) -> None:
    error(app_client.post("/v2.0/floatnet/agents", json={"agent": {"host": "h"}}), 400, "HTTPBadRequest")
    body = {"agent": {"host": "", "agent_type": "L3 agent"}}
    error(app_client.post("/v2.0/floatnet/agents", json=body), 400, "BadRequest")


def test_alive_follows_the_heartbeat(app_client: Any) -> None:
    register(app_client, "node1")
    age_heartbeats(app_client, 60)
    assert ok(app_client.get("/v2.0/agents"))["agents"][0]["alive"] is False
    assert register(app_client, "node1")["alive"] is True


def _placed(client: Any, hosts: tuple[str, ...]) -> dict[str, set[str]]:
    return {host: {r["id"] for r in state(client, host)["routers"]} for host in hosts}


def _dhcp_hosts(client: Any, hosts: tuple[str, ...]) -> list[str]:
    return [h for h in hosts if any(n["dhcp"] for n in state(client, h)["networks"])]


def _agents(client: Any, *hosts: str) -> None:
    for host in hosts:
        register(client, host)
        register(client, host, "DHCP agent")


def test_placement_is_stable_and_fails_over_as_configured(app_client: Any) -> None:
    """Each router and DHCP server on one host; a joining agent takes nothing placed; a dead agent keeps its
    routers (allow_automatic_l3agent_failover is off by default, as Neutron) but its DHCP servers move
    (allow_automatic_dhcp_failover is on)."""
    world = build(app_client)
    ok(app_client.put("/v2.0/quotas/admin", json={"quota": {"router": -1}}))
    routers = {world.router(f"r{i}", gateway=False, interface=False) for i in range(8)}
    hosts = ("node1", "node2")
    _agents(app_client, *hosts)
    placed = _placed(app_client, hosts)
    assert placed == {"node1": routers, "node2": set()}  # bound when node1 reported; node2 joined later
    assert _dhcp_hosts(app_client, hosts) == ["node1"]
    newer = {world.router(f"n{i}", gateway=False, interface=False) for i in range(16)}
    _agents(app_client, "node2")  # binds the new routers where the computation over both agents put them
    after = _placed(app_client, hosts)
    assert after["node1"] >= routers and after["node1"] | after["node2"] == routers | newer
    assert after["node2"] and not after["node1"] & after["node2"]  # new routers spread over both
    age_heartbeats(app_client, 60)
    _agents(app_client, "node2")
    assert _placed(app_client, hosts) == after  # node1 is dead: its routers wait for it
    assert _dhcp_hosts(app_client, hosts) == ["node2"]


def test_l3_failover_moves_a_dead_agents_routers(make_app_client: Any) -> None:
    client = make_app_client(L3_FAILOVER_INI)
    world = build(client)
    routers = {world.router(f"r{i}", gateway=False, interface=False) for i in range(4)}
    _agents(client, "node1", "node2")
    seq = int(ok(client.get("/v2.0/floatnet/hosts/node2/changes", params={"timeout": 0}))["seq"])
    age_heartbeats(client, 60)
    _agents(client, "node2")
    assert _placed(client, ("node1", "node2")) == {"node1": set(), "node2": routers}
    moved = ok(client.get("/v2.0/floatnet/hosts/node2/changes", params={"timeout": 0, "after": seq}))["changes"]
    assert routers <= {c["router_id"] for c in moved if c["kind"] == "router"}  # the agents are told


def test_routers_and_dhcp_only_where_the_role_is(make_app_client: Any) -> None:
    """A compute node (``[agent] roles = compute``: only its Open vSwitch agent row) never hosts a router or
    a DHCP server, not even while the network node is dead and failover is on: with no live agent of the
    role, placement waits for one (Neutron schedules only to agents of the type)."""
    client = make_app_client(L3_FAILOVER_INI)
    world = build(client)
    routers = {world.router(f"r{i}", gateway=False, interface=False) for i in range(4)}
    _agents(client, "net1")
    register(client, "cmp1", "Open vSwitch agent")
    hosts = ("net1", "cmp1")
    assert _placed(client, hosts) == {"net1": routers, "cmp1": set()}
    assert _dhcp_hosts(client, hosts) == ["net1"]
    age_heartbeats(client, 60)
    register(client, "cmp1", "Open vSwitch agent")
    routers.add(world.router("late", gateway=False, interface=False))  # unbound: no live L3 agent to bind to
    assert _placed(client, hosts) == {"net1": routers, "cmp1": set()}
    assert _dhcp_hosts(client, hosts) == ["net1"]
    _agents(client, "net2")  # a second network node: the dead one's routers and DHCP move there, not to cmp1
    assert _placed(client, ("net1", "net2", "cmp1")) == {"net1": set(), "net2": routers, "cmp1": set()}
    assert _dhcp_hosts(client, ("net1", "net2", "cmp1")) == ["net2"]


def test_state_of_a_router_host(app_client: Any) -> None:
    world = build(app_client)
    register(app_client, "node1")
    router_id = world.router()
    port = world.port(**{"binding:host_id": "node1"})
    fip = world.fip(port_id=port["id"])
    doc = state(app_client, "node1")
    assert doc["complete"] is True and doc["absent"] == {"routers": [], "networks": [], "ports": []}
    [router] = doc["routers"]
    assert router["id"] == router_id and router["gateway"]["bridge"] == "br-ex"
    assert router["gateway"]["gateway_ip"] == "203.0.113.1" and router["gateway"]["prefixlen"] == 24
    [interface] = router["interfaces"]
    assert interface["ip_address"] == "10.0.0.1" and interface["segmentation_id"] == 100
    assert interface["bridge"] == "br-eth1" and interface["network_type"] == "vlan"
    assert router["floatingips"] == [
        {"id": fip["id"], "floating_ip_address": fip["floating_ip_address"], "fixed_ip_address":
         port["fixed_ips"][0]["ip_address"], "port_id": port["id"], "status": "DOWN"}
    ]  # fmt: skip
    assert [p["id"] for p in doc["ports"]] == [port["id"]]
    networks = {n["id"]: n for n in doc["networks"]}
    assert set(networks) == {world.net, world.ext_net}
    dhcp = networks[world.net]["dhcp"]
    assert dhcp["subnets"][0]["gateway_ip"] == "10.0.0.1"
    hostnames = {h["ip_address"]: h["hostname"] for h in dhcp["hosts"]}
    address = port["fixed_ips"][0]["ip_address"]
    assert hostnames[address] == "host-" + address.replace(".", "-")
    assert networks[world.ext_net]["dhcp"] is None
    assert doc["seq"] == int(ok(app_client.get("/v2.0/floatnet/hosts/node1/changes", params={"timeout": 0}))["seq"])


def test_filtered_state_and_absent(app_client: Any) -> None:
    world = build(app_client)
    register(app_client, "node1")
    router_id = world.router(gateway=False, interface=False)
    gone = "6a1f0c8e-8a42-4f3e-9d0e-3cbd8e9b5f00"
    doc = state(app_client, "node1", router_id=[router_id, gone], network_id=[gone], port_id=[gone])
    assert doc["complete"] is False
    assert [r["id"] for r in doc["routers"]] == [router_id]
    assert doc["absent"] == {"routers": [gone], "networks": [gone], "ports": [gone]}
    ok(app_client.delete(f"/v2.0/routers/{router_id}"), 204)
    assert state(app_client, "node1", router_id=router_id)["absent"]["routers"] == [router_id]
    bound = world.port(**{"binding:host_id": "node1"})
    by_network = state(app_client, "node1", network_id=world.net)
    assert [p["id"] for p in by_network["ports"]] == [bound["id"]]
    assert [n["id"] for n in by_network["networks"]] == [world.net]
    assert by_network["routers"] == []


def test_port_status_report(app_client: Any) -> None:
    world = build(app_client)
    port = world.port(**{"binding:host_id": "node1"})
    url = "/v2.0/floatnet/hosts/node1/status"
    before = int(ok(app_client.get("/v2.0/floatnet/hosts/node1/changes", params={"timeout": 0}))["seq"])
    assert ok(app_client.put(url, json={"ports": {port["id"]: "ACTIVE"}}))["changed"]["ports"] == 1
    shown = ok(app_client.get(f"/v2.0/ports/{port['id']}"))["port"]
    assert shown["status"] == "ACTIVE" and shown["revision_number"] == port["revision_number"]
    rows = ok(app_client.get("/v2.0/floatnet/hosts/node1/changes", params={"after": before, "timeout": 0}))
    assert rows["changes"] == []  # logged, but no agent is woken for its own echo (issue 16: answers per change)
    logged = app_client.app.state.core.db.run(lambda s: s.execute(select(Change.op, Change.network_id)).all())
    assert [tuple(row) for row in logged][-1] == ("status", world.net)
    error(app_client.put(url, json={"ports": {port["id"]: "UP"}}), 400, "HTTPBadRequest")
    error(app_client.put(url, json={"servers": {}}), 400, "HTTPBadRequest")


def test_network_used_only_by_a_hosted_router_is_not_absent(make_app_client: Any) -> None:
    app_client = make_app_client(L3_FAILOVER_INI)
    world = build(app_client)
    register(app_client, "node1")
    world.router()
    register(app_client, "node1")  # binds the router to node1
    doc = state(app_client, "node1", network_id=world.ext_net)
    assert [n["id"] for n in doc["networks"]] == [world.ext_net] and doc["absent"]["networks"] == []
    register(app_client, "node2")
    age_heartbeats(app_client, 60)
    register(app_client, "node2")  # node1 dead, failover on: the router moves to node2
    assert state(app_client, "node1", network_id=world.ext_net)["absent"]["networks"] == [world.ext_net]


def test_a_binding_is_announced_to_the_host_it_binds_to(app_client: Any) -> None:
    """A network gets its DHCP subnet while two DHCP agents are alive, so the feed tells the host the
    computation picks; that agent dies before any report binds the network, and the next report binds it to
    the other agent. That agent must be told at once — else it builds the DHCP server only at its next full
    resync, a minute later (seen as an instance without a lease under load, when heartbeats run late)."""
    hosts = ("node1", "node2")
    _agents(app_client, *hosts)
    world = build(app_client)  # its networks' DHCP is computed over both agents, bound at the next report
    [first] = _serving(app_client, hosts, world.net)
    [other] = [host for host in hosts if host != first]
    seq = int(ok(app_client.get(f"/v2.0/floatnet/hosts/{other}/changes", params={"timeout": 0}))["seq"])
    old = utcnow() - timedelta(seconds=60)
    core = app_client.app.state.core
    core.db.run(lambda s: s.execute(update(Agent).where(Agent.host == first).values(heartbeat_timestamp=old)))
    _agents(app_client, other)  # binds the networks to the only live DHCP agent
    assert _serving(app_client, hosts, world.net) == [other]
    told = ok(app_client.get(f"/v2.0/floatnet/hosts/{other}/changes", params={"timeout": 0, "after": seq}))
    assert world.net in {c["network_id"] for c in told["changes"] if c["kind"] == "network"}, told


def _serving(client: Any, hosts: tuple[str, ...], network_id: str) -> list[str]:
    """The hosts whose state says they serve DHCP for ``network_id``."""
    return [h for h in hosts if any(n["id"] == network_id and n["dhcp"] for n in state(client, h)["networks"])]
