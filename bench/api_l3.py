"""L3 API benchmark: floating IP create and associate (one client), disassociate (8 clients), list of 1,000.

Starts its own ``floatnet server`` (SQLite, temp dir) through ``bench/api.py``'s helpers, builds an external
VLAN network with a /16 pool, an internal network and a router joining them, then drives the floating IP API
over keep-alive HTTP and prints one JSON document. Targets (issue 3): ≥ 300 creates/s and ≥ 300
associates/s with one client, list of 1,000 ≤ 30 ms p50.
Run: ``.venv/bin/python bench/api_l3.py [--count N]``.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from api import server, threaded, timings  # bench/api.py (the script's directory is on sys.path)
from api import server_cpu as process_cpu

from floatnet.client import Client

PER_PROJECT = 50  # the default floating IP quota
CHANGES = "/floatnet/hosts/bench/changes"


def setup(client: Client) -> tuple[str, str]:
    """The external and internal networks and a router joining them; returns (external, internal)."""
    ext = {"name": "ext", "router:external": True, "provider:network_type": "vlan",
           "provider:physical_network": "public_eth1", "provider:segmentation_id": 150}  # fmt: skip
    ext_id = client.create("network", ext)["id"]
    client.create("subnet", network_id=ext_id, cidr="10.200.0.0/16", ip_version=4, enable_dhcp=False)
    net_id = client.create("network", name="int")["id"]
    subnet = client.create("subnet", network_id=net_id, cidr="10.128.0.0/16", ip_version=4, enable_dhcp=False)
    router_id = client.create("router", name="bench", external_gateway_info={"network_id": ext_id})["id"]
    client.call("PUT", f"/routers/{router_id}/add_router_interface", {"subnet_id": subnet["id"]})
    return ext_id, net_id


def project(index: int) -> str:
    """Owner of the index-th floating IP and port: spread so no project passes the default quotas."""
    return f"bench-{index // PER_PROJECT}"


SERVER_PID = 0  # set by main(): the server whose CPU time each phase reports


def server_cpu() -> float:
    """CPU seconds the server process used so far (user + system, from /proc)."""
    return process_cpu(SERVER_PID)


def timed(count: int, call: Callable[[int], None]) -> dict[str, Any]:
    """Run ``call(i)`` for i < count; rate, latency, and the server's CPU per call (what a free core costs:
    this machine is shared, so wall-clock rates understate what the server does alone)."""
    samples = []
    cpu = server_cpu()
    began = time.perf_counter()
    for index in range(count):
        start = time.perf_counter()
        call(index)
        samples.append(time.perf_counter() - start)
    elapsed = time.perf_counter() - began
    cpu_ms = (server_cpu() - cpu) * 1000 / count
    return {"count": count, "per_second": round(count / elapsed, 1), **timings(samples),
            "server_cpu_ms_per_call": round(cpu_ms, 2)}  # fmt: skip


def parallel(url: str, clients: int, items: list[str], call: Callable[[Client, str], None]) -> dict[str, Any]:
    """``clients`` threads, each with its own connection, sharing ``items``."""

    def work(index: int) -> list[float]:
        samples = []
        with Client(url, timeout=60) as own:
            for item in items[index::clients]:
                start = time.perf_counter()
                call(own, item)
                samples.append(time.perf_counter() - start)
        return samples

    return threaded(clients, work)


def _poll(client: Client, after: int, answered: list[float]) -> None:
    client.call("GET", CHANGES, params={"after": after, "timeout": 10})
    answered.append(time.perf_counter())


def feed_wake(url: str, fips: list[str], ports: list[str]) -> dict[str, Any]:
    """Latency from an associate's answer to a long poll's answer carrying it (what an agent waits)."""
    samples = []
    with Client(url, timeout=60) as poller, Client(url, timeout=60) as writer:
        for fip_id, port_id in zip(fips, ports, strict=False):
            seq = poller.call("GET", CHANGES, params={"timeout": 0})["seq"]
            answered: list[float] = []
            thread = threading.Thread(target=_poll, args=(poller, seq, answered))
            thread.start()
            time.sleep(0.02)
            writer.update("floatingip", fip_id, port_id=port_id)
            done = time.perf_counter()
            thread.join(15)
            samples.append(answered[0] - done)
    return {"count": len(samples), **timings(samples)}


def measure(url: str, count: int) -> dict[str, Any]:
    """The benchmark proper against a running server."""
    client = Client(url, timeout=60)
    ext_id, net_id = setup(client)
    ports = [client.create("port", network_id=net_id, project_id=project(i))["id"] for i in range(count)]
    fips: list[str] = []

    def create(index: int) -> None:
        fips.append(client.create("floatingip", floating_network_id=ext_id, project_id=project(index))["id"])

    def associate(index: int) -> None:
        client.update("floatingip", fips[index], port_id=ports[index])

    def disassociate(own: Client, fip_id: str) -> None:
        own.update("floatingip", fip_id, port_id=None)

    result: dict[str, Any] = {"floatingip_create_1_client": timed(count, create)}
    result["floatingip_associate_1_client"] = timed(count, associate)
    listing = timed(50, lambda _: client.call("GET", "/floatingips"))
    result[f"floatingip_list_{count}"] = {
        **listing,
        "items": len(client.call("GET", "/floatingips")["floatingips"]),
    }
    result["floatingip_disassociate_8_clients"] = parallel(url, 8, fips, disassociate)
    result["feed_wake_after_associate"] = feed_wake(url, fips[:100], ports[:100])
    state = "/floatnet/hosts/bench/state"
    result[f"host_state_router_with_{min(count, 100)}_floatingips"] = timed(50, lambda _: client.call("GET", state))
    client.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=1000, help="floating IPs created, associated and listed")
    args = parser.parse_args()
    with server() as (url, pid):
        global SERVER_PID
        SERVER_PID = pid
        print(json.dumps(measure(url, args.count), indent=2))


if __name__ == "__main__":
    main()
