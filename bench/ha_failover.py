"""HA router failover benchmark (issue 15): prints one JSON document.

The servers and the multi-node lab of ``bench/multinode_lab.py``'s :class:`World` (agents on its server ``a``):
two network nodes (``net1`` l3,dhcp and ``net2`` l3), one compute node (``cmp1``) with vm1, an HA router
(``"ha": true``: one keepalived replica per network node, VRRP on the project's HA network, a VLAN across the
lab switch) and vm1's floating IP. From the lab's upstream, ``floatnet.lab.hawatch`` probes the floating IP
at ``--rate`` Hz (ICMP echo through the DNAT to vm1, and an ARP probe), timestamped. One **failover** is: ``node
fail`` of the active replica's node (a power loss), wait until the floating IP answers and the other replica reports
``active``, settle, ``node recover`` it, wait until it reports ``standby``, settle. Per failover:

* ``outage_s``: the lost probes' run after the power loss (first lost probe to the first answered one);
* ``return_lost``: probes lost after the node came back (``nopreempt``: target 0);
* ``duplicates``: ARP probes answered by two replicas (or two MACs) at once (target: none, ever), and when
  (``duplicates_at_s``, seconds after the power loss; the node came back at ``recovered_at_s``); a late answer
  filed under the next probe is not one (:func:`floatnet.lab.hawatch.duplicates`).

Two configurations in the same run, interleaved in blocks (A B A B…; switching one means both network nodes
restart with the new ``[DEFAULT] ha_vrrp_advert_int``, as mixed intervals would split the VRRP group):
``neutron_default`` (2 s) and ``floatnet_tuned`` (:data:`floatnet.lab.hawatch.TUNED_ADVERT_INT`); each reports
p50/p99/max of the outage over ``--failovers``. Target: p99 ≤ 2 s tuned.

``--conntrackd``: the tuned configuration also sets ``[agent] ha_conntrackd_enabled = true`` (the Neutron-default
one runs without it), and every failover of both carries one established TCP session across the takeover: from
the upstream to a second floating IP's **port forwarding** (tcp/:data:`PF_PORT` → vm2's push server, which sends
a numbered line every 20 ms, :mod:`floatnet.lab.probe`). Judged at the receiver, the upstream
(:func:`floatnet.lab.probe.push_verdict`): lines go on arriving after the other replica answers, in sequence, no
reset; ``sessions_survived`` counts those, per configuration: the A/B of conntrackd. A port-forwarded session with
the server talking is the one only conntrackd keeps: without the synced entry the new active replica sees the
server's retransmission first, takes it for vm2's own outbound traffic and SNATs it to the gateway address, and
the client resets it (a 1:1 floating IP's session is picked up mid-stream either way; tests/dataplane/
test_conntrackd.py shows both on one pair of replicas). ``--session-without-conntrackd`` adds a third
configuration to the blocks, ``tuned_without_conntrackd`` (the tuned interval, conntrackd off), the control
that separates conntrackd from the faster takeover.

Names carry the prefix ``bh`` + 4 hex; everything is removed at the end. Needs root. Usage::

    sudo .venv/bin/python bench/ha_failover.py [--failovers 20] [--block 5] [--rate 20] [--conntrackd]
        [--session-without-conntrackd]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import secrets
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from convergence import percentiles
from multinode import in_node
from multinode_lab import World as Lab
from multinode_lab import until

from floatnet.lab import hawatch, instance, nodes, probe
from floatnet.lab.names import ECHO_PORT, PUSH_PORT
from floatnet.linux import netns

NETWORK_NODES = (("net1", "l3,dhcp"), ("net2", "l3"))
SETTLE_S = 2.0  # probes answered before each node fail / after each recovery, so every window has a baseline
NEUTRON_ADVERT_INT = 2.0
PF_PORT = 8019  # the port forwarding's external port on the second floating IP
PATIENCE_S = 30.0  # how long after the takeover a pushed line may take to arrive (the server's TCP backs off)


def topology(lab: Lab) -> dict[str, Any]:
    """The nodes, blue (VLAN 100) with vm1 on cmp1, the external network, the HA router and vm1's floating IP."""
    api = lab.api
    for name, roles in (*NETWORK_NODES, ("cmp1", "compute")):
        nodes.add(lab.ctx, api, name, roles)
    blue = api.create("network", name="blue", **{"provider:network_type": "vlan",
                      "provider:physical_network": "public_eth1", "provider:segmentation_id": 100})  # fmt: skip
    [group] = api.list("security_group", name="default", project_id=blue["project_id"])
    api.create("security_group_rule", security_group_id=group["id"], direction="ingress",
               remote_ip_prefix="0.0.0.0/0")  # the upstream's probes reach vm1  # fmt: skip
    subnet = api.create("subnet", network_id=blue["id"], cidr="10.0.0.0/24", ip_version=4)
    ext = api.create("network", name="public", **{"router:external": True, "provider:network_type": "flat",
                     "provider:physical_network": "public_eth0"})  # fmt: skip
    api.create("subnet", network_id=ext["id"], cidr="203.0.113.0/24", ip_version=4, enable_dhcp=False,
               gateway_ip="203.0.113.1", allocation_pools=[{"start": "203.0.113.10", "end": "203.0.113.99"}])
    router = api.create("router", name="r1", ha=True, external_gateway_info={"network_id": ext["id"]})
    api.call("PUT", f"/routers/{router['id']}/add_router_interface", {"subnet_id": subnet["id"]})
    vm1 = instance.create(lab.ctx, api, "vm1", blue["id"], host="cmp1")
    fip = api.create("floatingip", floating_network_id=ext["id"], port_id=vm1.port_id)
    vm2 = instance.create(lab.ctx, api, "vm2", blue["id"], host="cmp1")  # Neutron: a PF's port has no floating IP
    [fixed] = api.show("port", vm2.port_id)["fixed_ips"]
    shared = api.create("floatingip", floating_network_id=ext["id"])
    api.call("POST", f"/floatingips/{shared['id']}/port_forwardings", {"port_forwarding": {"protocol": "tcp",
             "internal_port_id": vm2.port_id, "internal_ip_address": fixed["ip_address"],
             "internal_port": PUSH_PORT, "external_port": PF_PORT}})  # fmt: skip
    return {"router": router["id"], "fip": fip["floating_ip_address"], "pf": shared["floating_ip_address"]}


def ha_states(lab: Lab, router_id: str) -> dict[str, str]:
    """Host -> ``ha_state`` of the router's replicas (``GET /routers/{id}/l3-agents``)."""
    agents = lab.api.call("GET", f"/routers/{router_id}/l3-agents")["agents"]
    return {agent["host"]: agent["ha_state"] for agent in agents}


def active_host(lab: Lab, router_id: str) -> str | None:
    """The one replica reported active while both run; None otherwise (none yet, or two)."""
    states = ha_states(lab, router_id)
    active = [host for host, state in states.items() if state == "active"]
    return active[0] if len(active) == 1 and len(states) == len(NETWORK_NODES) else None


def answering(lab: Lab, fip: str) -> bool:
    return netns.run_in(lab.ctx.names.upstream_ns, _connects, fip)


def _connects(fip: str) -> bool:
    try:
        with socket.create_connection((fip, ECHO_PORT), timeout=0.5):
            return True
    except OSError:
        return False


def configure(lab: Lab, topo: dict[str, Any], advert_int: float, conntrackd: bool) -> None:
    """Both network nodes restarted with ``advert_int`` (and conntrackd): a VRRP group agrees on its interval."""
    config = dataclasses.replace(lab.ctx.config, ha_vrrp_advert_int=advert_int, ha_conntrackd_enabled=conntrackd)
    lab.ctx = dataclasses.replace(lab.ctx, config=config)
    for name, _ in NETWORK_NODES:
        nodes.fail(lab.ctx, name)
    for name, _ in NETWORK_NODES:
        nodes.recover(lab.ctx, lab.api, name)
    until(lambda: active_host(lab, topo["router"]), 120, "one active replica", interval=0.2)
    until(lambda: answering(lab, topo["fip"]), 60, "the floating IP answering", interval=0.2)


class Session:
    """One established TCP session from the upstream to the port forwarding's pushing server, read in a thread
    until :meth:`stop`: the frames, when each read arrived, and why reading ended (None while it goes on)."""

    def __init__(self, lab: Lab, address: str) -> None:
        self.sock = netns.run_in(lab.ctx.names.upstream_ns, socket.create_connection, (address, PF_PORT), 2)
        self.sock.settimeout(0.5)
        self.numbers: list[int] = []
        self.arrivals: list[float] = []
        self.error: str | None = None
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        rest = b""
        while not self.stopped.is_set():
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue  # nothing yet (the takeover): patience is :meth:`stop`'s
            except OSError as exc:
                self.error = repr(exc)
                return
            if not data:
                self.error = "closed by the server"
                return
            numbers, rest = probe.push_lines(rest + data)
            self.numbers += numbers
            self.arrivals.append(time.time())

    def stop(self, after: float, patience: float = PATIENCE_S) -> dict[str, Any]:
        """Wait (up to ``patience``) for a read after ``after``, the takeover, then end the session; the
        verdict."""
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline and self.error is None and not any(at > after for at in self.arrivals):
            time.sleep(0.1)
        self.stopped.set()
        self.thread.join(5)
        self.sock.close()
        return probe.push_verdict(self.numbers, self.arrivals, self.error, after)


def waited(lab: Lab, router_id: str, check: Any, what: str, timeout: float = 120) -> None:
    """:func:`until`, and on a timeout what each running network node's replica holds (the error says it)."""
    try:
        until(check, timeout, what, interval=0.1)
    except RuntimeError as exc:
        argv = ["ip", "netns", "exec", f"qrouter-{router_id}", "ip", "-br", "addr", "show"]
        running = {row["name"] for row in nodes.listing(lab.ctx) if row["state"] == "up"}
        seen = {name: in_node(lab, name, argv) + in_node(lab, name, ["ps", "-eo", "pid,stat,comm"])
                for name, _ in NETWORK_NODES if name in running}  # fmt: skip
        logs = {name: _tail(lab, name) for name, _ in NETWORK_NODES}
        raise RuntimeError(f"{exc}; ha_state {ha_states(lab, router_id)}; replicas {seen}; agents {logs}") from exc


def _tail(lab: Lab, name: str, lines: int = 25) -> list[str]:
    node = nodes.find(lab.ctx, name)
    path = Path(node.directory) / "agent.log" if node else None
    return path.read_text(errors="replace").splitlines()[-lines:] if path and path.exists() else []


def failover(lab: Lab, topo: dict[str, Any], rate: float, session: bool) -> dict[str, Any]:
    """One failover with its recovery (see the module docstring); the probes end with it, whatever happens."""
    router, fip = topo["router"], topo["fip"]
    active = until(lambda: active_host(lab, router), 60, "one active replica", interval=0.2)
    other = next(name for name, _ in NETWORK_NODES if name != active)
    watcher = hawatch.Watcher(lab.ctx.names.upstream_ns, fip, rate=rate, python=lab.ctx.python)
    tcp, verdict, answered_at = None, None, float("inf")
    try:
        tcp = Session(lab, topo["pf"]) if session else None
        failed_at, reported, recovered_at = cycle(lab, topo, active, other)
        answered_at = failed_at + reported
    finally:
        verdict = tcp.stop(answered_at, PATIENCE_S if answered_at < float("inf") else 0.0) if tcp else None
        record = watcher.stop()
    runs = hawatch.outages(record, start=failed_at, end=recovered_at)
    return {
        "failed": active, "outage_s": round(max((r["seconds"] for r in runs), default=0.0), 3),
        "lost": sum(int(r["lost"]) for r in runs), "ha_state_reported_s": round(reported, 2),
        "return_lost": sum(int(r["lost"]) for r in hawatch.outages(record, start=recovered_at)),
        "duplicates": len(twice := hawatch.duplicates(record)),
        "session_survived": verdict["survived"] if verdict else None,
        "duplicates_at_s": [round(d["at"] - failed_at, 2) for d in twice],
        "recovered_at_s": round(recovered_at - failed_at, 2),
        "session": verdict,
    }  # fmt: skip


def cycle(lab: Lab, topo: dict[str, Any], active: str, other: str) -> tuple[float, float, float]:
    """Power ``active`` off, wait for ``other`` to answer and report active, power it on again and wait for it
    as standby; returns when the power went, how long ``other`` took to report, when it came back."""
    router, fip = topo["router"], topo["fip"]
    time.sleep(SETTLE_S)
    failed_at = time.time()
    nodes.fail(lab.ctx, active)
    waited(lab, router, lambda: ha_states(lab, router).get(other) == "active", f"{other} reported active")
    reported = time.time() - failed_at
    until(lambda: answering(lab, fip), 60, "the floating IP answering again", interval=0.1)
    time.sleep(SETTLE_S)
    recovered_at = time.time()
    nodes.recover(lab.ctx, lab.api, active)
    waited(lab, router, lambda: ha_states(lab, router).get(active) == "standby" and active_host(lab, router) == other,
           f"{active} back as standby")  # fmt: skip
    time.sleep(SETTLE_S)
    return failed_at, reported, recovered_at


def block(
    lab: Lab, topo: dict[str, Any], count: int, args: argparse.Namespace, setting: tuple[float, bool]
) -> list[Any]:
    """``count`` failovers; one that never completes is recorded with its reason (and the nodes restarted),
    not the end of the run."""
    done: list[dict[str, Any]] = []
    for _ in range(count):
        try:
            done.append(failover(lab, topo, args.rate, args.conntrackd))
        except RuntimeError as exc:
            done.append({"error": str(exc)[:3000]})
            configure(lab, topo, *setting)
    return done


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per configuration: outage percentiles (ms) and the worst of the other counters."""
    failed = [run for run in runs if "error" in run]
    runs = [run for run in runs if "error" not in run]
    if not runs:
        return {"failovers": 0, "never_completed": len(failed)}
    outages = [run["outage_s"] for run in runs]
    sessions = [run["session_survived"] for run in runs if run["session_survived"] is not None]
    return {
        "failovers": len(runs), "never_completed": len(failed), "outage_ms": percentiles(outages),
        "ha_state_reported_ms": percentiles([run["ha_state_reported_s"] for run in runs]),
        "return_lost_probes": {"total": sum(lost := [r["return_lost"] for r in runs]), "max": max(lost)},
        "duplicate_answers": sum(run["duplicates"] for run in runs),
        "sessions_survived": f"{sum(sessions)}/{len(sessions)}" if sessions else None,
    }  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--failovers", type=int, default=20, help="failovers per configuration")
    parser.add_argument("--block", type=int, default=5, help="failovers in a row before switching configuration")
    parser.add_argument("--rate", type=float, default=20.0, help="probes per second from the upstream (>= 20)")
    parser.add_argument("--conntrackd", action="store_true", help="tuned: conntrackd on, and a TCP session")
    parser.add_argument("--session-without-conntrackd", action="store_true",
                        help="with --conntrackd: also the tuned interval without conntrackd (the control)")  # fmt: skip
    parser.add_argument("--minutes", type=float, default=0,
                        help="stop starting blocks after this long and report what was measured (0: no limit)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/ha_failover.py needs root (namespaces, OVS, nftables)", file=sys.stderr)
        return 2
    configs = {"neutron_default": (NEUTRON_ADVERT_INT, False), "floatnet_tuned": (hawatch.TUNED_ADVERT_INT,
               args.conntrackd)}  # fmt: skip
    if args.conntrackd and args.session_without_conntrackd:
        configs["tuned_without_conntrackd"] = (hawatch.TUNED_ADVERT_INT, False)
    result: dict[str, Any] = {"bench": "ha_failover", "cpus": os.cpu_count(), "load_before": os.getloadavg(),
                              "rate_hz": args.rate, "advert_int_s": {k: v[0] for k, v in configs.items()},
                              "conntrackd": {k: v[1] for k, v in configs.items()}}  # fmt: skip
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in configs}
    try:
        with Lab("bh" + secrets.token_hex(2) + "-", None) as lab:
            topo = topology(lab)
            stop_at = time.monotonic() + args.minutes * 60 if args.minutes else float("inf")
            while any(len(done) < args.failovers for done in runs.values()) and time.monotonic() < stop_at:
                for name, (advert_int, conntrackd) in configs.items():
                    todo = min(args.block, args.failovers - len(runs[name]))
                    if todo > 0 and time.monotonic() < stop_at:
                        configure(lab, topo, advert_int, conntrackd)
                        runs[name] += block(lab, topo, todo, args, (advert_int, conntrackd))
    except Exception as exc:  # what was measured is still printed, with the reason the rest was not
        result["error"] = f"{type(exc).__name__}: {exc}"
    result["load_after"] = os.getloadavg()
    result["summary"] = {name: summary(done) for name, done in runs.items() if done}
    result["runs"] = runs
    print(json.dumps(result, indent=2))
    return 1 if "error" in result else 0


if __name__ == "__main__":
    sys.exit(main())
