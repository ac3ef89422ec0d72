"""Two ``floatnet server`` processes on one PostgreSQL with the multi-node lab's agents spread across them
(issue 14): ``lab node add --server URL`` points a node's agent (through its relay) at the second server, and
what is written through either server reaches the nodes following the other one — the router, DHCP and a
floating IP work end to end with real traffic."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from floatnet.lab.procs import cmdline
from tests.conftest import free_port
from tests.e2e.cluster import Cluster, make_cluster
from tests.e2e.fabric import PHYSNET_EXT, PHYSNET_VLAN, wait_until
from tests.e2e.topology import whoami

SECOND = "server_b"


@pytest.fixture(scope="module")
def cluster(postgres_url: str) -> Iterator[tuple[Cluster, str]]:
    """The e2e cluster on PostgreSQL plus a second server on the same database; yields it and that server's
    URL (stopped by PID before the cluster's own teardown checks for leftovers)."""
    made = make_cluster(postgres_url)
    cluster = next(made)
    port = free_port()
    config = cluster.workdir / "server_b.ini"
    config.write_text(re.sub(r"bind = 127\.0\.0\.1:\d+", f"bind = 127.0.0.1:{port}", cluster.config_path.read_text()))
    cluster._spawn(SECOND, [sys.executable, "-m", "floatnet", "server", "--config", str(config)])
    second = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _answers(second), 60, f"the second server ({cluster.workdir}/{SECOND}.log)")
        yield cluster, second
    finally:
        cluster.stop(SECOND)
        next(made, None)


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/v2.0/networks", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _post(url: str, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = httpx.post(f"{url}/v2.0/{kind}s", json={kind: body}, timeout=30)
    assert answer.status_code == 201, answer.text
    return dict(answer.json()[kind])


def test_agents_spread_over_two_servers_converge_whichever_server_took_the_write(
    cluster: tuple[Cluster, str],
) -> None:
    """net1 (router, DHCP) follows the second server, cmp1 (vm1) the first. The networks, the router and vm1's
    port are written through the first server: net1 builds them and serves vm1's lease. The floating IP is
    written through the second server: net1 maps it and the upstream reaches vm1 through it."""
    lab, second = cluster
    lab.lab("node", "add", "net1", "--roles", "l3,dhcp", "--server", second)
    lab.lab("node", "add", "cmp1", "--roles", "compute")
    assert sorted(lab.agents("net1")) == ["DHCP agent", "L3 agent", "Open vSwitch agent"]  # seen by both servers
    relay = cmdline(lab.node("net1")["procs"]["relay"]["pid"]) or ""
    assert relay.endswith(f" {second.rsplit(':', 1)[1]}"), relay  # net1's relay leads to the second server
    lab.cli("security-group-rule-create", "--direction", "ingress", "--remote-ip-prefix", "0.0.0.0/0", "default")
    blue = lab.api("POST", "/networks", json={"network": {"name": "blue", "provider:network_type": "vlan",
                   "provider:physical_network": PHYSNET_VLAN, "provider:segmentation_id": 100}})["network"]  # fmt: skip
    subnet = lab.api("POST", "/subnets", json={"subnet": {"network_id": blue["id"], "ip_version": 4,
                                                          "cidr": "10.0.0.0/24"}})["subnet"]  # fmt: skip
    flat = {"provider:network_type": "flat", "provider:physical_network": PHYSNET_EXT}
    public = lab.api("POST", "/networks", json={"network": {"name": "public", "router:external": True, **flat}})[
        "network"]  # fmt: skip
    lab.api("POST", "/subnets", json={"subnet": {"network_id": public["id"], "ip_version": 4, "enable_dhcp": False,
            "cidr": "203.0.113.0/24", "gateway_ip": "203.0.113.1",
            "allocation_pools": [{"start": "203.0.113.100", "end": "203.0.113.119"}]}})  # fmt: skip
    router = lab.api("POST", "/routers", json={"router": {"name": "r1",
                     "external_gateway_info": {"network_id": public["id"]}}})["router"]  # fmt: skip
    lab.api("PUT", f"/routers/{router['id']}/add_router_interface", json={"subnet_id": subnet["id"]})
    lab.lab("instance", "create", "vm1", "--network", blue["id"], "--host", "cmp1")  # waits for its lease
    vm1 = lab.api("GET", "/ports", params={"name": "vm1"})["ports"][0]
    wait_until(lambda: f"qrouter-{router['id']}" in lab.on_node("net1", "ip", "netns", "list").stdout, 30,
               "the router on net1")  # fmt: skip
    started = time.monotonic()
    fip = _post(second, "floatingip", {"floating_network_id": public["id"], "port_id": vm1["id"]})
    upstream = f"{lab.prefix}upstream"
    address = fip["floating_ip_address"]
    wait_until(lambda: (whoami(upstream, address, timeout=0.5) or {}).get("server") == "vm1", 20, f"{address}")
    print(f"floating IP through the second server: answers {time.monotonic() - started:.2f} s after the call")
    assert time.monotonic() - started < 10  # a wake-up, not the feed's safety re-check
    lab.lab("instance", "delete", "vm1")
