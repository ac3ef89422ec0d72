"""API benchmark: port create (1 and 8 clients), network list, list of 1,000 ports, port show.

Starts its own ``floatnet server`` (SQLite, temp state dir, 127.0.0.1, free port), drives it over HTTP
with keep-alive clients and prints one JSON document. Run: ``.venv/bin/python bench/api.py [--ports N]``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from floatnet.client import Client

INI = """
[ml2]
type_drivers = flat,vlan
tenant_network_types = vlan
[ml2_type_vlan]
network_vlan_ranges = public_eth1:100:199
[ovs]
bridge_mappings = public_eth1:br-eth1
"""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``floatnet server`` and wait until it answers."""
    (workdir / "bench.ini").write_text(INI)
    port = free_port()
    cmd = [sys.executable, "-m", "floatnet", "server", "--config", str(workdir / "bench.ini")]
    cmd += ["--state-dir", str(workdir / "state"), "--bind", f"127.0.0.1:{port}", "--log-level", "warning"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(url + "/", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("server did not start")


def server_cpu(pid: int) -> float:
    """CPU seconds process ``pid`` (the server) used so far (user + system, from /proc).

    Per call, this is what a request costs the server whatever else the shared machine runs; wall-clock
    rates understate it when other work competes for the cores.
    """
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timings(samples: list[float]) -> dict[str, float]:
    """p50/p90/p99/mean in milliseconds."""
    ordered = sorted(samples)

    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000, 2)

    return {
        "p50_ms": pct(0.5),
        "p90_ms": pct(0.9),
        "p99_ms": pct(0.99),
        "mean_ms": round(statistics.mean(ordered) * 1000, 2),
    }


def create_ports(url: str, network_id: str, count: int) -> list[float]:
    """Create ``count`` ports sequentially on one keep-alive connection; per-request seconds."""
    samples = []
    with Client(url, timeout=60) as client:
        for _ in range(count):
            start = time.perf_counter()
            client.create("port", network_id=network_id)
            samples.append(time.perf_counter() - start)
    return samples


def threaded(clients: int, work: Callable[[int], list[float]]) -> dict[str, Any]:
    """Run ``work(i)`` for each i < ``clients`` in a thread of its own; each returns its per-request seconds.

    The combined figures: requests, requests per wall-clock second over all threads, latency percentiles.
    """
    results: list[list[float]] = [[] for _ in range(clients)]

    def run_one(index: int) -> None:
        results[index] = work(index)

    threads = [threading.Thread(target=run_one, args=(i,)) for i in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    samples = [s for r in results for s in r]
    return {
        "clients": clients,
        "count": len(samples),
        "per_second": round(len(samples) / elapsed, 1),
        **timings(samples),
    }


def concurrent_creates(url: str, network_id: str, clients: int, per_client: int) -> dict[str, Any]:
    """``clients`` threads each creating ``per_client`` ports."""
    return threaded(clients, lambda _: create_ports(url, network_id, per_client))


def repeat_get(url: str, path: str, times: int) -> dict[str, Any]:
    """GET ``path`` ``times`` times; latency figures."""
    samples = []
    with Client(url, timeout=60) as client:
        for _ in range(times):
            start = time.perf_counter()
            client.call("GET", path)
            samples.append(time.perf_counter() - start)
    return {"count": times, **timings(samples)}


@contextlib.contextmanager
def server() -> Iterator[tuple[str, int]]:
    """A fresh ``floatnet server`` (SQLite, temp state dir) for the ``with`` block: its URL and PID; stopped
    (SIGTERM) when the block ends, whatever happened in it."""
    with tempfile.TemporaryDirectory(prefix="floatnet-bench-") as tmp:
        proc, url = start_server(Path(tmp))
        try:
            yield url, proc.pid
        finally:
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait(10)


def run(sequential: int, per_client: int, list_size: int) -> dict[str, Any]:
    """The whole benchmark against a fresh server."""
    with server() as (url, pid):
        client = Client(url, timeout=60)
        unlimited = {"quota": {"network": -1, "subnet": -1, "port": -1}}
        client.call("PUT", "/quotas/admin", unlimited)  # the bench's project is noauth's default "admin"
        net = client.create("network", name="bench")
        client.create("subnet", network_id=net["id"], cidr="10.128.0.0/16", ip_version=4, enable_dhcp=False)
        for i in range(20):
            client.create("network", name=f"other-{i}")
        cpu = server_cpu(pid)
        seq = create_ports(url, net["id"], sequential)
        cpu_ms = (server_cpu(pid) - cpu) * 1000 / sequential
        result: dict[str, Any] = {
            "port_create_sequential": {
                "count": sequential,
                "per_second": round(sequential / sum(seq), 1),
                **timings(seq),
                "server_cpu_ms_per_call": round(cpu_ms, 2),
            },
            "port_create_8_concurrent": concurrent_creates(url, net["id"], 8, per_client),
        }
        have = len(client.call("GET", "/ports?fields=id")["ports"])
        if have < list_size:
            create_ports(url, net["id"], list_size - have)
        list_net = client.create("network", name="list")
        client.create("subnet", network_id=list_net["id"], cidr="10.129.0.0/16", ip_version=4, enable_dhcp=False)
        create_ports(url, list_net["id"], list_size)
        any_port = client.call("GET", f"/ports?network_id={list_net['id']}&limit=1")["ports"][0]["id"]
        result["network_list_22"] = repeat_get(url, "/networks", 200)
        result[f"port_list_{list_size}"] = repeat_get(url, f"/ports?network_id={list_net['id']}", 50)
        result["port_list_all"] = {"ports": have + list_size, **repeat_get(url, "/ports", 20)}
        result["port_show"] = repeat_get(url, f"/ports/{any_port}", 500)
        client.close()
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sequential", type=int, default=1000, help="ports created by one client")
    parser.add_argument("--per-client", type=int, default=125, help="ports created by each of 8 clients")
    parser.add_argument("--list-size", type=int, default=1000, help="ports in the listed network")
    args = parser.parse_args()
    before = os.getloadavg()[0]
    result = run(args.sequential, args.per_client, args.list_size)
    result["load_average_1m"] = {
        "before": round(before, 2),
        "after": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
