"""Subnet pool API benchmark: list of 1,000 subnet pools (target ≤ 30 ms, issue 21), subnets created from
one pool by one client, and the pool list page of 100.

Starts its own ``floatnet server`` (SQLite, temp dir) through ``bench/api.py``'s helpers, creates the pools
over keep-alive HTTP and prints one JSON document (latencies in ms: p50, p90, p99, mean).
Run: ``.venv/bin/python bench/api_pools.py [--pools 1000] [--subnets 200]``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

from api import repeat_get, server, timings  # bench/api.py (the script's directory is on sys.path)

from floatnet.client import Client


def create_pools(client: Client, count: int) -> None:
    """``count`` IPv4 pools, one /24 each, in 10.0.0.0/8."""
    for index in range(count):
        prefix = f"10.{index // 256}.{index % 256}.0/24"
        client.create("subnetpool", name=f"bench-pool-{index}", prefixes=[prefix])


def subnets_from_pool(client: Client, count: int) -> dict[str, Any]:
    """``count`` /28 subnets cut from one /16 pool onto one network, one client (timed per create)."""
    pool = client.create("subnetpool", name="bench-alloc", prefixes=["172.16.0.0/16"], default_prefixlen=28)
    network_id = client.create("network", name="bench-alloc")["id"]
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        client.create("subnet", network_id=network_id, subnetpool_id=pool["id"], enable_dhcp=False)
        samples.append(time.perf_counter() - start)
    return {"count": count, "per_second": round(count / sum(samples), 1), **timings(samples)}


def run(pools: int, subnets: int) -> dict[str, Any]:
    """The whole benchmark against a fresh server."""
    with server() as (url, _pid):
        client = Client(url, timeout=60)
        unlimited = {"quota": {"network": -1, "subnet": -1, "port": -1}}
        client.call("PUT", "/quotas/admin", unlimited)
        create_pools(client, pools)
        result: dict[str, Any] = {
            f"subnetpool_list_{pools}": repeat_get(url, "/subnetpools", 50),
            "subnetpool_list_page_100": repeat_get(url, "/subnetpools?limit=100", 100),
            "subnet_create_from_pool": subnets_from_pool(client, subnets),
        }
        client.close()
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pools", type=int, default=1000, help="subnet pools to list")
    parser.add_argument("--subnets", type=int, default=200, help="subnets created from one pool")
    args = parser.parse_args()
    result = run(args.pools, args.subnets)
    result["load_average_1m"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
