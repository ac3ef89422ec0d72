"""Multi-node benchmark (issue 14): prints one JSON document.

The issue's cloud on one machine (:mod:`multinode_lab`): a PostgreSQL, two ``floatnet server`` processes on
it (``a`` and ``b``) and three nodes of the multi-node lab (:mod:`floatnet.lab.nodes`), each with its own Open
vSwitch and agent, the agents spread across the servers: ``net1`` (``l3,dhcp``, follows ``a``), ``cmp1`` and
``cmp2`` (``compute``, follow ``b``). VLAN and VXLAN tenant networks, a flat external network,
``allow_automatic_l3agent_failover = true``, ``report_interval = 2`` (an agent is dead after 6 s).

* ``fip``: with ``--fips`` floating IPs on the router (on net1), ``--associations`` associations of a probe
  floating IP to vm1 (on cmp1), written alternately through server a and server b: the time from the
  associate call returning to the first TCP connect from the upstream through the floating IP
  (:func:`multinode_lab.first_connect`), p50/p99 per server. Target: p99 ≤ 100 ms. ``steady_connect_ms``:
  the same probe right after, through the mapped floating IP — the lab datapath's share of each figure.
* ``dhcp``: ``--ports`` times, ``lab instance create`` on cmp2 (the port bound there and plugged into its OVS,
  its DHCP client started once the port is ``ACTIVE``, as Nova boots a VM) until it holds its lease from
  net1's dnsmasq. Target: p50 ≤ 1 s.
* ``reachability``: a VLAN pair (blue, cmp2 → cmp1) and a VXLAN pair (green, cmp2 → cmp1) reach each other;
  an instance of another network (red VLAN, green VXLAN) does not reach blue's vm1, although all share one
  address range (disjoint pools): only L2 isolation keeps them apart.
* ``failover``: a standby network node ``net2`` (``l3,dhcp``, follows ``b``) joins, then ``node fail net1``
  → seconds until vm1's floating IP answers again (the router failed over to net2).

Sizes: the default is a quick run (100 floating IPs, 20 associations, 5 ports: a few minutes);
``--issue-size`` is the issue's (1,000 floating IPs, 100 associations, 20 ports). Names carry the prefix
``bm`` + 4 hex; everything is removed at the end. Needs root and the ``postgresql`` package (or
``--database-url`` of an empty database). Usage::

    sudo .venv/bin/python bench/multinode.py [--issue-size] [--fips N] [--associations N] [--ports N]
        [--keep-logs DIR]   # the servers' and every node's agent log, copied before the teardown
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from convergence import percentiles
from multinode_lab import World, first_connect, until

from floatnet.lab import instance, nodes
from floatnet.lab import state as lab_state
from floatnet.lab.names import ECHO_PORT
from floatnet.linux import netns

NODES = (("net1", "l3,dhcp", "a"), ("cmp1", "compute", "b"), ("cmp2", "compute", "b"))
STANDBY = ("net2", "l3,dhcp", "b")
NETWORK_NODES = ("net1", "net2")
QUICK = {"fips": 100, "associations": 20, "ports": 5}
ISSUE = {"fips": 1000, "associations": 100, "ports": 20}
CIDR = "10.0.0.0/16"  # every tenant network: only their pools differ
VLAN = {"provider:network_type": "vlan", "provider:physical_network": "public_eth1"}


def in_node(world: World, node: str, argv: list[str]) -> str:
    found = nodes.find(world.ctx, node)
    assert found is not None
    return subprocess.run(nodes.enter(found, argv), capture_output=True, text=True, check=False).stdout


def router_host(world: World, router_id: str) -> str:
    """The running network node whose own /run/netns holds the router's namespace ("" if none)."""
    running = {row["name"] for row in nodes.listing(world.ctx) if row["state"] == "up"}
    hosts = [n for n in NETWORK_NODES if n in running and f"qrouter-{router_id}" in in_node(world, n, ["ip", "netns"])]
    return hosts[0] if hosts else ""


def _network(world: World, name: str, pool: tuple[str, str] | None, **attrs: Any) -> dict[str, Any]:
    """A network with a DHCP subnet of :data:`CIDR` (allocation pool ``pool``, default: the whole range)."""
    net = world.api.create("network", name=name, **attrs)
    pools = {"allocation_pools": [{"start": pool[0], "end": pool[1]}]} if pool else {}
    subnet = world.api.create("subnet", network_id=net["id"], cidr=CIDR, ip_version=4, **pools)
    return {**net, "subnet": subnet}


def topology(world: World) -> dict[str, Any]:
    """Nodes, blue (VLAN 100, on the router), red (VLAN 200) and green (VXLAN) tenant networks, the external
    network and the router on net1."""
    api = world.api
    for name, roles, server in NODES:
        nodes.add(world.ctx, api, name, roles, server=world.urls[server])
    blue = _network(world, "blue", None, **VLAN, **{"provider:segmentation_id": 100})
    red = _network(world, "red", ("10.0.200.1", "10.0.200.99"), port_security_enabled=False, **VLAN,
                   **{"provider:segmentation_id": 200})  # fmt: skip
    green = _network(world, "green", ("10.0.201.1", "10.0.201.99"), port_security_enabled=False,
                     **{"provider:network_type": "vxlan"})  # fmt: skip
    api.call("PUT", f"/quotas/{blue['project_id']}", {"quota": {"port": -1, "floatingip": -1}})
    [group] = api.list("security_group", name="default", project_id=blue["project_id"])
    api.create(
        "security_group_rule", security_group_id=group["id"], direction="ingress", remote_ip_prefix="0.0.0.0/0"
    )  # the probes reach vm1's echo server from the upstream
    ext = api.create("network", name="public", **{"router:external": True, "provider:network_type": "flat",
                                                  "provider:physical_network": "public_eth0"})  # fmt: skip
    ext_subnet = api.create("subnet", network_id=ext["id"], cidr="203.0.113.0/24", ip_version=4,
                            enable_dhcp=False, gateway_ip="203.0.113.1",
                            allocation_pools=[{"start": "203.0.113.10", "end": "203.0.113.250"}])  # fmt: skip
    bulk = api.create("subnet", network_id=ext["id"], cidr="10.254.0.0/18", ip_version=4, enable_dhcp=False,
                      gateway_ip=None)  # fmt: skip
    gateway = {"network_id": ext["id"], "external_fixed_ips": [{"subnet_id": ext_subnet["id"]}]}
    router = api.create("router", name="r1", external_gateway_info=gateway)
    api.call("PUT", f"/routers/{router['id']}/add_router_interface", {"subnet_id": blue["subnet"]["id"]})
    until(lambda: router_host(world, router["id"]), 60, "the router on net1")
    return {"blue": blue, "red": red, "green": green, "ext": ext, "ext_subnet": ext_subnet, "bulk": bulk,
            "router": router}  # fmt: skip


def _fips_mapped(world: World, router_id: str) -> int:
    argv = ["ip", "netns", "exec", f"qrouter-{router_id}", "nft", "-j", "list", "map", "ip", "floatnet", "fip_dnat"]
    out = in_node(world, router_host(world, router_id), argv)
    maps = [o["map"] for o in json.loads(out or '{"nftables": []}')["nftables"] if "map" in o]
    return len(maps[0].get("elem", [])) if maps else 0


def _add_bulk(world: World, topo: dict[str, Any], count: int) -> None:
    """``count`` floating IPs associated to ports of blue (never plugged: only the router holds them)."""
    for i in range(count):
        api = world.apis["ab"[i % 2]]
        port = api.create("port", network_id=topo["blue"]["id"], name=f"bulk{i}")
        api.create("floatingip", floating_network_id=topo["ext"]["id"], subnet_id=topo["bulk"]["id"],
                   port_id=port["id"])  # fmt: skip
    until(lambda: _fips_mapped(world, topo["router"]["id"]) >= count, 600, f"{count} floating IPs mapped", 1)


def _steady_connect(world: World, address: str) -> float:
    """The same probe through a floating IP already mapped: the datapath's own share of the associate
    figure (the SYN and SYN-ACK through the lab's OVS bridges), which no agent change can remove."""
    t0 = time.monotonic()
    done = netns.run_in(world.ctx.names.upstream_ns, first_connect, address, ECHO_PORT, t0 + 5)
    return (done if done is not None else t0 + 5) - t0


def fip_convergence(world: World, topo: dict[str, Any], bulk: int, rounds: int) -> dict[str, Any]:
    """``bulk`` floating IPs on the router, then ``rounds`` associations of probe floating IPs to vm1, written
    alternately through server a and server b."""
    started = time.monotonic()
    _add_bulk(world, topo, bulk)
    prepared = round(time.monotonic() - started, 1)
    vm1 = instance.create(world.ctx, world.api, "vm1", topo["blue"]["id"], host="cmp1")
    pool = [world.api.create("floatingip", floating_network_id=topo["ext"]["id"],
                             subnet_id=topo["ext_subnet"]["id"]) for _ in range(min(20, rounds))]  # fmt: skip
    reach: dict[str, list[float]] = {"a": [], "b": []}
    floor: list[float] = []
    slowest: list[tuple[float, str, float]] = []  # (seconds, server, wall time of the associate's return)
    for i in range(rounds):
        server, fip = "ab"[i % 2], pool[i % len(pool)]
        world.apis[server].update("floatingip", fip["id"], port_id=vm1.port_id)
        t0, wall = time.monotonic(), time.time()
        ok = netns.run_in(world.ctx.names.upstream_ns, first_connect, fip["floating_ip_address"], ECHO_PORT, t0 + 10)
        if ok is not None:
            reach[server].append(ok - t0)
            slowest.append((ok - t0, server, wall))
            floor.append(_steady_connect(world, fip["floating_ip_address"]))
        world.apis[server].update("floatingip", fip["id"], port_id=None)
        until(lambda: _fips_mapped(world, topo["router"]["id"]) == bulk, 10, "the disassociation")
        time.sleep(0.3)
    return {"fips_on_router": bulk, "bulk_setup_s": prepared,
            "associate_to_tcp_connect_ms": {f"via_server_{s}": percentiles(v) for s, v in reach.items()},
            "all_ms": percentiles(reach["a"] + reach["b"]), "steady_connect_ms": percentiles(floor),
            "failures": rounds - len(reach["a"]) - len(reach["b"]), "target": "p99 <= 100 ms",
            "slowest": [{"ms": round(t * 1000, 1), "via": v, "at": _utc(at)}
                        for t, v, at in sorted(slowest)[-3:]]}  # fmt: skip


def _utc(wall: float) -> str:
    """A wall time as the agents' and servers' logs print it (UTC to the millisecond): find a slow sample there."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(wall)) + f",{int(wall % 1 * 1000):03d}"


def dhcp_convergence(world: World, topo: dict[str, Any], count: int) -> dict[str, Any]:
    """``lab instance create`` on cmp2, ``count`` times: port create → plugged → ACTIVE → DHCP lease."""
    leases = []
    for i in range(count):
        t0 = time.monotonic()
        instance.create(world.ctx, world.api, f"d{i}", topo["blue"]["id"], host="cmp2", wait=30,
                        boot_when_active=10)  # fmt: skip
        leases.append(time.monotonic() - t0)
        instance.delete(world.ctx, world.api, f"d{i}")
    return {"ports": count, "node": "cmp2", "create_to_lease_ms": percentiles(leases), "target": "p50 <= 1000 ms"}


def _ping(world: World, name: str, ip: str) -> bool:
    argv = ["ip", "netns", "exec", world.ctx.names.instance_ns(name), "ping", "-c", "2", "-W", "1", ip]
    return subprocess.run(argv, capture_output=True, check=False).returncode == 0


def _lease_ip(world: World, name: str) -> str:
    return (instance.dhcp_lease(world.ctx, name) or {}).get("ip", "")


def reachability(world: World, topo: dict[str, Any]) -> dict[str, Any]:
    """The VLAN pair vm2 (cmp2) → vm1 (cmp1) on blue, the VXLAN pair vx2 (cmp2) → vx1 (cmp1) on green; vm3
    (red VLAN, cmp2) and vx2 (green VXLAN) → vm1 (blue) must not answer."""
    for name, net, host in (("vm2", "blue", "cmp2"), ("vm3", "red", "cmp2"), ("vx1", "green", "cmp1"),
                            ("vx2", "green", "cmp2")):  # fmt: skip
        instance.create(world.ctx, world.api, name, topo[net]["id"], host=host)
    vm1, vx1 = _lease_ip(world, "vm1"), _lease_ip(world, "vx1")
    found = {"vlan_blue_cmp2_to_cmp1": _ping(world, "vm2", vm1), "vxlan_green_cmp2_to_cmp1": _ping(world, "vx2", vx1),
             "vlan_red_to_blue": _ping(world, "vm3", vm1), "vxlan_green_to_blue": _ping(world, "vx2", vm1)}  # fmt: skip
    expected = {"vlan_blue_cmp2_to_cmp1": True, "vxlan_green_cmp2_to_cmp1": True, "vlan_red_to_blue": False,
                "vxlan_green_to_blue": False}  # fmt: skip
    return {**found, "as_expected": found == expected}


def failover(world: World, topo: dict[str, Any]) -> dict[str, Any]:
    """The standby network node joins; ``node fail net1`` → first TCP connect through vm1's floating IP."""
    name, roles, server = STANDBY
    nodes.add(world.ctx, world.api, name, roles, server=world.urls[server])
    vm1 = lab_state.load(world.ctx.state_dir, world.ctx.names.prefix).instances["vm1"].port_id
    fip = world.api.create("floatingip", floating_network_id=topo["ext"]["id"],
                           subnet_id=topo["ext_subnet"]["id"], port_id=vm1)  # fmt: skip
    address, upstream = fip["floating_ip_address"], world.ctx.names.upstream_ns
    if netns.run_in(upstream, first_connect, address, ECHO_PORT, time.monotonic() + 30) is None:
        raise RuntimeError(f"{address} never answered before the failover")
    failed = router_host(world, topo["router"]["id"])
    t0 = time.monotonic()
    nodes.fail(world.ctx, failed)
    back = netns.run_in(upstream, first_connect, address, ECHO_PORT, t0 + 120)
    result = {
        "failed_node": failed,
        "now_on": router_host(world, topo["router"]["id"]),
        "seconds_to_answer_again": None if back is None else round(back - t0, 2),
        "agent_down_time_s": 6,
    }
    nodes.recover(world.ctx, world.api, failed)
    return result


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--issue-size", action="store_true", help="the issue's size: " + json.dumps(ISSUE))
    parser.add_argument("--fips", type=int, help=f"floating IPs already on the router (quick: {QUICK['fips']})")
    parser.add_argument("--associations", type=int, help=f"measured associations (quick: {QUICK['associations']})")
    parser.add_argument("--ports", type=int, help=f"instances for the DHCP measure (quick: {QUICK['ports']})")
    parser.add_argument("--database-url", help="an empty PostgreSQL database (default: a private cluster)")
    parser.add_argument("--keep-logs", type=Path, help="copy the servers' and nodes' logs here before teardown")
    args = parser.parse_args()
    for key, value in (ISSUE if args.issue_size else QUICK).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def main() -> int:
    args = parse_args()
    if os.geteuid() != 0:
        print("bench/multinode.py needs root (namespaces, OVS, nftables, PostgreSQL)", file=sys.stderr)
        return 2
    result: dict[str, Any] = {"bench": "multinode", "cpus": os.cpu_count(), "load_before": os.getloadavg(),
                              "nodes": {n: f"{r} (server {s})" for n, r, s in NODES}}  # fmt: skip
    try:
        prefix = "bm" + secrets.token_hex(2) + "-"
        with World(prefix=prefix, database_url=args.database_url, keep_logs=args.keep_logs) as world:
            started = time.monotonic()
            topo = topology(world)
            result["setup_seconds"] = round(time.monotonic() - started, 1)
            result["fip"] = fip_convergence(world, topo, args.fips, args.associations)
            result["dhcp"] = dhcp_convergence(world, topo, args.ports)
            result["reachability"] = reachability(world, topo)
            result["failover"] = failover(world, topo)
    except Exception as exc:  # what was measured is still printed, with the reason the rest was not
        result["error"] = f"{type(exc).__name__}: {exc}"
    result["load_after"] = os.getloadavg()
    print(json.dumps(result, indent=2))
    return 1 if "error" in result else 0


if __name__ == "__main__":
    sys.exit(main())
