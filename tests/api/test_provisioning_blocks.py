"""Provisioning blocks (Neutron's): an instance port on a network a live DHCP agent serves goes ``ACTIVE`` only
once its agent reported it wired *and* a DHCP agent of its network reported ``dhcp_ready`` for it — so an
instance booted on ``ACTIVE`` gets its lease at the first DHCPDISCOVER."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from floatnet.agent.client import report_body
from floatnet.core.agent_protocol.provisioning import blocks_of
from floatnet.db.models import Change
from tests.api.helpers import assert_error, network, port, subnet
from tests.api.test_agents import age_heartbeats
from tests.conftest import DEFAULT_INI

DHCP_NODE, COMPUTE = ("Open vSwitch agent", "DHCP agent"), ("Open vSwitch agent",)
MEMBER = {"X-Project-Id": "alice", "X-Roles": "member"}
READER = {"X-Project-Id": "alice", "X-Roles": "reader"}


def join(client: Any, host: str, types: tuple[str, ...]) -> None:
    """``host``'s agent reports (heartbeat) its rows, as the floatnet agent does."""
    response = client.post("/v2.0/floatnet/agents", json=report_body(host, types, {}, "nova"))
    assert response.status_code == 200, response.text


def report(client: Any, host: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    return client.put(f"/v2.0/floatnet/hosts/{host}/status", json=body, headers=headers or {})


def changed(client: Any, host: str, body: dict[str, Any]) -> dict[str, int]:
    response = report(client, host, body)
    assert response.status_code == 200, response.text
    return dict(response.json()["changed"])


def status_of(client: Any, port_id: str) -> str:
    response = client.get(f"/v2.0/ports/{port_id}")
    assert response.status_code == 200, response.text
    return str(response.json()["port"]["status"])


def cloud(client: Any, cidr: str = "10.60.0.0/24") -> tuple[str, dict[str, Any]]:
    """net1 (the DHCP agent) and cmp1 (compute) alive, a network with a DHCP subnet (served by net1) and an
    instance port bound to cmp1."""
    join(client, "net1", DHCP_NODE)
    join(client, "cmp1", COMPUTE)
    net = network(client)
    subnet(client, net["id"], cidr)
    return net["id"], port(client, net["id"], device_owner="compute:nova", **{"binding:host_id": "cmp1"})


def blocks(client: Any, port_id: str) -> frozenset[str]:
    return client.app.state.core.db.run(lambda s: blocks_of(s, [port_id])).get(port_id, frozenset())


def test_a_port_created_on_a_dhcp_served_network_waits_for_dhcp_and_l2(app_client: Any) -> None:
    net_id, vm = cloud(app_client)
    assert vm["status"] == "DOWN" and blocks(app_client, vm["id"]) == {"dhcp", "l2"}
    dhcp_port = app_client.get("/v2.0/ports", params={"network_id": net_id, "device_owner": "network:dhcp"})
    [served] = dhcp_port.json()["ports"]
    assert blocks(app_client, served["id"]) == frozenset()  # the DHCP server's own port waits for nothing
    ok_port = port(app_client, net_id, fixed_ips=[])
    assert blocks(app_client, ok_port["id"]) == frozenset()  # no address: nothing for DHCP to serve


def test_no_block_without_a_live_dhcp_agent(app_client: Any) -> None:
    net = network(app_client)
    subnet(app_client, net["id"], "10.61.0.0/24")
    alone = port(app_client, net["id"], **{"binding:host_id": "cmp1"})  # no DHCP agent ever registered
    assert blocks(app_client, alone["id"]) == frozenset()
    assert changed(app_client, "cmp1", {"ports": {alone["id"]: "ACTIVE"}})["ports"] == 1
    join(app_client, "net1", DHCP_NODE)
    age_heartbeats(app_client, 60)  # net1's agent is dead: nothing would ever lift a block
    dead = port(app_client, net["id"], **{"binding:host_id": "cmp1"})
    assert blocks(app_client, dead["id"]) == frozenset()
    no_dhcp = network(app_client)
    subnet(app_client, no_dhcp["id"], "10.62.0.0/24", enable_dhcp=False)
    join(app_client, "net1", DHCP_NODE)
    assert blocks(app_client, port(app_client, no_dhcp["id"])["id"]) == frozenset()


def test_l2_then_dhcp_ready_makes_the_port_active(app_client: Any) -> None:
    net_id, vm = cloud(app_client)
    assert changed(app_client, "cmp1", {"ports": {vm["id"]: "ACTIVE"}}) == {"ports": 0}
    assert status_of(app_client, vm["id"]) == "DOWN" and blocks(app_client, vm["id"]) == {"dhcp"}
    assert changed(app_client, "net1", {"dhcp_ready": [vm["id"]]}) == {"dhcp_ready": 1}
    assert status_of(app_client, vm["id"]) == "ACTIVE" and blocks(app_client, vm["id"]) == frozenset()
    logged = app_client.app.state.core.db.run(lambda s: s.execute(select(Change.op, Change.resource_id)).all())
    assert tuple(logged[-1]) == ("status", vm["id"])
    assert changed(app_client, "net1", {"dhcp_ready": [vm["id"]]}) == {"dhcp_ready": 0}  # a repeat: nothing


def test_dhcp_ready_then_l2_makes_the_port_active(app_client: Any) -> None:
    _, vm = cloud(app_client)
    assert changed(app_client, "net1", {"dhcp_ready": [vm["id"]]}) == {"dhcp_ready": 1}
    assert status_of(app_client, vm["id"]) == "DOWN"  # served, not wired yet
    assert changed(app_client, "cmp1", {"ports": {vm["id"]: "ACTIVE"}}) == {"ports": 1}
    assert status_of(app_client, vm["id"]) == "ACTIVE"


def test_only_a_dhcp_host_of_the_network_lifts_its_block(app_client: Any) -> None:
    _, vm = cloud(app_client)
    unknown = "6a1f0c8e-8a42-4f3e-9d0e-3cbd8e9b5f00"
    assert changed(app_client, "cmp1", {"dhcp_ready": [vm["id"], unknown]}) == {"dhcp_ready": 0}
    assert blocks(app_client, vm["id"]) == {"dhcp", "l2"}


def test_a_second_dhcp_agent_may_lift_it(make_app_client: Any) -> None:
    client = make_app_client(DEFAULT_INI.replace("[DEFAULT]\n", "[DEFAULT]\ndhcp_agents_per_network = 2\n", 1))
    join(client, "net2", DHCP_NODE)
    _, vm = cloud(client)
    changed(client, "cmp1", {"ports": {vm["id"]: "ACTIVE"}})
    assert changed(client, "net2", {"dhcp_ready": [vm["id"]]}) == {"dhcp_ready": 1}
    assert status_of(client, vm["id"]) == "ACTIVE"


def test_new_addresses_wait_for_dhcp_again(app_client: Any) -> None:
    """An ACTIVE port whose fixed IPs change stays ACTIVE (its wiring is done) but waits for DHCP again; its
    agent reporting it DOWN meanwhile means it waits for its wiring too; a port waiting only for DHCP whose
    address goes away is provisioned at once."""
    net_id, vm = cloud(app_client)
    changed(app_client, "cmp1", {"ports": {vm["id"]: "ACTIVE"}})
    changed(app_client, "net1", {"dhcp_ready": [vm["id"]]})
    body = {"port": {"fixed_ips": [{"ip_address": "10.60.0.50"}]}}
    assert app_client.put(f"/v2.0/ports/{vm['id']}", json=body).json()["port"]["status"] == "ACTIVE"
    assert blocks(app_client, vm["id"]) == {"dhcp"}
    changed(app_client, "cmp1", {"ports": {vm["id"]: "DOWN"}})
    assert blocks(app_client, vm["id"]) == {"dhcp", "l2"}
    changed(app_client, "cmp1", {"ports": {vm["id"]: "ACTIVE"}})
    assert status_of(app_client, vm["id"]) == "DOWN"
    updated = app_client.put(f"/v2.0/ports/{vm['id']}", json={"port": {"fixed_ips": []}}).json()["port"]
    assert updated["status"] == "ACTIVE" and blocks(app_client, vm["id"]) == frozenset()
    renamed = app_client.put(f"/v2.0/ports/{vm['id']}", json={"port": {"name": "renamed"}}).json()["port"]
    assert renamed["status"] == "ACTIVE" and blocks(app_client, vm["id"]) == frozenset()  # no readdressing


def test_a_deleted_port_takes_its_blocks(app_client: Any) -> None:
    _, vm = cloud(app_client)
    assert app_client.delete(f"/v2.0/ports/{vm['id']}").status_code == 204
    assert blocks(app_client, vm["id"]) == frozenset()
    assert changed(app_client, "net1", {"dhcp_ready": [vm["id"]]}) == {"dhcp_ready": 0}


BAD_BODIES = [
    {"dhcp_ready": vm_id}
    for vm_id in ("6a1f0c8e-8a42-4f3e-9d0e-3cbd8e9b5f00", None, 3, {"6a1f0c8e-8a42-4f3e-9d0e-3cbd8e9b5f00": "ACTIVE"})
] + [{"dhcp_ready": [1]}, {"dhcp_ready": [["x"]]}]


def hostile(client: Any, port_id: str) -> None:
    """Every bad ``dhcp_ready`` body is a 400 naming the key; a member or reader may not report at all."""
    for body in BAD_BODIES:
        assert_error(report(client, "net1", body), 400, "HTTPBadRequest", "dhcp_ready")
    for headers in (MEMBER, READER):
        assert_error(report(client, "net1", {"dhcp_ready": [port_id]}, headers), 403, "PolicyNotAuthorized")


def test_hostile_reports(app_client: Any) -> None:
    _, vm = cloud(app_client)
    hostile(app_client, vm["id"])
    assert blocks(app_client, vm["id"]) == {"dhcp", "l2"}


@pytest.fixture
def live(live_server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server, timeout=30) as client:
        yield client


def test_through_a_live_server(live: httpx.Client) -> None:
    _, vm = cloud(live, "10.63.0.0/24")
    hostile(live, vm["id"])
    assert changed(live, "cmp1", {"ports": {vm["id"]: "ACTIVE"}}) == {"ports": 0}
    assert status_of(live, vm["id"]) == "DOWN"
    assert changed(live, "net1", {"dhcp_ready": [vm["id"]]}) == {"dhcp_ready": 1}
    assert status_of(live, vm["id"]) == "ACTIVE"
