"""Control-plane scale benchmark (issue 16): one real server, N simulated agents, API changes at a given rate.

For each N (default 10, 100, 1,000) it starts ``--servers`` fresh ``floatnet server`` processes (SQLite in a
temp dir — one server only —, ``--database postgresql``: a private cluster started here, a fresh database per
N, or ``--database-url postgresql://…``), registers N simulated agents spread over the servers
(``bench/feed_agents.py``: the real agent protocol over raw keep-alive HTTP/1.1 on one event loop — register,
heartbeat every ``report_interval``, full state list, long poll, filtered refetch, status report; no
dataplane), builds ``max(10, N/10)`` routers, each with its own network
(DHCP on) and a gateway on one external network, spread over the agents by the real scheduler, then:

* **idle** for ``--idle`` seconds: server CPU of heartbeats and waiting polls alone;
* **drive** for ``--duration`` seconds at ``--rate`` changes/s, alternating a floating-IP association (a new
  floating IP on a pre-made bound port: concerns the router's host) and a port create (bound to a random
  agent, in a group without remote-group rules: concerns its host and its network's DHCP host).

The API writes go to the servers in turn, so with two servers half the wake-ups cross between processes
(PostgreSQL ``LISTEN/NOTIFY``).

Reports per N: answers and state fetches per change against the hosts each change concerns, change →
concerned agent woken p50/p99 (from the API's answer; 0 when the poll answered first), missed wake-ups, server
CPU per change (all servers' drive CPU minus their idle rate; the ports the associations use are made
before the drive is timed), server CPU of one heartbeat round per agent (one
report: its three agent rows), the idle CPU rate (heartbeats every ``--interval`` and waiting polls), each
server's RSS, errors, poll timeouts (with their busiest second, and how many of the wake-ups slower than
100 ms fell in a second when 100 or more polls expired: the herd that made issue 16's tail).
``--per-row-reports`` makes the agents report one request per agent row (the protocol before issue 16);
``--checkout DIR`` runs the servers from another checkout for A/B runs.
Run: ``.venv/bin/python bench/feed_scale.py [--agents 10 100 1000] [--rate 50] [--duration 10]
[--servers 2 --database postgresql]`` (JSON on stdout).
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
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import feed_postgres
import httpx
import uvloop
from api import free_port, server_cpu, timings  # bench/api.py (the script's directory is on sys.path)
from feed_agents import Http, HttpError, SimAgent, Tally

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


Server = tuple[str, int]  # URL, PID


@contextlib.contextmanager
def servers(count: int, interval: float, database_url: str | None, checkout: str | None) -> Iterator[list[Server]]:
    """``count`` fresh servers on one database for the block (started one after the other: the first creates
    the schema), stopped by PID afterwards."""
    with tempfile.TemporaryDirectory(prefix="floatnet-feed-scale-") as tmp, contextlib.ExitStack() as stack:
        ini = INI.format(interval=interval)
        if database_url:
            ini += f"\n[database]\nconnection = {database_url}\n"
        (Path(tmp) / "bench.ini").write_text(ini)
        yield [stack.enter_context(server(Path(tmp), index, checkout)) for index in range(count)]


@contextlib.contextmanager
def server(tmp: Path, index: int, checkout: str | None) -> Iterator[Server]:
    """One server of ``tmp/bench.ini`` (its URL and PID) once it answers, stopped by PID afterwards."""
    port = free_port()
    cmd = [sys.executable, "-m", "floatnet", "server", "--config", f"{tmp}/bench.ini", "--state-dir",
           f"{tmp}/state{index}", "--bind", f"127.0.0.1:{port}", "--log-level", "warning"]  # fmt: skip
    env = dict(os.environ, PYTHONPATH=checkout) if checkout else None
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(1200):
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


class Driver:
    """The API writes of the drive phase, over keep-alive connections to the servers in turn; ``made`` collects
    (change id, when the API answered, the hosts it concerns)."""

    def __init__(self, urls: list[str], topo: dict[str, Any], hosts: list[str], where: dict[str, str],
                 ports: list[dict[str, Any]], tally: Tally) -> None:  # fmt: skip
        self.topo, self.hosts, self.where, self.ports, self.tally = topo, hosts, where, ports, tally
        self.idle: asyncio.Queue[Http] = asyncio.Queue()
        for index in range(32):  # connections for the writes in flight
            self.idle.put_nowait(Http(urls[index % len(urls)]))
        self.made: list[tuple[str, float, set[str]]] = []

    async def create(self, path: str, kind: str, body: dict[str, Any]) -> str:
        http = await self.idle.get()
        try:
            began = time.monotonic()
            answer = await http.call("POST", f"/v2.0/{path}", {kind: body})
            self.tally.api.append(time.monotonic() - began)
            return str(answer[kind]["id"])
        finally:
            self.idle.put_nowait(http)

    async def change(self, index: int) -> None:
        """Change ``index``: even, a floating IP on a pre-made port; odd, a bound port create. A refused write is
        counted (a finding of the run), not fatal."""
        pairs = self.topo["pairs"]
        net, _router = pairs[index % len(pairs)]
        try:
            if index % 2 == 0:
                port = self.ports[index // 2]
                body = {"floating_network_id": self.topo["ext"], "port_id": port["id"]}
                fip = await self.create("floatingips", "floatingip", body)
                routers = {self.where[r] for n, r in pairs if n == port["network_id"] and r in self.where}
                self.made.append((fip, time.monotonic(), routers))
            else:
                host = random.choice(self.hosts)
                body = {"network_id": net, "security_groups": [self.topo["group"]], "binding:host_id": host}
                port_id = await self.create("ports", "port", body)
                dhcp = {self.where[net]} if net in self.where else set()
                self.made.append((port_id, time.monotonic(), {host} | dhcp))
        except HttpError as exc:
            self.tally.errors.append(f"api: {exc}")

    def close(self) -> None:
        while not self.idle.empty():
            self.idle.get_nowait().close()


def prepare_ports(admin: Client, topo: dict[str, Any], hosts: list[str], args: Any) -> list[dict[str, Any]]:
    """The bound ports the drive's floating IPs go on (one per association), made before the drive is timed."""
    count = int(args.rate * args.duration)
    return [make_port(admin, topo, i, random.choice(hosts)) for i in range((count + 1) // 2)]


async def drive(urls: list[str], topo: dict[str, Any], hosts: list[str], where: dict[str, str],
                ports: list[dict[str, Any]], args: Any, tally: Tally) -> list[tuple[str, float, set[str]]]:  # fmt: skip
    """Make the changes at ``args.rate``/s on the simulator's own event loop (no threads to compete with the
    agents' answers for the GIL), through the servers in turn (see :class:`Driver`)."""
    count = int(args.rate * args.duration)
    driver = Driver(urls, topo, hosts, where, ports, tally)
    tally.counting = True
    start = time.monotonic()
    tasks = []
    for index in range(count):
        await asyncio.sleep(max(0.0, start + index / args.rate - time.monotonic()))
        tasks.append(asyncio.create_task(driver.change(index)))
    await asyncio.gather(*tasks)
    driver.close()
    return driver.made


def cpu(pids: list[int]) -> float:
    """CPU seconds all the servers used so far."""
    return sum(server_cpu(pid) for pid in pids)


async def prepare(urls: list[str], pids: list[int], sims: list[SimAgent]) -> tuple[dict[str, Any], ...]:
    """Agents registered, the topology built and placed, every agent's full state listed; the topology, the
    placement, the full list's wall time and one heartbeat round's server CPU per agent."""
    await gather_limited([sim.register() for sim in sims])
    admin = Client(urls[0], timeout=120)
    topo = await asyncio.to_thread(build_topology, admin, max(10, len(sims) // 10))
    await gather_limited([sim.register() for sim in sims])  # binds the routers and DHCP where computed
    where = await asyncio.to_thread(placement, admin, topo)
    admin.close()
    began = time.monotonic()
    await gather_limited([sim.list_state() for sim in sims])
    full_sync = time.monotonic() - began
    beat_cpu = cpu(pids)
    await gather_limited([sim.register() for sim in sims])  # one heartbeat round: its cost per agent
    beat_cpu = (cpu(pids) - beat_cpu) / len(sims)
    return topo, where, {"full_sync": full_sync, "heartbeat_cpu": beat_cpu}


async def simulate(fleet: list[Server], agents: int, args: Any) -> dict[str, Any]:
    """One N: agents up (agent i on server i mod the count), topology, idle phase, drive phase; the figures."""
    tally = Tally()
    urls, pids = [url for url, _pid in fleet], [pid for _url, pid in fleet]
    sims = [SimAgent(urls[i % len(urls)], f"sim{i:05d}", args.interval, tally, args.per_row_reports)
            for i in range(agents)]  # fmt: skip
    topo, where, setup = await prepare(urls, pids, sims)
    tasks = [asyncio.create_task(job) for sim in sims for job in (sim.heartbeat(), sim.follow())]
    await asyncio.sleep(3)
    idle = {**await measure_idle(pids, tally, args.idle), **setup}
    hosts = [sim.host for sim in sims]
    admin = Client(urls[0], timeout=120)
    ports = await asyncio.to_thread(prepare_ports, admin, topo, hosts, args)  # not part of the changes' cost
    admin.close()
    cpu0, wall0 = cpu(pids), time.monotonic()
    made = await drive(urls, topo, hosts, where, ports, args, tally)
    await asyncio.sleep(3)
    drive_cpu, drive_wall = cpu(pids) - cpu0, time.monotonic() - wall0
    tally.counting = False
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for sim in sims:
        sim.close()
    return report(agents, tally, made, idle, drive_cpu, drive_wall, [rss_mb(pid) for pid in pids])


async def gather_limited(jobs: list[Any], limit: int = 50) -> None:
    gate = asyncio.Semaphore(limit)

    async def one(job: Any) -> None:
        async with gate:
            await job

    await asyncio.gather(*(one(job) for job in jobs))


async def measure_idle(pids: list[int], tally: Tally, seconds: float) -> dict[str, float]:
    """The servers' CPU per second with only heartbeats and waiting polls, and heartbeats per second."""
    used, beats, wall = cpu(pids), tally.heartbeats, time.monotonic()
    await asyncio.sleep(seconds)
    elapsed = time.monotonic() - wall
    return {"cpu_per_s": (cpu(pids) - used) / elapsed, "heartbeats_per_s": (tally.heartbeats - beats) / elapsed}


def _in_peaks(tally: Tally, made: list[tuple[str, float, set[str]]], slow: float = 0.1) -> str:
    """``"k/n"``: of the n wake-ups slower than ``slow`` seconds, the k that came in a second when 100 or more
    polls expired (issue 16's tail: a herd of expiries read ahead of the woken polls)."""
    per_second = Counter(int(at) for at in tally.expiries)
    late = [tally.arrivals[(i, h)] for i, at, hosts in made for h in hosts
            if tally.arrivals.get((i, h), at) - at > slow]  # fmt: skip
    return f"{sum(per_second[int(at)] >= 100 for at in late)}/{len(late)}"


def report(agents: int, tally: Tally, made: list[tuple[str, float, set[str]]], idle: dict[str, float],
           drive_cpu: float, drive_wall: float, rss: list[float]) -> dict[str, Any]:  # fmt: skip
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
        "full_state_list_s": round(idle["full_sync"], 2),
        "server_rss_mb": rss,
        "poll_timeouts": tally.empty_answers,
        "poll_timeouts_peak_per_s": max(Counter(int(at) for at in tally.expiries).values(), default=0),
        "slow_wakes_in_expiry_peaks": _in_peaks(tally, made),
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
    parser.add_argument("--servers", type=int, default=1, help="server processes on the one database")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite",
                        help="postgresql: a private cluster started for the run")  # fmt: skip
    parser.add_argument("--database-url", help="an existing postgresql://… database (instead of --database)")
    parser.add_argument("--per-row-reports", action="store_true", help="one request per agent row (before #16)")
    parser.add_argument("--checkout", help="run the servers from this checkout (A/B against another build)")
    args = parser.parse_args()
    if args.servers > 1 and args.database == "sqlite" and not args.database_url:
        parser.error("--servers > 1 needs --database postgresql (SQLite serialises every writer of the host)")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: the servers are stopped by their PIDs
    with contextlib.ExitStack() as stack:
        pg = stack.enter_context(feed_postgres.cluster()) if args.database == "postgresql" else None
        results = []
        for agents in args.agents:
            url = feed_postgres.database(*pg, f"feed_scale_{agents}") if pg else args.database_url
            with servers(args.servers, args.interval, url, args.checkout) as fleet:
                results.append(uvloop.run(simulate(fleet, agents, args)))
            print(json.dumps(results[-1]), file=sys.stderr)
    keys = ("rate", "duration", "idle", "interval", "servers", "database", "database_url", "per_row_reports",
            "checkout")  # fmt: skip
    print(json.dumps({"benchmark": "feed_scale", **{k: getattr(args, k) for k in keys}, "results": results}, indent=2))


if __name__ == "__main__":
    main()
