"""l3-ha (issue 15): an HA router's interface and gateway ports are bound to the host whose replica reports
``active``, as Neutron's ``l3_hamode_db`` rebinds them on an agent's ``ha_state`` report — the binding follows
a failover, a ``standby`` report or no active replica at all leaves it where it is, and the replicas' own HA
ports stay on their hosts. The same scenario through the in-process app and a real listening server."""

from __future__ import annotations

import secrets
from typing import Any

import httpx

from tests.api.helpers import create
from tests.api.test_agent_scheduler import register_node
from tests.api.test_router_ha import HA_OWNER, ok

FOLLOWING = ("network:ha_router_replicated_interface", "network:router_gateway")


def _ha_router_with_ports(client: Any, hosts: tuple[str, str]) -> dict[str, Any]:
    """Two L3 hosts, an HA router with a gateway on a flat external network and an interface on a VLAN one."""
    for host in hosts:
        register_node(client, host)
    tag = secrets.token_hex(3)
    ext = create(client, "network", name=f"ext-{tag}", **{"router:external": True, "provider:network_type": "flat",
                 "provider:physical_network": "public_eth0"})  # fmt: skip
    create(client, "subnet", network_id=ext["id"], cidr="203.0.113.0/24", ip_version=4, enable_dhcp=False)
    net = create(client, "network", name=f"in-{tag}", project_id="alice")
    sub = create(client, "subnet", network_id=net["id"], cidr="10.0.0.0/24", ip_version=4, project_id="alice")
    router = create(client, "router", name=f"r-{tag}", ha=True, project_id="alice",
                    external_gateway_info={"network_id": ext["id"]})  # fmt: skip
    ok(client.put(f"/v2.0/routers/{router['id']}/add_router_interface", json={"subnet_id": sub["id"]}))
    return router


def _ports(client: Any, router_id: str) -> dict[str, dict[str, Any]]:
    """The router's ports by owner (the HA ports by owner and host)."""
    found = ok(client.get("/v2.0/ports", params={"device_id": router_id}))["ports"]
    return {p["device_owner"] + (f"@{p['binding:host_id']}" if p["device_owner"] == HA_OWNER else ""): p
            for p in found}  # fmt: skip


def _report(client: Any, host: str, router_id: str, state: str) -> None:
    ok(client.put(f"/v2.0/floatnet/hosts/{host}/status", json={"ha_states": {router_id: state}}))


def binding_follows_the_active_replica(client: Any, hosts: tuple[str, str]) -> None:
    a, b = hosts
    router = _ha_router_with_ports(client, hosts)
    rid = router["id"]
    before = _ports(client, rid)
    assert set(before) == {*FOLLOWING, f"{HA_OWNER}@{a}", f"{HA_OWNER}@{b}"}

    _report(client, b, rid, "active")
    now = _ports(client, rid)
    for owner in FOLLOWING:
        assert now[owner]["binding:host_id"] == b, now[owner]
        assert now[owner]["binding:vif_type"] == "ovs"
        assert now[owner]["revision_number"] > before[owner]["revision_number"]
    assert now[f"{HA_OWNER}@{a}"] == before[f"{HA_OWNER}@{a}"]  # the replicas' own HA ports stay put

    _report(client, a, rid, "standby")  # a standby report moves nothing
    assert {owner: _ports(client, rid)[owner]["binding:host_id"] for owner in FOLLOWING} == dict.fromkeys(FOLLOWING, b)

    _report(client, b, rid, "standby")  # the failover: b lost the role, a took it over
    _report(client, a, rid, "active")
    after = _ports(client, rid)
    assert {owner: after[owner]["binding:host_id"] for owner in FOLLOWING} == dict.fromkeys(FOLLOWING, a)
    _report(client, a, rid, "active")  # the same report again: nothing to move, no new revision
    assert _ports(client, rid) == after

    _report(client, a, rid, "standby")  # no replica active at all: the ports stay with the last active host
    assert {owner: _ports(client, rid)[owner]["binding:host_id"] for owner in FOLLOWING} == dict.fromkeys(FOLLOWING, a)


def test_ha_router_ports_are_bound_to_the_active_replicas_host(app_client: Any) -> None:
    binding_follows_the_active_replica(app_client, ("node-a", "node-b"))


def test_ha_router_ports_are_bound_to_the_active_replicas_host_live(live_server: str) -> None:
    with httpx.Client(base_url=live_server, timeout=30) as client:
        tag = secrets.token_hex(3)
        binding_follows_the_active_replica(client, (f"bind-a-{tag}", f"bind-b-{tag}"))
