"""Manual (re)scheduling reaches the dataplane (issue 21: ``l3_agent_scheduler``, ``dhcp_agent_scheduler``).

One real ``floatnet agent`` (this node) and a second registered node that has no agent process (its rows are
reported through the API, as a second agent would): moving a router / a network's DHCP server to the other
node makes this node's agent remove the ``qrouter-`` / ``qdhcp-`` namespace (and dnsmasq) from the kernel;
moving it back builds it again. Oracles: ``ip netns`` and ``/proc`` (the agent's own view is not asked).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from floatnet.lab.client import LabClient
from floatnet.linux import netns as fl_netns
from floatnet.linux.names import dhcp_ns, router_ns
from tests.dataplane.conftest import OvsEnv, sh
from tests.dataplane.test_agent_dataplane import AgentProc, World, wait_for


@pytest.fixture(scope="module")
def world(live_server: str, ovs: OvsEnv, run_prefix: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    agent = AgentProc(tmp_path_factory.mktemp("agent"), live_server, f"{run_prefix}-node", ovs)
    w = World(LabClient(live_server), agent, ovs, run_prefix)
    agent.start()
    try:
        yield w
    finally:
        agent.stop()
        for ns in sorted(w.namespaces):
            fl_netns.kill_processes(ns)
            fl_netns.delete(ns)


def _agents(api: LabClient, host: str) -> dict[str, str]:
    """The agent ids of ``host`` by type (waits for its first report)."""
    found = api.call("GET", "/agents", params={"host": host})["agents"]
    return {a["agent_type"]: a["id"] for a in found}


def _move(api: LabClient, hosted: str, key: str, resource_id: str, to_agent: str, parent: str, hosting: str) -> None:
    """Remove the resource from the agent hosting it, then add it to ``to_agent`` (Neutron's two steps)."""
    for current in api.call("GET", f"/{parent}/{resource_id}/{hosting}")["agents"]:
        api.call("DELETE", f"/agents/{current['id']}/{hosted}/{resource_id}")
    api.call("POST", f"/agents/{to_agent}/{hosted}", {key: resource_id})


def _dnsmasq_in(ns: str) -> bool:
    pids = sh(["ip", "netns", "pids", ns]).split() if fl_netns.exists(ns) else []
    return any(b"dnsmasq" in Path(f"/proc/{pid}/cmdline").read_bytes() for pid in pids)


def test_router_and_dhcp_move_off_this_node_and_back(world: World) -> None:
    api, agent = world.api, world.agent
    agent.first_sync()
    here = wait_for(lambda: _agents(api, agent.host).get("L3 agent") and _agents(api, agent.host), 20, "agents")
    other_host = f"{world.prefix}-other"
    for agent_type in ("L3 agent", "DHCP agent"):
        api.call("POST", "/floatnet/agents", {"agent": {"host": other_host, "agent_type": agent_type}})
    there = _agents(api, other_host)
    net = api.create("network", name="resched", **{"provider:network_type": "vlan",
                     "provider:physical_network": "public_eth1", "provider:segmentation_id": 102})  # fmt: skip
    sub = api.create("subnet", network_id=net["id"], cidr="10.0.20.0/24", ip_version=4, enable_dhcp=True)
    router = api.create("router", name="resched")
    api.call("PUT", f"/routers/{router['id']}/add_router_interface", {"subnet_id": sub["id"]})
    rns, dns = router_ns(router["id"]), dhcp_ns(net["id"])
    world.namespaces.update({rns, dns})
    routers = ("l3-routers", "router_id", router["id"])
    networks = ("dhcp-networks", "network_id", net["id"])
    _move(api, *routers, here["L3 agent"], "routers", "l3-agents")
    _move(api, *networks, here["DHCP agent"], "networks", "dhcp-agents")
    wait_for(lambda: fl_netns.exists(rns), 30, f"{rns} on this node", agent)
    wait_for(lambda: _dnsmasq_in(dns), 30, f"dnsmasq in {dns} on this node", agent)
    _move(api, *routers, there["L3 agent"], "routers", "l3-agents")
    _move(api, *networks, there["DHCP agent"], "networks", "dhcp-agents")
    wait_for(lambda: not fl_netns.exists(rns), 30, f"{rns} removed once the router moved away", agent)
    wait_for(lambda: not _dnsmasq_in(dns), 30, f"dnsmasq of {dns} stopped once DHCP moved away", agent)
    state = api.call("GET", f"/floatnet/hosts/{agent.host}/state")
    assert router["id"] not in {r["id"] for r in state["routers"]}
    _move(api, *routers, here["L3 agent"], "routers", "l3-agents")
    _move(api, *networks, here["DHCP agent"], "networks", "dhcp-agents")
    wait_for(lambda: fl_netns.exists(rns), 30, f"{rns} back on this node", agent)
    wait_for(lambda: _dnsmasq_in(dns), 30, f"dnsmasq back in {dns}", agent)
