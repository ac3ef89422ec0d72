"""Control-plane scale benchmark (issue 16): one real server, N simulated agents, API changes at a given rate.

For each N (default 10, 100, 1,000) it starts a fresh ``floatnet server`` (SQLite in a temp dir, or
``--database-url postgresql://…``), registers N simulated agents (``bench/feed_agents.py``: the real agent
protocol over asyncio httpx — register, heartbeat every ``report_interval``, full state list, long poll,
filtered refetch, status report; no dataplane), builds ``max(10, N/10)`` routers, each with its own network
(DHCP on) and a gateway on one external network, spread over the agents by the real scheduler, then:

* **idle** for ``--idle`` seconds: server CPU of heartbeats and waiting polls alone;
* **drive** for ``--duration`` seconds at ``--rate`` changes/s, alternating a floating-IP association (a new
  floating IP on a pre-made bound port: concerns the router's host) and a port create (bound to a random
  agent, in a group without remote-group rules: concerns its host and its network's DHCP host).

Reports per N: answers and state fetches per change against the hosts each change concerns, change →
concerned agent woken p50/p99 (from the API's answer; 0 when the poll answered first), missed wake-ups, server
CPU per change (drive CPU minus the idle rate), server CPU of one heartbeat round per agent (its three agent
rows), the idle CPU rate (heartbeats every ``--interval`` and waiting polls), server RSS, errors, poll timeouts.
``--checkout DIR`` runs the server from another checkout (e.g. /work/main, the unfiltered feed) for A/B runs.
Run: ``.venv/bin/python bench/feed_scale.py [--agents 10 100 1000] [--rate 50] [--duration 10]`` (JSON on stdout).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from api import free_port, server_cpu, timings  # bench/api.py (the script's directory is on sys.path)
from feed_agents import SimAgent, Tally

from floatnet.client import Client

INI = """
[agent]
report_interval = {interval}
[ml2]
type_drivers = flat,vlan
tenant_network_types = vlan
[ml2_type_vlan]
network_vlan_ranges = public_eth1:100:3999
[ovs]
bridge_mappings = public_eth0:br-ex,public_eth1:br-eth1
"""


@contextlib.contextmanager
def server(interval: float, database_url: str | None, checkout: str | None) -> Iterator[tuple[str, int]]:
    """A fresh server for the block (its URL and PID), stopped by PID afterwards."""
    with tempfile.TemporaryDirectory(prefix="floatnet-feed-scale-") as tmp:
        ini = INI.format(interval=interval)
        if database_url:
            ini += f"\n[database]\nconnection = {database_url}\n"
        (Path(tmp) / "bench.ini").write_text(ini)
        port = free_port()
        cmd = [sys.executable, "-m", "floatnet", "server", "--config", f"{tmp}/bench.ini", "--state-dir",
               f"{tmp}/state", "--bind", f"127.0.0.1:{port}", "--log-level", "warning"]  # fmt: skip
        env = dict(os.environ, PYTHONPATH=checkout) if checkout else None
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(url + "/", timeout=1).status_code == 200:
                        break
                time.sleep(0.05)
            yield url, proc.pid
        finally:
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait(30)


def rss_mb(pid: int) -> float:
    """The resident memory of process ``pid`` in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def build_topology(admin: Client, routers: int) -> dict[str, Any]:
    """The external network, ``routers`` routers each with a network behind it, and a bench group."""
    admin.call("PUT", "/quotas/admin", {"quota": {k: -1 for k in (
        "network", "subnet", "port", "router", "floatingip", "security_group", "security_group_rule")}})  # fmt: skip
    ext = admin.create("network", name="public", **{"router:external": True, "provider:network_type": "flat",
                                                    "provider:physical_network": "public_eth0"})  # fmt: skip
    admin.create("subnet", network_id=ext["id"], cidr="198.18.0.0/15", ip_version=4, enable_dhcp=False)
    group = admin.create("security_group", name="bench")
    admin.create("security_group_rule", security_group_id=group["id"], direction="ingress", protocol="tcp",
                 port_range_min=22, port_range_max=22, remote_ip_prefix="0.0.0.0/0")  # fmt: skip
    pairs = []
    for index in range(routers):
        net = admin.create("network", name=f"n{index}")
        sub = admin.create("subnet", network_id=net["id"], cidr=f"10.{index // 250}.{index % 250}.0/24", ip_version=4)
        router = admin.create("router", name=f"r{index}", external_gateway_info={"network_id": ext["id"]})
        admin.call("PUT", f"/routers/{router['id']}/add_router_interface", {"subnet_id": sub["id"]})
        pairs.append((net["id"], router["id"]))
    return {"ext": ext["id"], "group": group["id"], "pairs": pairs}


def placement(admin: Client, topo: dict[str, Any]) -> dict[str, str]:
    """Router id -> L3 host and network id -> DHCP host, as the scheduler API shows them."""
    where: dict[str, str] = {}
    for net, router in topo["pairs"]:
        for resource, path in ((router, f"/routers/{router}/l3-agents"), (net, f"/networks/{net}/dhcp-agents")):
            agents = admin.call("GET", path)["agents"]
            if agents:
                where[resource] = agents[0]["host"]
    return where


def make_port(admin: Client, topo: dict[str, Any], index: int, host: str) -> dict[str, Any]:
    net, _router = topo["pairs"][index % len(topo["pairs"])]
    return admin.create("port", network_id=net, security_groups=[topo["group"]], **{"binding:host_id": host})


async def drive(client: httpx.AsyncClient, admin: Client, topo: dict[str, Any], hosts: list[str],
                where: dict[str, str], args: Any, tally: Tally) -> list[tuple[str, float, set[str]]]:  # fmt: skip
    """Make the changes at ``args.rate``/s on the simulator's own event loop (no threads to compete with the
    agents' answers for the GIL); returns (change id, when the API answered, the hosts it concerns)."""
    count = int(args.rate * args.duration)
    ports = await asyncio.to_thread(
        lambda: [make_port(admin, topo, i, random.choice(hosts)) for i in range((count + 1) // 2)]
    )
    made: list[tuple[str, float, set[str]]] = []
    tally.counting = True
    start = time.monotonic()

    async def create(path: str, kind: str, body: dict[str, Any]) -> str:
        began = time.monotonic()
        response = await client.post(f"/v2.0/{path}", json={kind: body})
        response.raise_for_status()
        tally.api.append(time.monotonic() - began)
        return str(response.json()[kind]["id"])

    async def change(index: int) -> None:
        net, _router = topo["pairs"][index % len(topo["pairs"])]
        if index % 2 == 0:
            port = ports[index // 2]
            fip = await create("floatingips", "floatingip", {"floating_network_id": topo["ext"], "port_id": port["id"]})
            routers = {where[r] for n, r in topo["pairs"] if n == port["network_id"] and r in where}
            made.append((fip, time.monotonic(), routers))
        else:
            host = random.choice(hosts)
            body = {"network_id": net, "security_groups": [topo["group"]], "binding:host_id": host}
            port_id = await create("ports", "port", body)
            made.append((port_id, time.monotonic(), {host} | ({where[net]} if net in where else set())))

    tasks = []
    for index in range(count):
        await asyncio.sleep(max(0.0, start + index / args.rate - time.monotonic()))
        tasks.append(asyncio.create_task(change(index)))
    await asyncio.gather(*tasks)
    return made


async def simulate(url: str, pid: int, agents: int, args: Any) -> dict[str, Any]:
    """One N: agents up, topology, idle phase, drive phase; the figures."""
    tally = Tally()
    # one client (connection pool) per agent, as each real agent holds its own: a shared pool of a thousand
    # connections costs the simulator O(connections) per request and would make it the bottleneck
    async with fresh_client(url) as client:
        sims = [SimAgent(fresh_client(url), f"sim{i:05d}", args.interval, tally) for i in range(agents)]
        await gather_limited([sim.register() for sim in sims])
        admin = Client(url, timeout=120)
        topo = await asyncio.to_thread(build_topology, admin, max(10, agents // 10))
        await gather_limited([sim.register() for sim in sims])  # binds the routers and DHCP where computed
        where = await asyncio.to_thread(placement, admin, topo)
        began = time.monotonic()
        await gather_limited([sim.list_state() for sim in sims])
        full_sync = time.monotonic() - began
        beat_cpu = server_cpu(pid)
        await gather_limited([sim.register() for sim in sims])  # one heartbeat round: its cost per agent
        beat_cpu = (server_cpu(pid) - beat_cpu) / agents
        tasks = [asyncio.create_task(job) for sim in sims for job in (sim.heartbeat(), sim.follow())]
        await asyncio.sleep(3)
        idle = {**await measure_idle(pid, tally, args.idle), "heartbeat_cpu": beat_cpu}
        cpu0, wall0 = server_cpu(pid), time.monotonic()
        made = await drive(client, admin, topo, [sim.host for sim in sims], where, args, tally)
        await asyncio.sleep(3)
        drive_cpu, drive_wall = server_cpu(pid) - cpu0, time.monotonic() - wall0
        tally.counting = False
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for sim in sims:
            await sim.client.aclose()
        admin.close()
    return report(agents, tally, made, idle, drive_cpu, drive_wall, full_sync, rss_mb(pid))


def fresh_client(url: str) -> httpx.AsyncClient:
    """A client whose idle connections expire before the server's keep-alive timeout (uvicorn: 5 s), so no
    request is ever sent on a connection the server is closing."""
    return httpx.AsyncClient(base_url=url, timeout=120, limits=httpx.Limits(keepalive_expiry=4.0))


async def gather_limited(jobs: list[Any], limit: int = 50) -> None:
    gate = asyncio.Semaphore(limit)

    async def one(job: Any) -> None:
        async with gate:
            await job

    await asyncio.gather(*(one(job) for job in jobs))


async def measure_idle(pid: int, tally: Tally, seconds: float) -> dict[str, float]:
    """Server CPU per second with only heartbeats and waiting polls, and heartbeats per second."""
    cpu, beats, wall = server_cpu(pid), tally.heartbeats, time.monotonic()
    await asyncio.sleep(seconds)
    elapsed = time.monotonic() - wall
    return {"cpu_per_s": (server_cpu(pid) - cpu) / elapsed, "heartbeats_per_s": (tally.heartbeats - beats) / elapsed}


def report(agents: int, tally: Tally, made: list[tuple[str, float, set[str]]], idle: dict[str, float],
           drive_cpu: float, drive_wall: float, full_sync: float, rss: float) -> dict[str, Any]:  # fmt: skip
    """The figures of one N (see the module docstring)."""
    changes = len(made)
    concerned = sum(len(hosts) for _id, _at, hosts in made)
    woken = [max(0.0, tally.arrivals[(i, h)] - at) for i, at, hosts in made for h in hosts if (i, h) in tally.arrivals]
    return {
        "agents": agents,
        "changes": changes,
        "hosts_concerned_per_change": round(concerned / changes, 2),
        "answers_per_change": round(tally.answers / changes, 2),
        "state_fetches_per_change": round(tally.fetches / changes, 2),
        "woken": {**timings(woken), "count": len(woken)} if woken else {},
        "missed_wakeups": concerned - len(woken),
        "api_write": timings(tally.api) if tally.api else {},
        "server_cpu_ms_per_change": round((drive_cpu - idle["cpu_per_s"] * drive_wall) / changes * 1000, 2),
        "server_cpu_idle_per_s": round(idle["cpu_per_s"], 3),
        "heartbeat_cpu_ms_per_agent_report": round(idle["heartbeat_cpu"] * 1000, 2),
        "heartbeats_per_s": round(idle["heartbeats_per_s"], 1),
        "full_state_list_s": round(full_sync, 2),
        "server_rss_mb": rss,
        "poll_timeouts": tally.empty_answers,
        "errors": len(tally.errors),
        "first_errors": tally.errors[:3],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--rate", type=float, default=50.0, help="API changes per second")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of changes")
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of heartbeats alone")
    parser.add_argument("--interval", type=float, default=30.0, help="report_interval (server and agents)")
    parser.add_argument("--database-url", help="postgresql://… (default: SQLite in a temp dir)")
    parser.add_argument("--checkout", help="run the server from this checkout (A/B against another build)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: the server is stopped by its PID
    results = []
    for agents in args.agents:
        with server(args.interval, args.database_url, args.checkout) as (url, pid):
            results.append(asyncio.run(simulate(url, pid, agents, args)))
        print(json.dumps(results[-1]), file=sys.stderr)
    settings = {k: getattr(args, k) for k in ("rate", "duration", "idle", "interval", "database_url", "checkout")}
    print(json.dumps({"benchmark": "feed_scale", **settings, "results": results}, indent=2))


if __name__ == "__main__":
    main()
