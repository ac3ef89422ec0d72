"""``floatnet demo [--cleanup | --down]``: from nothing to a proven floating IP, the seed's whole scenario in
one command.

Starts server + agent (``floatnet up --detach``, state in ``--state-dir``), builds the lab (the outside world
and an instance), runs the seed's commands (VLAN 100 private network, flat external network with a pool,
router with interface and gateway, a floating IP associated to the instance), proves it from the lab's
namespaces, prints the seed's tables, the router's NAT table and the instance's DHCP lease, then leaves it
running with a hint of what to try, or tears it all down with ``--cleanup``; ``--down`` tears down a demo
left running without running it again. The demo touches only what it created: its own server (it refuses a
URL where another server answers) and the ids it recorded (:mod:`floatnet.cli.demo_owned`). Needs root.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from floatnet import config as fn_config
from floatnet.cli import demo_ipv6, demo_security
from floatnet.cli.demo_owned import NotOurs, Owned, check_ours
from floatnet.client import ApiError
from floatnet.lab import instance, ops, proofs
from floatnet.lab import ovs as lab_ovs
from floatnet.lab import state as lab_state
from floatnet.lab.client import LabClient
from floatnet.lab.context import LabContext, make_context
from floatnet.lab.names import DNS_SERVER, NODES_PREFIX, WEB_SERVER
from floatnet.linux import netns

DEFAULT_STATE_DIR = "/var/lib/floatnet-demo"
NODES_STATE_DIR = "/var/lib/floatnet-demo-nodes"
DEFAULT_BIND = "127.0.0.1:9696"
PREFIX = "fndemo-"
DEMO_INI = """# written by `floatnet demo`: the seed's ml2_conf.ini, with floatnet's names
[DEFAULT]
auth_strategy = noauth
bind = {bind}
state_dir = {state_dir}

[ml2]
type_drivers = flat,vlan
tenant_network_types = vlan,flat

[ml2_type_flat]
flat_networks = public_eth0

[ml2_type_vlan]
network_vlan_ranges = public_eth1:100:199

[ovs]
bridge_mappings = public_eth0:br-ex,public_eth1:br-eth1

[agent]
upstream_dns = {dns}
report_interval = 2
"""
# (key in the demo's record, collection to check the recorded id in ("": a step without an id), the command:
# ``{key}`` is the recorded id of an earlier step, so nothing is ever looked up by name)
SEED = [
    ("vlan_100", "networks", ["net-create", "--provider:network_type", "vlan", "--provider:physical_network",
     "public_eth1", "--provider:segmentation_id", "100", "vlan_100"]),
    ("vlan_100_subnet01", "subnets", ["subnet-create", "--enable-dhcp", "--ip-version", "4", "--name",
     "vlan_100_subnet01", "{vlan_100}", "10.0.0.0/24"]),
    ("public_net", "networks", ["net-create", "--router:external", "--provider:network_type", "flat",
     "--provider:physical_network", "public_eth0", "public_net"]),
    ("public_eth0_subnet01", "subnets", ["subnet-create", "--name", "public_eth0_subnet01", "--allocation-pool",
     "start=203.0.113.100,end=203.0.113.119", "--gateway", "203.0.113.1", "--disable-dhcp", "--ip-version", "4",
     "{public_net}", "203.0.113.0/24"]),
    ("router1", "routers", ["router-create", "router1"]),
    ("router1:interface", "", ["router-interface-add", "{router1}", "{vlan_100_subnet01}"]),
    ("router1:gateway", "", ["router-gateway-set", "{router1}", "{public_net}"]),
]  # fmt: skip
# the teardown, last step first: (the record keys a step removes, the other keys it needs, the command)
TEARDOWN = [
    (("floatingip",), (), ["floatingip-delete", "{floatingip}"]),
    (("router1:gateway",), ("router1",), ["router-gateway-clear", "{router1}"]),
    (("router1:interface6",), ("router1", "vlan_100_subnet6"), ["router-interface-delete", "{router1}",
                                                                "{vlan_100_subnet6}"]),
    (("router1:interface",), ("router1", "vlan_100_subnet01"), ["router-interface-delete", "{router1}",
                                                                "{vlan_100_subnet01}"]),
    (("router1",), (), ["router-delete", "{router1}"]),
    (("vlan_100", "vlan_100_subnet01", "vlan_100_subnet6"), (), ["net-delete", "{vlan_100}"]),
    (("public_net", "public_eth0_subnet01", "public_eth0_subnet6"), (), ["net-delete", "{public_net}"]),
    *demo_security.TEARDOWN,
    *demo_ipv6.TEARDOWN,
]  # fmt: skip
COLLECTIONS = {key: collection for key, collection, _ in SEED} | {"floatingip": "floatingips"}
COLLECTIONS |= demo_security.COLLECTIONS | demo_ipv6.COLLECTIONS


class DemoError(RuntimeError):
    """The demo cannot go on; the message says where and what to look at."""


def register(subparsers: Any) -> None:
    demo = subparsers.add_parser("demo", help="the seed's scenario end to end, proven (needs root)")
    demo.add_argument("--state-dir", help=f"default {DEFAULT_STATE_DIR} ({NODES_STATE_DIR} with --nodes)")
    demo.add_argument("--config", help="ini file (default: <state-dir>/floatnet.ini, written by the demo)")
    demo.add_argument("--bind", metavar="HOST:PORT", help=f"the demo server's address (default {DEFAULT_BIND})")
    demo.add_argument("--prefix", help=f"the lab's name prefix (default {PREFIX}, {NODES_PREFIX} with --nodes)")
    demo.add_argument("--nodes", type=int, default=1, metavar="N",
                      help="N > 1: a multi-node lab, one network node and N-1 compute nodes (floatnet lab node)")
    demo.add_argument("--ha", action="store_true",
                      help="with --nodes 3 or more: router1 HA on two network nodes, and a failover shown")
    demo.add_argument("--ipv6", action="store_true",
                      help="then make it dual-stack: a SLAAC subnet routed (not NATed) to the upstream, proven")
    how = demo.add_mutually_exclusive_group()
    how.add_argument("--cleanup", action="store_true", help="tear everything down after the proofs")
    how.add_argument("--down", action="store_true", help="tear down a demo left running (without running it)")


class Demo:
    """One run of the demo: progress lines, the floatnet CLI in subprocesses, the lab in-process."""

    default_state_dir, default_prefix = DEFAULT_STATE_DIR, PREFIX

    def __init__(self, args: argparse.Namespace) -> None:
        self.state_dir = Path(args.state_dir or self.default_state_dir).resolve()
        self.config_path = Path(args.config) if args.config else self.state_dir / "floatnet.ini"
        self.prefix = args.prefix or self.default_prefix
        self.vm_host: str | None = None  # the host vm1 is bound to (None: the agent's, [agent] host)
        self.step_no = 0
        self.started = time.monotonic()
        self.cfg = self._config(args.bind)
        self.bind = f"{self.cfg.bind_host}:{self.cfg.bind_port}"
        self.url = f"http://{self.bind}"
        self.client = LabClient(self.url, timeout=10)
        self.owned = Owned.load(self.state_dir)
        self.failures = 0

    def _config(self, bind: str | None) -> fn_config.Config:
        """The demo's ini (written on the first run); ``--bind`` overrides its address."""
        if not self.config_path.exists():
            self.state_dir.mkdir(parents=True, exist_ok=True)
            ini = self.ini(DEMO_INI.format(state_dir=self.state_dir, dns=DNS_SERVER, bind=bind or DEFAULT_BIND))
            self.config_path.write_text(ini)
        cfg = fn_config.load(self.config_path, self.state_dir)
        if bind:
            host, port = fn_config._parse_bind(bind)
            cfg = dataclasses.replace(cfg, bind_host=host, bind_port=port)
        return cfg

    def ini(self, text: str) -> str:
        """The ini a first run writes (a variant of the demo adds its options)."""
        return text

    def step(self, text: str) -> None:
        self.step_no += 1
        print(f"\n[{time.monotonic() - self.started:5.1f}s] {self.step_no}. {text}", flush=True)

    def floatnet(self, *args: str, show: bool = True, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``floatnet ARGS`` against the demo's server; echo the command like a shell session."""
        if show:
            print(f"  $ floatnet {' '.join(args)}", flush=True)
        env = dict(os.environ, OS_URL=self.url)
        argv = [sys.executable, "-m", "floatnet", *args]
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, check=False)
        if check and proc.returncode != 0:
            raise DemoError(f"floatnet {' '.join(args)} failed: {proc.stderr.strip() or proc.stdout.strip()}")
        return proc

    def api(self, path: str, **params: str) -> Any:
        return self.client.call("GET", path, params=params)

    def lab(self) -> LabContext:
        ovsdb, ovs_netns = lab_ovs.agent_ovs(self.cfg.ovsdb_connection, self.state_dir)
        return make_context(self.cfg, self.url, prefix=self.prefix, ovsdb=ovsdb, ovs_netns=ovs_netns)

    def check(self, proof: proofs.Proof) -> None:
        mark = "ok  " if proof.ok else "FAIL"
        self.failures += 0 if proof.ok else 1
        print(f"  [{mark}] {proof.claim}: {proof.seen}", flush=True)

    # -- phases ----------------------------------------------------------------------------------------------

    def start(self) -> None:
        self.step(f"server + agent (state in {self.state_dir})")
        self.start_server()
        deadline = time.monotonic() + 60
        while not self._agent_alive():
            if time.monotonic() > deadline:
                raise DemoError(
                    f"the agent did not report in 60 s; see {self.state_dir / 'logs' / 'agent.log'}"
                )
            time.sleep(0.3)
        print(f"  agent alive on host {self.cfg.host}", flush=True)

    def start_server(self, *options: str) -> None:
        """``floatnet up --detach`` (with ``options``) unless this demo's server already runs."""
        if check_ours(self.url, self.state_dir):  # refuses a server it did not start
            print(f"  already running on {self.url} (started by this demo from {self.state_dir})")
        else:
            self.floatnet("up", "--detach", "--state-dir", str(self.state_dir), "--config", str(self.config_path),
                          "--bind", self.bind, *options)  # fmt: skip

    def _agent_alive(self) -> bool:
        try:
            agents = self.api("/agents", host=self.cfg.host)["agents"]
        except ApiError:
            return False
        return any(agent["alive"] for agent in agents)

    def build(self, ctx: LabContext) -> dict[str, Any]:
        self.step("the lab: upstream router 203.0.113.1, DNS 198.51.100.53, web 198.51.100.80, physnet links")
        self.lab_up(ctx)
        self.step("the seed's topology")
        self._seed()
        on = f" on {self.vm_host}" if self.vm_host else ""
        self.step(f"an instance: vm1 on vlan_100{on} (namespace, tap in br-eth1, DHCP client)")
        if "vm1" not in lab_state.load(ctx.state_dir, ctx.names.prefix).instances:
            instance.create(ctx, self.client, "vm1", self.owned.ids["vlan_100"], host=self.vm_host)
        lease = instance.dhcp_lease(ctx, "vm1") or {}
        print(f"  vm1 got {lease.get('ip')}/{lease.get('mask')} by DHCP, gateway {lease.get('router')}")
        self.step("a floating IP for vm1")
        return self._floating_ip(ctx)

    def lab_up(self, ctx: LabContext) -> None:
        """The lab's outside world, wired to the agent's OVS."""
        for link in ops.up(ctx).links:
            print(f"  {link.physnet}: {link.root} in {link.bridge}, {link.address or '802.1Q trunk'}")

    def kernel_floatnet(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """A floatnet command that reads the kernel of the node running the router (``router-nat-show``,
        ``diagnose``): here, this host."""
        return self.floatnet(*args, check=check)

    def _seed(self) -> None:
        """Run the seed's commands, each unless its recorded id still exists (and nothing it refers to was
        made anew); record every id as it is created."""
        fresh: set[str] = set()
        for key, collection, template in SEED:
            refs = {arg[1:-1] for arg in template if arg.startswith("{")}
            if key in self.owned.ids and not refs & fresh and self._exists(collection, self.owned.ids[key]):
                continue
            argv = [arg.format_map(self.owned.ids) for arg in template]
            if collection:
                self.owned.add(key, self.floatnet(*argv, "-f", "value", "-c", "id").stdout.strip())
            else:
                self.floatnet(*argv)
                self.owned.add(key, "done")
            fresh.add(key)
        if not fresh:
            print("  exists already (created by this demo): reusing it")

    def _exists(self, collection: str, resource_id: str) -> bool:
        if not collection:
            return True
        try:
            self.api(f"/{collection}/{resource_id}")
        except ApiError as error:
            if error.status == 404:
                return False
            raise
        return True

    def _floating_ip(self, ctx: LabContext) -> dict[str, Any]:
        port_id = lab_state.load(ctx.state_dir, ctx.names.prefix).instances["vm1"].port_id
        fip_id = self.owned.ids.get("floatingip")
        if fip_id is None or not self._exists("floatingips", fip_id):
            public_net = self.owned.ids["public_net"]
            fip_id = self.floatnet("floatingip-create", public_net, "-f", "value", "-c", "id").stdout.strip()
            self.owned.add("floatingip", fip_id)
        fip = self.api(f"/floatingips/{fip_id}")["floatingip"]
        if fip["port_id"] != port_id:
            self.floatnet("floatingip-associate", fip_id, port_id)
            fip = self.api(f"/floatingips/{fip_id}")["floatingip"]
        deadline = time.monotonic() + 20
        while fip["status"] != "ACTIVE" and time.monotonic() < deadline:
            time.sleep(0.2)
            fip = self.api(f"/floatingips/{fip['id']}")["floatingip"]
        print(f"  {fip['floating_ip_address']} -> {fip['fixed_ip_address']} ({fip['status']})")
        return dict(fip)

    def prove(self, ctx: LabContext, fip: dict[str, Any]) -> None:
        self.step("proofs, from the lab's namespaces")
        up, vm1, address = ctx.names.upstream_ns, ctx.names.instance_ns("vm1"), fip["floating_ip_address"]
        self.check(proofs.ping(up, address, f"upstream -> {address} ping"))
        self.check(proofs.tcp_reaches(up, address, "vm1", f"upstream -> {address}:80 TCP reaches vm1"))
        self.check(proofs.seen_as(vm1, address, f"vm1 -> outside ({WEB_SERVER}) seen as the floating IP"))
        self.check(proofs.resolves(vm1, "www.example.test", WEB_SERVER, "vm1 resolves www.example.test"))

    def show(self, ctx: LabContext) -> None:
        self.step("what it looks like (the seed's tables)")
        for command in (
            ["net-show", self.owned.ids["vlan_100"]],
            ["floatingip-list"],
            ["port-list"],
        ):
            proc = self.floatnet(*command, check=False)
            print(proc.stdout.rstrip() or proc.stderr.rstrip())
        proc = self.kernel_floatnet("router-nat-show", self.owned.ids["router1"], check=False)
        print(proc.stdout.rstrip() or proc.stderr.rstrip())
        lease = instance.dhcp_lease(ctx, "vm1") or {}
        resolv = (ctx.netns_etc(ctx.names.instance_ns("vm1")) / "resolv.conf").read_text().strip()
        get = lease.get
        print(f"\n  vm1's DHCP lease: ip {get('ip')}/{get('mask')}, router {get('router')}, "
              f"DNS server {get('dns')}, domain {get('domain') or '-'}, lease {get('lease')} s")  # fmt: skip
        print("  vm1's /etc/resolv.conf: " + resolv.replace("\n", "; "))

    def hint(self, fip: dict[str, Any]) -> None:
        address = fip["floating_ip_address"]
        print(f"""
floatnet is running (state in {self.state_dir}). Try:
  export OS_URL={self.url} FLOATNET_CONFIG={self.config_path} FLOATNET_LAB_PREFIX={self.prefix}
  floatnet lab exec upstream -- ping -c 2 {address}
  floatnet lab exec vm1 -- busybox wget -qO- http://{WEB_SERVER}/   # answers with the source it saw
  floatnet lab exec vm1 -- cat /etc/resolv.conf
  floatnet diagnose {address}
  floatnet router-nat-show {self.owned.ids["router1"]}
Tear down: floatnet demo --down --state-dir {self.state_dir}{self.options()}""")

    def options(self) -> str:
        """The options a later ``demo --down`` needs to find this demo again."""
        return "" if self.prefix == self.default_prefix else f" --prefix {self.prefix}"

    def cleanup(self, ctx: LabContext) -> None:
        """Remove what the demo created (by recorded id), the lab, its server, agent and OVS; nothing else.

        Refuses (:class:`NotOurs`) when a server the demo did not start answers on its URL. A resource that
        cannot be deleted (e.g. its network still holds someone else's floating IP) stays recorded and is
        named in a warning.
        """
        self.step("cleanup")
        ours = check_ours(self.url, self.state_dir)
        owned = self._owned_namespaces()
        _, errors = ops.down(ctx, self.client if ours else None)
        for error in errors:
            print(f"  warning: {error}")
        if ours:
            self._delete_recorded()
        deadline = time.monotonic() + 20
        while ours and any(netns.exists(ns) for ns in owned) and time.monotonic() < deadline:
            time.sleep(0.3)
        self.floatnet("down", "--state-dir", str(self.state_dir), check=False)
        for ns in owned:
            if netns.exists(ns):
                _remove_namespace(ns)
        if (self.state_dir / "ovs").is_dir():
            lab_ovs.stop(self.state_dir / "ovs")
        left = sorted(key for key in self.owned.ids if ":" not in key)
        print(f"  left in the database (see the warnings): {', '.join(left)}" if left else
              "  everything the demo built is gone")  # fmt: skip

    def _delete_recorded(self) -> None:
        """Each teardown step whose ids are recorded; forget what it removed (or what is gone already)."""
        for removes, needs, template in TEARDOWN:
            if not all(key in self.owned.ids for key in (removes[0], *needs)):
                continue
            proc = self.floatnet(*(arg.format_map(self.owned.ids) for arg in template), check=False)
            collection = COLLECTIONS.get(removes[0], "")
            if proc.returncode == 0 or (collection and not self._exists(collection, self.owned.ids[removes[0]])):
                for key in removes:
                    self.owned.forget(key)
            else:
                print(f"  warning: {proc.stderr.strip() or proc.stdout.strip()}")

    def _owned_namespaces(self) -> list[str]:
        """The router's and the networks' namespaces, by recorded id (never by name)."""
        ids = self.owned.ids
        routers = [f"qrouter-{ids['router1']}"] if "router1" in ids else []
        return routers + [f"qdhcp-{ids[name]}" for name in ("vlan_100", "public_net") if name in ids]


def _remove_namespace(ns: str) -> None:
    """Last resort for a namespace the agent did not remove: kill what runs inside (by PID), delete it."""
    netns.kill_processes(ns)
    netns.delete(ns)


def run(args: argparse.Namespace) -> int:
    """The whole demo; 0 when every proof held, 1 otherwise (or on an error, named on stderr)."""
    if args.nodes < 1:
        print(f"floatnet demo: --nodes {args.nodes}: at least 1 node", file=sys.stderr)
        return 2
    if args.ha and args.nodes < 3:
        print(f"floatnet demo: --ha needs --nodes 3 or more (two network nodes, a compute node), not {args.nodes}",
              file=sys.stderr)  # fmt: skip
        return 2
    if os.geteuid() != 0:
        print("floatnet demo needs root (it builds namespaces, OVS ports and NAT)", file=sys.stderr)
        return 1
    try:
        from floatnet.cli.demo_ha import HaDemo  # they extend Demo: imported here, not at the top
        from floatnet.cli.demo_nodes import NodesDemo

        demo = HaDemo(args) if args.ha else NodesDemo(args) if args.nodes > 1 else Demo(args)
        if args.down:
            demo.cleanup(demo.lab())
            return 0
        demo.start()
        ctx = demo.lab()
        fip = demo.build(ctx)
        demo_security.run(demo, ctx, fip)
        demo.prove(ctx, fip)
        if args.ipv6:
            demo_ipv6.run(demo, ctx)
        demo.show(ctx)
        total = time.monotonic() - demo.started
        verdict = "all proofs hold" if demo.failures == 0 else f"{demo.failures} proof(s) FAILED"
        print(f"\n{verdict} ({total:.1f} s)")
        if args.cleanup:
            demo.cleanup(ctx)
        else:
            demo.hint(fip)
    except (DemoError, NotOurs, fn_config.ConfigError, instance.LabError, ApiError, OSError) as error:
        print(f"floatnet demo: {error}", file=sys.stderr)
        return 1
    return 0 if demo.failures == 0 else 1
