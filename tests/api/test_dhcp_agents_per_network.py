"""``[DEFAULT] dhcp_agents_per_network`` = 2 (issue 14): each network's DHCP on two agents, each with its own DHCP
port; a joining agent moves nothing; a dead agent's share moves (only it, only with failover); every DHCP host is
told of the network's changes and is a VXLAN peer; the scheduler API through a real server."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import update

from floatnet.db.models import Agent, utcnow
from tests.api.helpers import assert_error, network, port, subnet
from tests.conftest import DEFAULT_INI

TWO = DEFAULT_INI.replace("[DEFAULT]\n", "[DEFAULT]\ndhcp_agents_per_network = 2\n")
TWO_NO_FAILOVER = TWO.replace("[DEFAULT]\n", "[DEFAULT]\nallow_automatic_dhcp_failover = false\n")
MEMBER = {"X-Project-Id": "alice", "X-Roles": "member"}
READER = {"X-Project-Id": "alice", "X-Roles": "reader"}


def report(client: Any, host: str, tunnel_ip: str = "", dhcp: bool = True) -> dict[str, str]:
    """One node's report (its DHCP agent unless a compute node, and its Open vSwitch agent); agent id by type."""
    ovs = {"host": host, "agent_type": "Open vSwitch agent", "configurations": {"tunneling_ip": tunnel_ip}}
    body = {"agents": [{"host": host, "agent_type": "DHCP agent"}, ovs] if dhcp else [ovs]}
    response = client.post("/v2.0/floatnet/agents", json=body)
    assert response.status_code in (200, 201), response.text
    return {agent["agent_type"]: agent["id"] for agent in response.json()["agents"]}


def age(client: Any, host: str) -> None:
    """``host``'s agents last reported a minute ago: dead."""
    old = utcnow() - timedelta(seconds=60)
    stmt = update(Agent).where(Agent.host == host).values(heartbeat_timestamp=old)
    client.app.state.core.db.run(lambda session: session.execute(stmt))


def served(client: Any, hosts: list[str]) -> dict[str, dict[str, dict[str, Any]]]:
    """Host -> network id -> the DHCP section of its state answer (networks it serves)."""
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for host in hosts:
        answer = client.get(f"/v2.0/floatnet/hosts/{host}/state").json()
        found[host] = {n["id"]: n["dhcp"] for n in answer["networks"] if n["dhcp"]}
    return found


def placement(client: Any, hosts: list[str]) -> dict[str, set[str]]:
    """Network id -> the hosts serving its DHCP."""
    found: dict[str, set[str]] = {}
    for host, networks in served(client, hosts).items():
        for network_id in networks:
            found.setdefault(network_id, set()).add(host)
    return found


def networks_with_dhcp(client: Any, count: int, start: int = 0) -> list[str]:
    ids = []
    for index in range(start, start + count):
        net = network(client, name=f"n{index}")
        subnet(client, net["id"], f"10.70.{index}.0/24")
        ids.append(net["id"])
    return ids


def three_nodes(make_app_client: Any, ini: str, networks: int) -> tuple[Any, list[str], list[str]]:
    """A server on ``ini`` with three reporting DHCP nodes and ``networks`` DHCP networks: client, hosts, nets."""
    client = make_app_client(ini)
    hosts = ["node1", "node2", "node3"]
    for host in hosts:
        report(client, host)
    return client, hosts, networks_with_dhcp(client, networks)


def test_each_network_on_two_agents_and_a_join_moves_nothing(make_app_client: Any) -> None:
    client, hosts, nets = three_nodes(make_app_client, TWO, 6)
    vm = port(client, nets[0], **{"binding:host_id": "cmp1"})
    before = placement(client, [*hosts, "node4"])
    assert set(before) == set(nets) and all(len(on) == 2 for on in before.values())
    assert len(set().union(*before.values())) == 3  # spread over the three agents
    sections = served(client, hosts)
    first = [sections[host][nets[0]] for host in sorted(before[nets[0]])]
    assert first[0]["port"]["id"] != first[1]["port"]["id"]  # each DHCP host its own port and address
    for host in before[nets[0]]:  # Neutron's per-host device id: dhcp<uuid5(short host name)>-<network>
        params = {"network_id": nets[0], "device_owner": "network:dhcp", "binding:host_id": host}
        [dhcp] = client.get("/v2.0/ports", params=params).json()["ports"]
        assert dhcp["device_id"] == f"dhcp{uuid.uuid5(uuid.NAMESPACE_DNS, host)}-{nets[0]}"
    assert {s["port"]["fixed_ips"][0]["ip_address"] for s in first} == {"10.70.0.2", "10.70.0.3"}
    assert all([h["port_id"] for h in s["hosts"]] == [vm["id"]] for s in first)  # the full host list, both
    report(client, "node4")
    for host in hosts:
        report(client, host)
    assert placement(client, [*hosts, "node4"]) == before  # the join moved nothing
    later = networks_with_dhcp(client, 8, start=6)
    now = placement(client, [*hosts, "node4"])
    assert all(len(now[n]) == 2 for n in later) and any("node4" in now[n] for n in later)


def _dhcp_addresses(client: Any, network_id: str) -> dict[str, str]:
    params = {"network_id": network_id, "device_owner": "network:dhcp"}
    ports = client.get("/v2.0/ports", params=params).json()["ports"]
    return {p["binding:host_id"]: p["fixed_ips"][0]["ip_address"] for p in ports}


def test_failover_moves_only_the_dead_agents_share(make_app_client: Any) -> None:
    client, hosts, nets = three_nodes(make_app_client, TWO, 6)
    before = placement(client, hosts)
    dead = "node1"
    addresses = {n: _dhcp_addresses(client, n) for n in nets}
    age(client, dead)
    for host in hosts[1:]:
        report(client, host)
    after = placement(client, hosts)
    for network_id in nets:
        if dead not in before[network_id]:
            assert after[network_id] == before[network_id]
            continue
        kept = before[network_id] - {dead}
        assert after[network_id] == {"node2", "node3"} and kept < after[network_id]
        (moved_to,) = after[network_id] - kept
        now = _dhcp_addresses(client, network_id)
        assert now[moved_to] == addresses[network_id][dead]  # the dead agent's port handed over, address kept
        assert set(now) == after[network_id]


def test_without_failover_the_other_agent_still_serves(make_app_client: Any) -> None:
    client, hosts, nets = three_nodes(make_app_client, TWO_NO_FAILOVER, 4)
    before = placement(client, hosts)
    age(client, "node1")
    report(client, "node2")
    report(client, "node3")
    assert placement(client, hosts) == before  # nothing moved...
    for network_id in nets:  # ...and every network is still served by a live agent: N=2 is the redundancy
        assert before[network_id] - {"node1"}


def test_every_dhcp_host_is_told_and_is_a_vxlan_peer(make_app_client: Any) -> None:
    client = make_app_client(TWO)
    for index, host in enumerate(("node1", "node2"), start=1):
        report(client, host, f"192.0.2.{index}")
    report(client, "cmp1", "192.0.2.9", dhcp=False)
    net = network(client, name="vx", **{"provider:network_type": "vxlan"})
    subnet(client, net["id"], "10.71.0.0/24")
    seqs = {h: client.get(f"/v2.0/floatnet/hosts/{h}/changes", params={"timeout": 0}).json()["seq"]
            for h in ("node1", "node2")}  # fmt: skip
    vm = port(client, net["id"], **{"binding:host_id": "cmp1"})
    for host, seq in seqs.items():  # both DHCP hosts hear of the new port (their host lists change)
        changes = client.get(f"/v2.0/floatnet/hosts/{host}/changes", params={"timeout": 0, "after": seq}).json()
        assert vm["id"] in {c["id"] for c in changes["changes"]}
    on_compute = client.get("/v2.0/floatnet/hosts/cmp1/state").json()["networks"]
    assert on_compute[0]["tunnel_peers"] == ["192.0.2.1", "192.0.2.2"]  # floods reach both DHCP hosts
    on_dhcp = client.get("/v2.0/floatnet/hosts/node1/state").json()["networks"]
    assert on_dhcp[0]["tunnel_peers"] == ["192.0.2.2", "192.0.2.9"]


def test_scheduler_api_live(live_server_factory: Any) -> None:
    """Through a real server with two agents per network: a third agent may be added (admin), the hosting
    agents listed and one removed; members and readers are refused every scheduler call."""
    url = live_server_factory(TWO)
    with httpx.Client(base_url=url, timeout=60) as api:
        ids = {host: report(api, host)["DHCP agent"] for host in ("node1", "node2", "node3")}
        net = network(api, name="live")
        subnet(api, net["id"], "10.72.0.0/24")
        hosting = api.get(f"/v2.0/networks/{net['id']}/dhcp-agents").json()["agents"]
        assert len(hosting) == 2
        (third,) = set(ids.values()) - {a["id"] for a in hosting}
        calls = (
            ("POST", f"/v2.0/agents/{third}/dhcp-networks", {"network_id": net["id"]}),
            ("GET", f"/v2.0/agents/{third}/dhcp-networks", None),
            ("GET", f"/v2.0/networks/{net['id']}/dhcp-agents", None),
            ("DELETE", f"/v2.0/agents/{hosting[0]['id']}/dhcp-networks/{net['id']}", None),
        )
        for headers in (MEMBER, READER):
            for method, path, body in calls:
                assert_error(api.request(method, path, json=body, headers=headers), 403, "PolicyNotAuthorized")
        assert api.post(calls[0][1], json=calls[0][2]).status_code == 201
        assert_error(api.post(calls[0][1], json=calls[0][2]), 409, "NetworkHostedByDHCPAgent", third)
        assert len(api.get(calls[2][1]).json()["agents"]) == 3
        assert len(_dhcp_addresses(api, net["id"])) == 3
        assert api.delete(calls[3][1]).status_code == 204
        left = {a["id"] for a in api.get(calls[2][1]).json()["agents"]}
        assert left == {hosting[1]["id"], third}
        assert set(_dhcp_addresses(api, net["id"])) == {a["host"] for a in hosting[1:]} | {
            host for host, agent_id in ids.items() if agent_id == third
        }
