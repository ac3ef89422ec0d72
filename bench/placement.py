"""Placement stability benchmark (issue 16): with N agents and M routers, how many routers move when one agent
joins (a dead agent's routers staying put without failover is shown by tests/api/test_agents.py).

Starts its own ``floatnet server`` (SQLite, temp dir, through ``bench/api.py``'s helpers), registers N simulated
L3 agents over the real agent protocol (``POST /v2.0/floatnet/agents``), creates M routers, lets every agent
report once, reads each router's host through the scheduler API (``GET /v2.0/agents/{id}/l3-routers``), then
registers one more agent and lets all report again. It also computes what the previous, computed placement
(``sha256(id) % alive agents``) would have moved, as the baseline. Target: ≤ 1 % of routers move on a join.
Run: ``.venv/bin/python bench/placement.py [--agents 100] [--routers 1000]`` (JSON on stdout).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from api import server  # bench/api.py (the script's directory is on sys.path)

from floatnet.client import Client
from floatnet.core.agent_protocol.scheduling import choose


def report_all(client: Client, hosts: list[str]) -> dict[str, str]:
    """Every host's L3 agent reports once; host -> agent id."""
    ids = {}
    for host in hosts:
        body = {"agent": {"host": host, "agent_type": "L3 agent", "binary": "bench"}}
        ids[host] = client.call("POST", "/floatnet/agents", body)["agent"]["id"]
    return ids


def placement(client: Client, agents: dict[str, str]) -> dict[str, str]:
    """router id -> host, read back through the scheduler API."""
    where = {}
    for host, agent_id in agents.items():
        for router in client.call("GET", f"/agents/{agent_id}/l3-routers")["routers"]:
            where[router["id"]] = host
    return where


def run(agents: int, routers: int) -> dict[str, Any]:
    """The whole benchmark against a fresh server."""
    with server() as (url, _pid):
        client = Client(url, timeout=120)
        client.call("PUT", "/quotas/admin", {"quota": {"router": -1}})
        hosts = [f"node{i:04d}" for i in range(agents)]
        ids = report_all(client, hosts)
        router_ids = [client.create("router", name=f"r{i}")["id"] for i in range(routers)]
        started = time.perf_counter()
        ids = report_all(client, hosts)  # binds every router once
        bind_ms = (time.perf_counter() - started) * 1000
        before = placement(client, ids)
        joined = report_all(client, [*hosts, "node-joined"])
        after_join = placement(client, joined)
        moved = sum(1 for rid in router_ids if before.get(rid) != after_join.get(rid))
        computed = sum(1 for rid in router_ids if choose(rid, hosts) != choose(rid, [*hosts, "node-joined"]))
        client.close()
    return {
        "agents": agents,
        "routers": routers,
        "placed_before_join": len(before),
        "join_moved": moved,
        "join_moved_percent": round(100 * moved / routers, 2),
        "target_percent": 1.0,
        "baseline_computed_placement_moved_percent": round(100 * computed / routers, 2),
        "all_agents_report_ms": round(bind_ms, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--routers", type=int, default=1000)
    args = parser.parse_args()
    print(json.dumps(run(args.agents, args.routers), indent=2))


if __name__ == "__main__":
    main()
