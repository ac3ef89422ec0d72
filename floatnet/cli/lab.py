"""``floatnet lab …``: the stand-ins for the outside world and for VMs (see :mod:`floatnet.lab`).

``lab up|down``, ``lab instance create NAME --network NET [--host H]``, ``lab instance list|delete NAME``,
``lab lease NAME`` and ``lab exec NAME -- CMD…`` (``NAME`` may be ``upstream`` or a node); the multi-node lab's
``lab node add NAME [--roles l3,dhcp,compute]``, ``node list``, ``node del|fail|recover NAME``
(:mod:`floatnet.lab.nodes`). The lab mirrors the ini file
(``--config``/``FLOATNET_CONFIG``) and talks to the server at ``--os-url``/``OS_URL`` (default: the ini file's
``bind``). Needs root.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from floatnet import config as fn_config
from floatnet.client import ApiError
from floatnet.lab import instance, nodes, ops
from floatnet.lab import ovs as lab_ovs
from floatnet.lab.client import LabClient
from floatnet.lab.context import LabContext, make_context
from floatnet.linux.errors import KernelError

DEFAULT_CONFIG = "/etc/floatnet/floatnet.ini"


def _lab_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    default: Any = argparse.SUPPRESS if suppress else None
    parser.add_argument("--config", default=default, help="floatnet ini file (env FLOATNET_CONFIG)")
    parser.add_argument("--prefix", default=default, help="name prefix of everything the lab builds (fnlab-)")
    parser.add_argument("--state-dir", default=default, help="lab state directory (<state_dir>/lab)")
    parser.add_argument("--ovsdb", default=default, help="OVSDB connection (env FLOATNET_OVSDB)")
    parser.add_argument("--ovs-netns", default=default, help="namespace OVS runs in (env FLOATNET_OVS_NETNS)")
    parser.add_argument("--external-physnet", default=default, help="physnet carrying 203.0.113.1")
    parser.add_argument(
        "--os-url", default=argparse.SUPPRESS, metavar="URL", help="API endpoint (env OS_URL)"
    )


def register(subparsers: Any) -> None:
    """Add ``lab`` and its verbs to the CLI's sub-parsers."""
    lab = subparsers.add_parser("lab", help="namespaces standing in for the outside world and for VMs")
    _lab_options(lab, suppress=False)
    verbs = lab.add_subparsers(dest="lab_verb", metavar="VERB", required=True)
    parent = argparse.ArgumentParser(add_help=False)
    _lab_options(parent, suppress=True)
    verbs.add_parser("up", parents=[parent], help="build the upstream namespace and physnet links")
    verbs.add_parser("down", parents=[parent], help="remove everything the lab built")
    inst = verbs.add_parser("instance", help="instances (VM stand-ins)")
    inst_verbs = inst.add_subparsers(dest="instance_verb", metavar="VERB", required=True)
    create = inst_verbs.add_parser("create", parents=[parent], help="port + namespace + DHCP client")
    create.add_argument("name")
    create.add_argument("--network", required=True, help="network name or id")
    create.add_argument("--host", help="binding host (default: the ini file's [agent] host)")
    create.add_argument("--no-wait", action="store_true", help="do not wait for the DHCP lease")
    inst_verbs.add_parser("list", parents=[parent], help="the lab's instances")
    delete = inst_verbs.add_parser("delete", parents=[parent], help="remove an instance and its port")
    delete.add_argument("name")
    _node_verbs(verbs, parent)
    lease = verbs.add_parser("lease", parents=[parent], help="an instance's DHCP lease (JSON)")
    lease.add_argument("name")
    run_in = verbs.add_parser("exec", parents=[parent], help="run a command in an instance or 'upstream'")
    run_in.add_argument("name")
    run_in.add_argument("cmd", nargs=argparse.REMAINDER)


def _node_verbs(verbs: Any, parent: argparse.ArgumentParser) -> None:
    node = verbs.add_parser("node", help="the multi-node lab's nodes (each its own agent and OVS)")
    node_verbs = node.add_subparsers(dest="node_verb", metavar="VERB", required=True)
    add = node_verbs.add_parser("add", parents=[parent], help="build a node and start its agent")
    add.add_argument("name")
    add.add_argument("--roles", default="l3,dhcp,compute", help="any of l3,dhcp,compute (default: all)")
    add.add_argument("--server", default="", help="the API server URL its agent follows (default: the lab's)")
    node_verbs.add_parser("list", parents=[parent], help="the lab's nodes")
    for verb, text in (("del", "remove a node, its instances and its agents"),
                       ("fail", "power loss: kill its processes, cut its links"),
                       ("recover", "power a failed node on again")):  # fmt: skip
        node_verbs.add_parser(verb, parents=[parent], help=text).add_argument("name")


def _context(args: argparse.Namespace) -> LabContext:
    path = args.config or os.environ.get("FLOATNET_CONFIG")
    if path is None and Path(DEFAULT_CONFIG).is_file():
        path = DEFAULT_CONFIG
    cfg = fn_config.load(path)
    url = (
        getattr(args, "os_url", None) or os.environ.get("OS_URL") or f"http://{cfg.bind_host}:{cfg.bind_port}"
    )
    ovsdb, ovs_netns = args.ovsdb or os.environ.get("FLOATNET_OVSDB"), args.ovs_netns
    if not ovsdb:  # where the agent's OVS is: the same discovery as the agent's (its own OVS in its namespace)
        ovsdb, found_netns = lab_ovs.agent_ovs(cfg.ovsdb_connection, cfg.state_dir)
        ovs_netns = ovs_netns or os.environ.get("FLOATNET_OVS_NETNS") or found_netns
    return make_context(
        cfg,
        url,
        prefix=args.prefix,
        state_dir=Path(args.state_dir) if args.state_dir else None,
        ovsdb=ovsdb,
        external_physnet=args.external_physnet,
        ovs_netns=ovs_netns,
    )


def _up(ctx: LabContext, args: argparse.Namespace) -> int:
    state = ops.up(ctx)
    print(f"upstream namespace {state.upstream_ns}: 203.0.113.1 router, DNS 198.51.100.53, web 198.51.100.80")
    for link in state.links:
        print(f"  {link.physnet}: {link.bridge} <- {link.root} == {link.peer} {link.address or '(trunk)'}")
    return 0


def _down(ctx: LabContext, args: argparse.Namespace) -> int:
    swept, errors = ops.down(ctx, LabClient(ctx.server_url))
    for error in errors:
        print(f"warning: {error}", file=sys.stderr)
    print(f"lab {ctx.names.prefix} removed" + (f" (also swept: {', '.join(swept)})" if swept else ""))
    return 1 if errors else 0


def _instance(ctx: LabContext, args: argparse.Namespace) -> int:
    api = LabClient(ctx.server_url)
    if args.instance_verb == "create":
        inst = instance.create(ctx, api, args.name, args.network, args.host, wait=0 if args.no_wait else 30)
        lease = instance.dhcp_lease(ctx, inst.name) or {}
        print(f"instance {inst.name}: namespace {inst.ns}, port {inst.port_id}, {inst.tap} on {inst.bridge}, "
              f"ip {lease.get('ip', '(waiting for DHCP)')}")  # fmt: skip
    elif args.instance_verb == "delete":
        errors = instance.delete(ctx, api, args.name)
        for error in errors:
            print(f"warning: {error}", file=sys.stderr)
        print(f"instance {args.name} deleted")
        return 1 if errors else 0
    else:
        rows = instance.listing(ctx)
        columns = ["name", "namespace", "port_id", "ip_address", "dns", "dhcp_client"]
        _table(rows, columns)
    return 0


def _node(ctx: LabContext, args: argparse.Namespace) -> int:
    api = LabClient(ctx.server_url)
    errors: list[str] = []
    if args.node_verb == "add":
        node = nodes.add(ctx, api, args.name, args.roles, server=args.server)
        print(f"node {node.name}: namespace {node.ns}, roles {','.join(node.roles)}, management {node.address}")
    elif args.node_verb == "del":
        errors = nodes.delete(ctx, api, args.name)
        print(f"node {args.name} deleted")
    elif args.node_verb == "fail":
        errors = nodes.fail(ctx, args.name)
        print(f"node {args.name} failed (processes killed, links cut)")
    elif args.node_verb == "recover":
        nodes.recover(ctx, api, args.name)
        print(f"node {args.name} recovered")
    else:
        _table(nodes.listing(ctx), ["name", "roles", "namespace", "address", "state", "instances"])
    for error in errors:
        print(f"warning: {error}", file=sys.stderr)
    return 1 if errors else 0


def _table(rows: list[dict[str, str]], columns: list[str]) -> None:
    widths = [max([len(c)] + [len(str(r.get(c, ""))) for r in rows]) for c in columns]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    print(line)
    print("| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)) + " |")
    print(line)
    for row in rows:
        print(
            "| "
            + " | ".join(str(row.get(c, "")).ljust(w) for c, w in zip(columns, widths, strict=True))
            + " |"
        )
    print(line)


def _lease(ctx: LabContext, args: argparse.Namespace) -> int:
    lease = instance.dhcp_lease(ctx, args.name)
    if lease is None:
        print(f"instance {args.name} holds no DHCP lease (yet)", file=sys.stderr)
        return 1
    print(json.dumps(lease, indent=2, sort_keys=True))
    return 0


def _exec(ctx: LabContext, args: argparse.Namespace) -> int:
    cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not cmd:
        print("usage: floatnet lab exec NAME -- CMD…", file=sys.stderr)
        return 2
    node = nodes.find(ctx, args.name)
    argv = nodes.enter(node, cmd) if node else ["ip", "netns", "exec", ops.namespace_of(ctx, args.name), *cmd]
    os.execvp(argv[0], argv)
    return 0  # not reached


VERBS: dict[str, Callable[[LabContext, argparse.Namespace], int]] = {
    "up": _up,
    "down": _down,
    "instance": _instance,
    "node": _node,
    "lease": _lease,
    "exec": _exec,
}


def run(args: argparse.Namespace) -> int:
    """Run a ``lab`` verb; errors become one line on stderr and exit status 1."""
    if os.geteuid() != 0:
        print("floatnet lab needs root (namespaces, veths, OVS ports)", file=sys.stderr)
        return 1
    try:
        ctx = _context(args)
        return VERBS[args.lab_verb](ctx, args)
    except (fn_config.ConfigError, ValueError, instance.LabError, ApiError, KernelError, OSError) as error:
        print(f"floatnet lab: {error}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as error:
        print(f"floatnet lab: {' '.join(error.cmd)} failed: {(error.stderr or '').strip()}", file=sys.stderr)
        return 1
