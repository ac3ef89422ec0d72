"""Multi-node benchmark (issue 14): prints one JSON document.

A real ``floatnet server`` and the multi-node lab (:mod:`floatnet.lab.nodes`): two network nodes (``l3,dhcp``),
two compute nodes, each with its own Open vSwitch and agent, VLAN tenant networks and a flat external network,
``allow_automatic_l3agent_failover = true``, ``report_interval = 2`` (an agent is dead after 6 s).

* ``fip``: with ``--fips`` floating IPs already on the router (on a network node), the time from the associate
  call returning to the first TCP connect from the upstream through the floating IP to vm1 on a compute node,
  p50/p99 over ``--associations``. Target: p99 ≤ 100 ms.
* ``dhcp``: ``--ports`` times, ``lab instance create`` on a compute node (the port bound there, plugged into
  that node's OVS; its DHCP client started once the port is ``ACTIVE``, as Nova boots a VM) until it holds its
  lease from the network node's dnsmasq. Target: p50 ≤ 1 s.
* ``vlan``: instances of one VLAN network on the two compute nodes reach each other; one of another VLAN
  network (same subnet, no port security) reaches neither.
* ``failover``: ``node fail`` of the router's network node → seconds until the floating IP answers again
  (from the other network node).

Names carry the prefix ``bm`` + 4 hex; everything is removed at the end (``lab down``, server by PID). Needs
root. Usage::

    sudo .venv/bin/python bench/multinode.py [--fips 1000] [--associations 100] [--ports 20]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from convergence import connect_until, percentiles

from floatnet import config as fn_config
from floatnet.lab import instance, nodes, ops
from floatnet.lab import state as lab_state
from floatnet.lab.client import LabClient
from floatnet.lab.context import LabContext, make_context
from floatnet.lab.names import ECHO_PORT
from floatnet.linux import netns

INI = """[DEFAULT]
auth_strategy = noauth
bind = 127.0.0.1:{port}
state_dir = {state}
allow_automatic_l3agent_failover = true
[ml2]
type_drivers = flat,vlan
tenant_network_types = vlan
[ml2_type_flat]
flat_networks = public_eth0
[ml2_type_vlan]
network_vlan_ranges = public_eth1:100:299
[ovs]
bridge_mappings = public_eth0:br-ex,public_eth1:br-eth1
datapath_type = netdev
[agent]
upstream_dns = 198.51.100.53
report_interval = 2
"""
NODES = (("net1", "l3,dhcp"), ("net2", "l3,dhcp"), ("cmp1", "compute"), ("cmp2", "compute"))


def until(check: Any, timeout: float, what: str, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(interval)
    raise RuntimeError(f"timed out after {timeout:g} s waiting for {what}")


class Lab:
    """The server and the multi-node lab of one run (a context manager: everything removed on exit)."""

    def __init__(self, prefix: str) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=f"floatnet-{prefix}"))
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        ini = self.dir / "floatnet.ini"
        ini.write_text(INI.format(port=port, state=self.dir / "state"))
        url = f"http://127.0.0.1:{port}"
        self.ctx: LabContext = make_context(fn_config.load(ini), url, prefix=prefix)
        self.api = LabClient(url, timeout=30)
        log = open(self.dir / "server.log", "ab")  # noqa: SIM115 - the child's for its lifetime
        self.server = subprocess.Popen([sys.executable, "-m", "floatnet", "server", "--config", str(ini)],
                                       stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        until(self._answers, 30, "the server")

    def _answers(self) -> bool:
        try:
            self.api.list("network")
        except Exception:  # not listening yet
            return False
        return True

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        _, errors = ops.down(self.ctx, self.api)
        for error in errors:
            print(f"teardown: {error}", file=sys.stderr)
        self.server.terminate()
        try:
            self.server.wait(15)
        except subprocess.TimeoutExpired:  # a long poll holding the graceful shutdown
            self.server.kill()
            self.server.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)

    def in_node(self, node: str, argv: list[str]) -> str:
        found = nodes.find(self.ctx, node)
        assert found is not None
        return subprocess.run(nodes.enter(found, argv), capture_output=True, text=True, check=False).stdout

    def router_host(self, router_id: str) -> str:
        """The running network node whose own /run/netns holds the router's namespace ("" if none)."""
        running = [row["name"] for row in nodes.listing(self.ctx) if row["state"] == "up"]
        network = [name for name, _ in NODES[:2] if name in running]
        hosts = [n for n in network if f"qrouter-{router_id}" in self.in_node(n, ["ip", "netns", "list"])]
        return hosts[0] if hosts else ""


def topology(lab: Lab) -> dict[str, Any]:
    """Nodes, networks (blue VLAN 100 with the router, red VLAN 200), the external network, the router."""
    api = lab.api
    for name, roles in NODES:
        nodes.add(lab.ctx, api, name, roles)

    def network(name: str, **attrs: Any) -> dict[str, Any]:
        return api.create("network", name=name, **attrs)

    blue = network("blue", **{"provider:network_type": "vlan", "provider:physical_network": "public_eth1",
                              "provider:segmentation_id": 100})  # fmt: skip
    red = network("red", port_security_enabled=False, **{"provider:network_type": "vlan",
                  "provider:physical_network": "public_eth1", "provider:segmentation_id": 200})  # fmt: skip
    api.call("PUT", f"/quotas/{blue['project_id']}", {"quota": {"port": -1, "floatingip": -1}})
    [group] = api.list("security_group", name="default", project_id=blue["project_id"])
    api.create("security_group_rule", security_group_id=group["id"], direction="ingress",
               remote_ip_prefix="0.0.0.0/0")  # the probes reach vm1's echo server from the upstream
    blue_subnet = api.create("subnet", network_id=blue["id"], cidr="10.0.0.0/16", ip_version=4)
    api.create("subnet", network_id=red["id"], cidr="10.0.0.0/24", ip_version=4)
    ext = network("public", **{"router:external": True, "provider:network_type": "flat",
                               "provider:physical_network": "public_eth0"})  # fmt: skip
    ext_subnet = api.create("subnet", network_id=ext["id"], cidr="203.0.113.0/24", ip_version=4,
                            enable_dhcp=False, gateway_ip="203.0.113.1",
                            allocation_pools=[{"start": "203.0.113.10", "end": "203.0.113.250"}])  # fmt: skip
    bulk = api.create("subnet", network_id=ext["id"], cidr="10.254.0.0/18", ip_version=4, enable_dhcp=False,
                      gateway_ip=None)  # fmt: skip
    gateway = {"network_id": ext["id"], "external_fixed_ips": [{"subnet_id": ext_subnet["id"]}]}
    router = api.create("router", name="r1", external_gateway_info=gateway)
    api.call("PUT", f"/routers/{router['id']}/add_router_interface", {"subnet_id": blue_subnet["id"]})
    until(lambda: lab.router_host(router["id"]), 60, "the router on a network node")
    return {"blue": blue, "red": red, "ext": ext, "ext_subnet": ext_subnet, "bulk": bulk, "router": router}


def _fips_mapped(lab: Lab, router_id: str) -> int:
    argv = ["ip", "netns", "exec", f"qrouter-{router_id}", "nft", "-j", "list", "map", "ip", "floatnet", "fip_dnat"]
    out = lab.in_node(lab.router_host(router_id), argv)
    maps = [o["map"] for o in json.loads(out or '{"nftables": []}')["nftables"] if "map" in o]
    return len(maps[0].get("elem", [])) if maps else 0


def fip_convergence(lab: Lab, topo: dict[str, Any], bulk: int, rounds: int) -> dict[str, Any]:
    """``bulk`` floating IPs on the router, then ``rounds`` associations of probe floating IPs to vm1."""
    api, router = lab.api, topo["router"]["id"]
    for i in range(bulk):
        port = api.create("port", network_id=topo["blue"]["id"], name=f"bulk{i}")
        api.create("floatingip", floating_network_id=topo["ext"]["id"], subnet_id=topo["bulk"]["id"],
                   port_id=port["id"])  # fmt: skip
    until(lambda: _fips_mapped(lab, router) >= bulk, 300, f"{bulk} floating IPs mapped", interval=1)
    vm1 = instance.create(lab.ctx, api, "vm1", topo["blue"]["id"], host="cmp1")
    pool = [api.create("floatingip", floating_network_id=topo["ext"]["id"], subnet_id=topo["ext_subnet"]["id"])
            for _ in range(min(20, rounds))]  # fmt: skip
    reach = []
    for i in range(rounds):
        fip = pool[i % len(pool)]
        api.update("floatingip", fip["id"], port_id=vm1.port_id)
        t0 = time.monotonic()
        ok = netns.run_in(lab.ctx.names.upstream_ns, connect_until, fip["floating_ip_address"], ECHO_PORT, t0 + 10)
        if ok is not None:
            reach.append(ok - t0)
        api.update("floatingip", fip["id"], port_id=None)
        until(lambda: _fips_mapped(lab, router) == bulk, 10, "the disassociation")  # noqa: B023
        time.sleep(0.3)
    return {"fips_on_router": bulk, "associate_to_tcp_connect_ms": percentiles(reach),
            "failures": rounds - len(reach), "target": "p99 <= 100 ms"}  # fmt: skip


def dhcp_convergence(lab: Lab, topo: dict[str, Any], count: int) -> dict[str, Any]:
    """``lab instance create`` on cmp2, ``count`` times: port create → plugged → ACTIVE → DHCP lease."""
    leases = []
    for i in range(count):
        t0 = time.monotonic()
        instance.create(lab.ctx, lab.api, f"d{i}", topo["blue"]["id"], host="cmp2", wait=30, boot_when_active=10)
        leases.append(time.monotonic() - t0)
        instance.delete(lab.ctx, lab.api, f"d{i}")
    return {"ports": count, "create_to_lease_ms": percentiles(leases), "target": "p50 <= 1000 ms"}


def _ping(ns: str, ip: str) -> bool:
    argv = ["ip", "netns", "exec", ns, "ping", "-c", "2", "-W", "1", ip]
    return subprocess.run(argv, capture_output=True, check=False).returncode == 0


def vlan_reachability(lab: Lab, topo: dict[str, Any]) -> dict[str, Any]:
    """vm2 (cmp2, blue) → vm1 (cmp1, blue) answers; vm3 (cmp2, red: same subnet, other VLAN) → vm1 does not."""
    names = lab.ctx.names
    instance.create(lab.ctx, lab.api, "vm2", topo["blue"]["id"], host="cmp2")
    instance.create(lab.ctx, lab.api, "vm3", topo["red"]["id"], host="cmp2")
    vm1 = (instance.dhcp_lease(lab.ctx, "vm1") or {}).get("ip", "")
    return {"blue_cmp2_to_blue_cmp1": _ping(names.instance_ns("vm2"), vm1),
            "red_cmp2_to_blue_cmp1": _ping(names.instance_ns("vm3"), vm1),
            "expected": {"blue_cmp2_to_blue_cmp1": True, "red_cmp2_to_blue_cmp1": False}}  # fmt: skip


def failover(lab: Lab, topo: dict[str, Any]) -> dict[str, Any]:
    """``node fail`` of the router's node → first TCP connect through vm1's floating IP from the upstream."""
    api, router = lab.api, topo["router"]["id"]
    vm1 = lab_state.load(lab.ctx.state_dir, lab.ctx.names.prefix).instances["vm1"].port_id
    fip = api.create("floatingip", floating_network_id=topo["ext"]["id"], subnet_id=topo["ext_subnet"]["id"],
                     port_id=vm1)  # fmt: skip
    address, upstream = fip["floating_ip_address"], lab.ctx.names.upstream_ns
    if netns.run_in(upstream, connect_until, address, ECHO_PORT, time.monotonic() + 30) is None:
        raise RuntimeError(f"{address} never answered before the failover")
    failed = lab.router_host(router)
    t0 = time.monotonic()
    nodes.fail(lab.ctx, failed)
    back = netns.run_in(upstream, connect_until, address, ECHO_PORT, t0 + 120)
    took = None if back is None else round(back - t0, 2)
    result = {"failed_node": failed, "now_on": lab.router_host(router), "seconds_to_answer_again": took,
              "agent_down_time_s": 6}  # fmt: skip
    nodes.recover(lab.ctx, api, failed)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fips", type=int, default=1000, help="floating IPs already on the router")
    parser.add_argument("--associations", type=int, default=100, help="measured associations")
    parser.add_argument("--ports", type=int, default=20, help="instances for the DHCP measure")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("bench/multinode.py needs root (namespaces, OVS, nftables)", file=sys.stderr)
        return 2
    result: dict[str, Any] = {"bench": "multinode", "cpus": os.cpu_count(), "nodes": dict(NODES)}
    try:
        with Lab(prefix="bm" + secrets.token_hex(2) + "-") as lab:
            started = time.monotonic()
            topo = topology(lab)
            result["setup_seconds"] = round(time.monotonic() - started, 1)
            result["fip"] = fip_convergence(lab, topo, args.fips, args.associations)
            result["dhcp"] = dhcp_convergence(lab, topo, args.ports)
            result["vlan"] = vlan_reachability(lab, topo)
            result["failover"] = failover(lab, topo)
    except Exception as exc:  # what was measured is still printed, with the reason the rest was not
        result["error"] = f"{type(exc).__name__}: {exc}"
    print(json.dumps(result, indent=2))
    return 1 if "error" in result else 0


if __name__ == "__main__":
    sys.exit(main())
