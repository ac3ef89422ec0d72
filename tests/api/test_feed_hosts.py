"""The per-host change feed (issue 16): each change reaches exactly the hosts whose state it touches."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx

from tests.api.l3_world import World, build, ok
from tests.api.test_agent_scheduler import register_node

NODES = ("node-a", "node-b", "node-c", "node-d")


def _feed(client: Any, host: str, after: int | None = None, timeout: float = 0) -> dict[str, Any]:
    params: dict[str, Any] = {"timeout": timeout}
    if after is not None:
        params["after"] = after
    return dict(ok(client.get(f"/v2.0/floatnet/hosts/{host}/changes", params=params)))


def _told(client: Any, after: int, resource_id: str) -> set[str]:
    """The nodes whose feed after ``after`` holds a row of ``resource_id``."""
    return {node for node in NODES if any(c["id"] == resource_id for c in _feed(client, node, after)["changes"])}


def _host_of(client: Any, path: str) -> tuple[str, str]:
    [agent] = ok(client.get(path))["agents"]
    return str(agent["host"]), str(agent["id"])


class Cloud:
    """Four registered nodes, the L3 world, its router placed and settled, one port bound to a third node."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.agents = {node: register_node(client, node) for node in NODES}
        self.world: World = build(client)
        self.router = self.world.router()
        for node in NODES:  # the heartbeat binds what is unbound
            register_node(client, node)
        self.r_host, _ = _host_of(client, f"/v2.0/routers/{self.router}/l3-agents")
        self.d_host, _ = _host_of(client, f"/v2.0/networks/{self.world.net}/dhcp-agents")
        spare = [node for node in NODES if node not in (self.r_host, self.d_host)]
        self.p_host, self.idle = spare[0], spare[1]
        self.seq = self.newest()
        self.port = self.world.port(**{"binding:host_id": self.p_host})

    def newest(self) -> int:
        return int(_feed(self.client, "anyone")["seq"])

    def mark(self) -> int:
        self.seq = self.newest()
        return self.seq


def test_ports_and_floating_ips_reach_only_their_hosts(app_client: Any) -> None:
    cloud = Cloud(app_client)
    assert _told(app_client, cloud.seq, cloud.port["id"]) == {cloud.p_host, cloud.d_host}
    fip = cloud.world.fip()
    ok(cloud.world.associate(fip["id"], cloud.port["id"]))
    assert _told(app_client, cloud.seq, fip["id"]) == {cloud.r_host}  # not the port's host, not the idle one
    after = cloud.mark()
    body = {"port": {"binding:host_id": cloud.idle}}
    ok(app_client.put(f"/v2.0/ports/{cloud.port['id']}", json=body))
    assert _told(app_client, after, cloud.port["id"]) == {cloud.p_host, cloud.idle, cloud.d_host}  # old and new
    after = cloud.mark()
    ok(cloud.world.associate(fip["id"], None))
    ok(app_client.delete(f"/v2.0/ports/{cloud.port['id']}"), 204)
    assert _told(app_client, after, cloud.port["id"]) == {cloud.idle, cloud.d_host}


def test_network_changes_reach_dhcp_port_and_router_hosts(app_client: Any) -> None:
    cloud = Cloud(app_client)
    after = cloud.mark()
    ok(app_client.put(f"/v2.0/networks/{cloud.world.net}", json={"network": {"name": "renamed"}}))
    assert _told(app_client, after, cloud.world.net) == {cloud.d_host, cloud.p_host, cloud.r_host}
    status = {"ports": {cloud.port["id"]: "ACTIVE"}}
    ok(app_client.put(f"/v2.0/floatnet/hosts/{cloud.p_host}/status", json=status))
    assert _told(app_client, cloud.mark() - 1, cloud.port["id"]) == set()  # status echoes wake nobody


def test_moves_reach_the_old_and_the_new_host(app_client: Any) -> None:
    cloud = Cloud(app_client)
    target = cloud.p_host if cloud.p_host != cloud.r_host else cloud.idle
    old_agent = cloud.agents[cloud.r_host]["L3 agent"]
    after = cloud.mark()
    ok(app_client.delete(f"/v2.0/agents/{old_agent}/l3-routers/{cloud.router}"), 204)
    ok(app_client.post(f"/v2.0/agents/{cloud.agents[target]['L3 agent']}/l3-routers",
                       json={"router_id": cloud.router}), 201)  # fmt: skip
    assert _told(app_client, after, cloud.router) == {cloud.r_host, target}
    dhcp_agent = cloud.agents[cloud.d_host]["DHCP agent"]
    after = cloud.mark()
    ok(app_client.delete(f"/v2.0/agents/{dhcp_agent}/dhcp-networks/{cloud.world.net}"), 204)
    told = _told(app_client, after, cloud.world.net)
    assert cloud.d_host in told and cloud.idle not in told  # the old DHCP host tears it down


def test_router_delete_reaches_its_host(app_client: Any) -> None:
    cloud = Cloud(app_client)
    router = ok(app_client.post("/v2.0/routers", json={"router": {"name": "lonely"}}), 201)["router"]["id"]
    for node in NODES:
        register_node(app_client, node)
    host, _ = _host_of(app_client, f"/v2.0/routers/{router}/l3-agents")
    after = cloud.mark()
    ok(app_client.delete(f"/v2.0/routers/{router}"), 204)
    assert _told(app_client, after, router) == {host}  # its binding went with it, the host was named before


def test_without_agents_every_host_is_told_and_idle_cursors_keep_up(app_client: Any) -> None:
    start = int(_feed(app_client, "x")["seq"])
    router = ok(app_client.post("/v2.0/routers", json={"router": {"name": "r"}}), 201)["router"]["id"]
    assert [c["id"] for c in _feed(app_client, "whoever", start)["changes"]] == [router]  # placed on the asker
    register_node(app_client, "node-a")
    app_client.post("/v2.0/routers", json={"router": {"name": "r2"}})
    newest = int(_feed(app_client, "x")["seq"])
    assert _feed(app_client, "node-z", start + 1) == {"seq": newest, "changes": []}  # no row: cursor at newest


def test_a_long_poll_wakes_only_for_its_host(live_server_factory: Any) -> None:
    url = live_server_factory()
    with httpx.Client(base_url=url, timeout=30) as client:
        cloud = Cloud(client)
        fip = cloud.world.fip()
        after = cloud.mark()
        results: dict[str, Any] = {}

        def poll(host: str) -> None:
            body = _feed(client, host, after, timeout=2)
            results[host] = (time.monotonic(), body["changes"])

        threads = [threading.Thread(target=poll, args=(host,)) for host in (cloud.r_host, cloud.idle)]
        for thread in threads:
            thread.start()
        time.sleep(0.3)
        ok(cloud.world.associate(fip["id"], cloud.port["id"]))
        done = time.monotonic()
        for thread in threads:
            thread.join(10)
        at, rows = results[cloud.r_host]
        assert [c["id"] for c in rows] == [fip["id"]] and at - done < 0.5
        assert results[cloud.idle][1] == []  # the idle host's poll ran to its timeout


def test_a_port_bound_on_a_vxlan_network_reaches_every_carrier(app_client: Any) -> None:
    """A new carrier of a vxlan network changes every carrier's tunnel peers, so all of them are told; a VLAN
    network's port reaches only its own host (no security groups here: those have their own fan-out)."""
    for node in NODES:
        register_node(app_client, node)
    nets = {}
    for kind, seg in (("vxlan", 77), ("vlan", 101)):
        body = {"network": {"name": kind, "provider:network_type": kind, "provider:segmentation_id": seg}}
        if kind == "vlan":
            body["network"]["provider:physical_network"] = "public_eth1"
        nets[kind] = ok(app_client.post("/v2.0/networks", json=body), 201)["network"]["id"]
    told = {}
    for kind, net in nets.items():
        port = {"port": {"network_id": net, "binding:host_id": "node-a", "port_security_enabled": False}}
        ok(app_client.post("/v2.0/ports", json=port), 201)
        after = int(_feed(app_client, "anyone")["seq"])
        port["port"]["binding:host_id"] = "node-b"
        second = ok(app_client.post("/v2.0/ports", json=port), 201)["port"]["id"]
        told[kind] = _told(app_client, after, second)
    assert told == {"vxlan": {"node-a", "node-b"}, "vlan": {"node-b"}}


def test_a_new_member_reaches_the_hosts_whose_rules_name_its_group(app_client: Any) -> None:
    """A port created in the default group (whose rules name the group itself as remote group) grows the
    member set of every host with a port in that group: its own row reaches them, whether it is bound or not
    (the create hands the feed its groups instead of the feed reading them back)."""
    for node in NODES:
        register_node(app_client, node)
    net = ok(app_client.post("/v2.0/networks", json={"network": {"name": "members"}}), 201)["network"]["id"]
    first = {"port": {"network_id": net, "binding:host_id": "node-a"}}
    ok(app_client.post("/v2.0/ports", json=first), 201)
    after = int(_feed(app_client, "anyone")["seq"])
    unbound = ok(app_client.post("/v2.0/ports", json={"port": {"network_id": net}}), 201)["port"]["id"]
    bound = {"port": {"network_id": net, "binding:host_id": "node-b"}}
    second = ok(app_client.post("/v2.0/ports", json=bound), 201)["port"]["id"]
    assert _told(app_client, after, unbound) == {"node-a"}
    assert _told(app_client, after, second) == {"node-a", "node-b"}
    insecure = {"port": {"network_id": net, "binding:host_id": "node-c", "port_security_enabled": False}}
    assert _told(app_client, after, ok(app_client.post("/v2.0/ports", json=insecure), 201)["port"]["id"]) == {
        "node-c"
    }  # in no group: only its own host


def test_polls_begun_together_expire_apart(live_server: str) -> None:
    """Agents that began polling together (a server restart) must not all get their empty answers in one
    burst: a thousand reads at once delayed the woken polls behind them by half a second (issue 16's p99).
    Each poll expires at a random moment of its timeout's last tenth, never before."""
    timeout, polls = 2.0, 30
    answered: list[float] = []
    with httpx.Client(base_url=live_server, timeout=30) as client:
        after = int(_feed(client, "anyone")["seq"])
        began = time.monotonic()

        def poll(index: int) -> None:
            assert _feed(client, f"herd-{index}", after, timeout=timeout)["changes"] == []
            answered.append(time.monotonic() - began)

        threads = [threading.Thread(target=poll, args=(index,)) for index in range(polls)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert len(answered) == polls
    assert min(answered) >= timeout * 0.9 - 0.05, answered
    assert max(answered) - min(answered) >= 0.1, sorted(answered)  # uniform over 0.2 s: ~0.19 apart
