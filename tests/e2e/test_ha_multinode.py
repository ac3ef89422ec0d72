"""HA routers across lab nodes (issue 15): two network nodes each run a replica of an HA router, its VRRP
crossing the lab switch on the HA network's VLAN; exactly one replica is active (``l3-agents`` says so and the
upstream sees one answer for the floating IP); a power loss of the active node moves the floating IP to the other
replica (judged at the upstream, with ``floatnet.lab.hawatch`` probing at 20 Hz), ``ha_state`` follows and so
does the router ports' ``binding:host_id``, the node coming back takes nothing back (``nopreempt``: 0 lost
probes), and no ARP probe is ever answered by two replicas.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from floatnet.core.agent_protocol import ha_binding
from floatnet.lab import hawatch
from tests.e2e.cluster import Cluster, make_cluster
from tests.e2e.fabric import wait_until
from tests.e2e.test_multinode import _vlan_network, _vm
from tests.e2e.topology import whoami

NETWORK_NODES = ("net1", "net2")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    for cluster in make_cluster():
        text = cluster.config_path.read_text()  # the nodes' agents are given the lab's tuned advert interval
        cluster.config_path.write_text(
            text.replace("[DEFAULT]\n", f"[DEFAULT]\nha_vrrp_advert_int = {hawatch.TUNED_ADVERT_INT}\n")
        )
        yield cluster


def ha_states(cluster: Cluster, router_id: str) -> dict[str, str]:
    """Host -> ``ha_state`` of each replica, as ``GET /routers/{id}/l3-agents`` shows it."""
    return {a["host"]: a["ha_state"] for a in cluster.api("GET", f"/routers/{router_id}/l3-agents")["agents"]}


def _holders(cluster: Cluster, router_id: str, fip: str, hosts: tuple[str, ...]) -> list[str]:
    """The nodes whose replica holds the floating IP (read inside each node)."""
    argv = ("ip", "netns", "exec", f"qrouter-{router_id}", "ip", "-4", "-br", "addr", "show")
    return [h for h in hosts if f"{fip}/32" in cluster.on_node(h, *argv).stdout]


def _ha_router(cluster: Cluster) -> tuple[dict[str, Any], str]:
    """Public network, a VLAN network with vm1 on the compute node, an HA router between them, vm1's floating IP."""
    public = cluster.public_network()
    cluster.cli("security-group-rule-create", "--direction", "ingress", "--remote-ip-prefix", "0.0.0.0/0",
                "default")  # fmt: skip
    blue = _vlan_network(cluster, "blue", 100, "10.0.0.0/24", port_security=True)
    vm1 = _vm(cluster, "vm1", blue, "cmp1")
    router = cluster.api("POST", "/routers", json={"router": {
        "name": "r1", "ha": True, "external_gateway_info": {"network_id": public["id"]}}})["router"]  # fmt: skip
    [subnet] = cluster.api("GET", "/subnets", params={"network_id": blue})["subnets"]
    cluster.api("PUT", f"/routers/{router['id']}/add_router_interface", json={"subnet_id": subnet["id"]})
    fip = cluster.api("POST", "/floatingips", json={"floatingip": {
        "floating_network_id": public["id"], "port_id": vm1["port"]["id"]}})["floatingip"]  # fmt: skip
    return router, str(fip["floating_ip_address"])


def _one_active(cluster: Cluster, router_id: str) -> str | None:
    states = ha_states(cluster, router_id)
    active = [host for host, state in states.items() if state == "active"]
    assert len(active) <= 1, f"two active replicas: {states}"
    return active[0] if len(active) == 1 and len(states) == 2 else None


def _bound_to(cluster: Cluster, router_id: str) -> set[str]:
    """The hosts the router's interface and gateway ports are bound to (Neutron's: the active replica's)."""
    ports = cluster.api("GET", "/ports", params={"device_id": router_id})["ports"]
    return {p["binding:host_id"] for p in ports if p["device_owner"] in ha_binding.FOLLOWING}


def _dead_devices(cluster: Cluster, host: str, router_id: str) -> list[str]:
    """The router's ``qr-``/``qg-``/``ha-`` devices on ``host`` without carrier, either end (the namespace's,
    or the OVS side's in the node's own namespace): keepalived holds such a replica in FAULT."""
    dead = []
    for where in (("ip", "netns", "exec", f"qrouter-{router_id}"), ()):
        for line in cluster.on_node(host, *where, "ip", "-br", "link", "show").stdout.splitlines():
            dev, _state, *rest = line.split()
            if dev.split("@")[0].startswith(("qr-", "qg-", "ha-")) and "LOWER_UP" not in " ".join(rest):
                dead.append(f"{'ns' if where else 'ovs'}:{line}")
    return dead


def test_ha_router_fails_over_between_network_nodes(cluster: Cluster) -> None:
    cluster.lab("node", "add", "net1", "--roles", "l3,dhcp")
    cluster.lab("node", "add", "net2", "--roles", "l3")
    cluster.lab("node", "add", "cmp1", "--roles", "compute")
    router, fip = _ha_router(cluster)
    rid, upstream = router["id"], f"{cluster.prefix}upstream"
    active = wait_until(lambda: _one_active(cluster, rid), 60, "one active replica of two")
    standby = next(h for h in NETWORK_NODES if h != active)
    wait_until(lambda: (whoami(upstream, fip) or {}).get("server") == "vm1", 60, f"{fip} answering")
    assert _holders(cluster, rid, fip, NETWORK_NODES) == [active]
    wait_until(lambda: _bound_to(cluster, rid) == {active}, 30, f"the router's ports bound to {active}")
    standby_ha = ("ip", "netns", "exec", f"qrouter-{rid}", "ip", "-4", "-br", "addr", "show")
    wait_until(lambda: "169.254.19" in cluster.on_node(standby, *standby_ha).stdout, 60, f"{standby}'s replica")

    watcher = hawatch.Watcher(upstream, fip, rate=20)
    time.sleep(2)
    failed_at = time.time()
    cluster.lab("node", "fail", active)
    wait_until(lambda: _one_active(cluster, rid) == standby, 60, f"{standby} reported active", interval=0.2)
    wait_until(lambda: (whoami(upstream, fip, timeout=0.5) or {}).get("server") == "vm1", 30, "the failover")
    assert _holders(cluster, rid, fip, (standby,)) == [standby]
    wait_until(lambda: _bound_to(cluster, rid) == {standby}, 30, f"the router's ports follow to {standby}")
    time.sleep(2)
    recovered_at = time.time()
    cluster.lab("node", "recover", active)
    cluster.wait_agents(active, alive=True)
    wait_until(lambda: ha_states(cluster, rid) == {active: "standby", standby: "active"}, 60,
               f"{active} back as standby")  # fmt: skip
    time.sleep(3)
    record = watcher.stop()

    assert hawatch.outages(record, end=failed_at) == [], "the floating IP answered steadily before the failure"
    assert len(hawatch.macs(record, end=failed_at)) == 1
    [outage] = hawatch.outages(record, start=failed_at, end=recovered_at)
    print(f"failover: {fip} lost {outage['lost']} probes, {outage['seconds']:.2f} s after node fail {active}")
    assert outage["seconds"] < 10
    after = hawatch.outages(record, start=recovered_at)
    assert after == [], f"{active} came back and took something: {after}"  # nopreempt, and a quiet standby
    assert _holders(cluster, rid, fip, NETWORK_NODES) == [standby]
    twice = [round(d["at"] - recovered_at, 2) for d in hawatch.duplicates(record)]
    assert twice == [], f"two replicas answered ARP for the floating IP at once, s after the recovery: {twice}"
    assert record["answers"], "the ARP probes were answered"

    # the node that came back is a working standby: a second failover lands on it (issue 15: a device left
    # without carrier after its reboot kept its keepalived in FAULT, and that failover never completed)
    wait_until(lambda: _dead_devices(cluster, active, rid) == [], 10, f"every device of {active}'s replica up")
    watcher = hawatch.Watcher(upstream, fip, rate=20)
    time.sleep(1)
    failed_again_at = time.time()
    cluster.lab("node", "fail", standby)
    wait_until(lambda: (whoami(upstream, fip, timeout=0.5) or {}).get("server") == "vm1", 30, "the failover back")
    record = watcher.stop()
    [outage] = hawatch.outages(record, start=failed_again_at)
    assert outage["seconds"] < 10
    assert _holders(cluster, rid, fip, (active,)) == [active]
    assert hawatch.duplicates(record) == []
