"""Agent convergence benchmark (issues 4 and 5): prints one JSON document.

* ``fip``: with ``--fips`` floating IPs already on a router (default 1,000), the time from the associate API
  call returning to (a) the first successful TCP connect through the floating IP from an upstream namespace
  and (b) the floating IP reported ``ACTIVE``; p50/p99 over ``--associations`` (default 100). Target: p99 of
  (a) ≤ 100 ms.
* ``ports``: ``--ports`` times (default 100): create a port bound to this host, plug its device like a
  hypervisor (veth + OVS port with iface-id), wait for ``ACTIVE`` (what Nova waits for before booting), then
  run a DHCP client in the instance namespace until it holds its lease. Target: p50 of create → lease ≤ 1 s.

Everything runs in namespaces this run creates (prefix ``b`` + 4 hex): a private Open vSwitch (netdev) in its
own namespace, a real ``floatnet server`` and ``floatnet agent``, an upstream namespace (203.0.113.1/24 on the
flat external network) and instance namespaces on VLAN 100. The bulk floating IPs come from a second external
subnet (10.254.0.0/18), which no packet ever uses: the documentation /24s are too small for 1,000 addresses.
All of it is removed at the end (processes by PID). Needs root. Usage::

    sudo .venv/bin/python bench/convergence.py [--fips 1000] [--associations 100] [--ports 100]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import secrets
import socket
import statistics
import sys
import threading
import time
from typing import Any

from convergence_env import ECHO_PORT, Env, until

from floatnet.linux import netns


def percentiles(values: list[float]) -> dict[str, float]:
    """p50/p90/p99/max/mean in milliseconds (nearest-rank), with the sample count."""
    if not values:
        return {"n": 0}
    ordered = sorted(values)

    def rank(p: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, int(round(p / 100 * len(ordered) + 0.5)) - 1))]

    ms = {f"p{p}": round(rank(p) * 1000, 1) for p in (50, 90, 99)}
    return {
        "n": len(values),
        **ms,
        "max": round(ordered[-1] * 1000, 1),
        "mean": round(statistics.fmean(values) * 1000, 1),
    }


def connect_until(ip: str, port: int, deadline: float) -> float | None:
    """In the calling thread's namespace: retry TCP connects until one succeeds; its monotonic time."""
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.02)
            try:
                sock.connect((ip, port))
                return time.monotonic()
            except OSError:
                time.sleep(0.002)
    return None


def wait_status(env: Env, kind: str, ident: str, status: str, deadline: float) -> float | None:
    """Poll the API until the resource has ``status``; the monotonic time it was seen."""
    while time.monotonic() < deadline:
        if env.api.show(kind, ident)["status"] == status:
            return time.monotonic()
        time.sleep(0.005)
    return None


def _poll_active(env: Env, fip_id: str, deadline: float, seen: dict[str, float | None]) -> None:
    seen["active"] = wait_status(env, "floatingip", fip_id, "ACTIVE", deadline)


def fip_convergence(env: Env, bulk: int, rounds: int) -> dict[str, Any]:
    """Associate/disassociate probe floating IPs on a router already holding ``bulk`` of them."""
    started = time.monotonic()
    env.add_bulk_fips(bulk)
    prepared = time.monotonic() - started
    vm = env.make_vm("vm")
    env.listen(vm["ns"], ECHO_PORT)
    pool = [
        env.api.create("floatingip", floating_network_id=env.ext["id"], subnet_id=env.ext_subnet["id"])
        for _ in range(min(20, rounds))
    ]
    # measure from an idle agent, as every later round does (wait_unmapped): the instance's port ACTIVE means
    # the agent has caught up with the bulk load and the instance (a VM boots only once its port is ACTIVE)
    if wait_status(env, "port", vm["port"]["id"], "ACTIVE", time.monotonic() + 120) is None:
        raise RuntimeError("the instance port never became ACTIVE")
    time.sleep(0.3)
    reach, active = [], []
    for i in range(rounds):
        fip = pool[i % len(pool)]
        seen: dict[str, float | None] = {}
        env.api.update("floatingip", fip["id"], port_id=vm["port"]["id"])
        t0 = time.monotonic()
        poller = threading.Thread(target=_poll_active, args=(env, fip["id"], t0 + 10, seen))
        poller.start()
        ok = netns.run_in(env.upstream, connect_until, fip["floating_ip_address"], ECHO_PORT, t0 + 10)
        poller.join()
        if ok is not None:
            reach.append(ok - t0)
        if seen.get("active") is not None:
            active.append(seen["active"] - t0)  # type: ignore[operator]
        env.api.update("floatingip", fip["id"], port_id=None)
        env.wait_unmapped(fip["floating_ip_address"])
    return {
        "fips_on_router": env.count_fips(),
        "setup_seconds": round(prepared, 1),
        "associate_to_tcp_connect_ms": percentiles(reach),
        "associate_to_active_ms": percentiles(active),
        "failures": rounds - len(reach),
        "target": "p99 associate_to_tcp_connect <= 100 ms",
    }


def port_convergence(env: Env, count: int) -> dict[str, Any]:
    """Create, plug, wait ACTIVE, then DHCP: ``count`` times."""
    active, lease, wrong = [], [], 0
    for i in range(count):
        t0 = time.monotonic()
        vm = env.make_vm(f"p{i}", wired=False)
        t_active = wait_status(env, "port", vm["port"]["id"], "ACTIVE", t0 + 10)
        got = env.dhcp(vm["ns"])
        t_lease = time.monotonic()
        if t_active is not None:
            active.append(t_active - t0)
        if got == vm["port"]["fixed_ips"][0]["ip_address"]:
            lease.append(t_lease - t0)
        else:
            wrong += 1
        env.drop_vm(vm)
    return {
        "ports": count,
        "create_to_active_ms": percentiles(active),
        "create_to_lease_ms": percentiles(lease),
        "failed_leases": wrong,
        "target": "p50 create_to_lease <= 1000 ms",
    }


def restarts(env: Env) -> dict[str, Any]:
    """Agent restarts on the router with all its floating IPs: warm (kernel intact: nothing to do) and cold
    (router namespace gone, as after a reboot: rebuilt in one full sync). Times from the agent's own log."""
    out: dict[str, Any] = {}
    time.sleep(2)  # let the agent finish the last changes: a warm restart must then find nothing to do
    for kind in ("warm", "cold"):
        env.stop_agent()
        if kind == "cold":
            netns.delete(env.router_ns)
        syncs = len(_full_syncs(env))
        env.start_agent()
        found = until(functools.partial(_full_syncs, env, syncs), 300, f"the {kind} restart's full sync")[0]
        out[kind] = {"actions": int(found[0]), "errors": int(found[1]), "seconds": float(found[2])}
    out["fips_on_router"] = env.count_fips()
    return out


def _full_syncs(env: Env, skip: int = 0) -> list[tuple[str, str, str]]:
    """(actions, errors, seconds) of the agent's full syncs so far, the first ``skip`` left out."""
    found = re.findall(
        r"full sync #\d+ at seq \d+: (\d+) actions, (\d+) errors, ([0-9.]+) s", "\n".join(env.agent_log())
    )
    return found[skip:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fips", type=int, default=1000, help="floating IPs already on the router")
    parser.add_argument("--associations", type=int, default=100, help="measured associations (>= 100)")
    parser.add_argument("--ports", type=int, default=100, help="ports for the DHCP benchmark (0: skip)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/convergence.py needs root (namespaces, OVS, nftables)", file=sys.stderr)
        return 2
    result: dict[str, Any] = {"bench": "convergence", "cpus": os.cpu_count()}
    with Env(prefix="b" + secrets.token_hex(2)) as env:
        if args.associations > 0:
            result["fip"] = fip_convergence(env, args.fips, args.associations)
        if args.ports > 0:
            result["ports"] = port_convergence(env, args.ports)
        if args.associations > 0:
            result["restart"] = restarts(env)
        result["agent_log_tail"] = env.agent_log()[-5:]
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
