"""``floatnet cleanup [--dry-run] [--state-dir DIR] [--config FILE]``: remove the dataplane floatnet left here.

Stopping the agent leaves the dataplane up on purpose (a restart changes nothing); this removes it, as
Neutron's ``neutron-netns-cleanup`` and ``neutron-ovs-cleanup`` do. It removes exactly what this node's
floatnet owns, found from its state dir, never by a name pattern alone:

* the dnsmasq processes the agent started (PIDs from ``<state_dir>/dhcp/<network>/pid``, checked against
  their command line);
* the ``qrouter-``/``qdhcp-`` namespaces the agent recorded as its own (``<state_dir>/agent/namespaces.json``,
  plus ``qdhcp-<network>`` of each dnsmasq directory), after killing what runs inside by PID; their devices
  and nft tables (the NAT table ``floatnet``) go with them;
* on a shared Open vSwitch (system or ``[ovs] ovsdb_connection``): the OVS ports named after the devices in
  those namespaces (``qr-``, ``qg-``, ``ha-``, ``tap`` of the agent's routers and DHCP servers), and the security-group
  tables ``floatnet_sg`` in the namespace OVS runs in; bridges stay (they may carry the host's uplinks);
* floatnet's own OVS daemons (``<state_dir>/ovs``, by their pidfiles), with their bridges, ports and private
  namespace;
* the agent's records of all this (and the keepalived files of HA routers, whose processes went with their
  namespaces), so a new agent starts from nothing.

It refuses while the agent still runs from the state dir (it would rebuild everything): ``floatnet down
--purge`` stops server and agent first, then cleans up. ``--dry-run`` lists and changes nothing.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from floatnet import config as fn_config
from floatnet.cli import supervise
from floatnet.cli.client import CliError
from floatnet.linux import links, names, netns
from floatnet.linux.dnsmasq import Dnsmasq
from floatnet.linux.errors import KernelError
from floatnet.linux.ovs import Ovs
from floatnet.linux.ovs_daemon import DAEMONS, OvsDaemons, system_ovs_connection
from floatnet.linux.sg_render import TABLE as SG_TABLE

DEFAULT_STATE_DIR = "/var/lib/floatnet"
SG_FAMILIES = ("bridge", "inet")


@dataclass(frozen=True)
class Item:
    """One thing floatnet owns on this node, and how to remove it."""

    what: str
    remove: Callable[[], Any]


def _dnsmasq(state_dir: Path) -> list[Item]:
    daemons = Dnsmasq(state_dir / "dhcp")
    return [
        Item(f"dnsmasq of network {network} (pid {pid})", functools.partial(daemons.stop, network))
        for network, pid in sorted(daemons.running().items())
    ]


def owned_namespaces(state_dir: Path) -> list[str]:
    """The agent's namespaces that exist: recorded by the agent, or named after its dnsmasq directories."""
    try:
        recorded = set(json.loads((state_dir / "agent" / "namespaces.json").read_text()))
    except (OSError, ValueError):
        recorded = set()
    dhcp = state_dir / "dhcp"
    recorded |= {names.dhcp_ns(d.name) for d in dhcp.iterdir() if d.is_dir()} if dhcp.is_dir() else set()
    present = set(netns.list_names(names.OWNED_NS_PREFIXES))
    return sorted(ns for ns in recorded & present if ns.startswith(names.OWNED_NS_PREFIXES))


def _namespace(ns: str) -> Item:
    def remove() -> None:
        netns.kill_processes(ns)
        netns.delete(ns)

    return Item(f"namespace {ns} (its devices, nft tables and processes)", remove)


def _shared_ovs_ports(connection: str, namespaces: list[str]) -> list[Item]:
    """The OVS ports of the agent's router and DHCP devices (same names on both veth ends) on a shared OVS."""
    devices = {link.name for ns in namespaces for link in links.list_links(ns)
               if link.name.startswith(names.OWNED_DEV_PREFIXES)}  # fmt: skip
    if not devices:
        return []
    ovs = Ovs(connection)
    present = {port: bridge for bridge in ovs.bridges() for port in ovs.bridge_ports(bridge)}
    return [Item(f"OVS port {port} on {present[port]}", functools.partial(ovs.delete_port, present[port], port))
            for port in sorted(devices & set(present))]  # fmt: skip


def _nft_tables(ovs_netns: str | None) -> list[str]:
    argv = netns.exec_argv(ovs_netns, ["nft", "list", "tables"])
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    return proc.stdout.splitlines() if proc.returncode == 0 else []


def _sg_tables(ovs_netns: str | None) -> list[Item]:
    """The security-group tables (``floatnet_sg``) where OVS runs (the host's namespace: None)."""
    where = ovs_netns or "the host namespace"
    found = [family for family in SG_FAMILIES if f"table {family} {SG_TABLE}" in _nft_tables(ovs_netns)]

    def argv(family: str) -> list[str]:
        return netns.exec_argv(ovs_netns, ["nft", "delete", "table", family, SG_TABLE])

    run = functools.partial(subprocess.run, capture_output=True, text=True, timeout=30, check=True)
    return [Item(f"nft table {family} {SG_TABLE} in {where}", functools.partial(run, argv(family))) for family in found]


def _ovs(cfg: fn_config.Config, state_dir: Path, namespaces: list[str], ovs_netns: str | None) -> list[Item]:
    """floatnet's own OVS daemons (everything in them is floatnet's), else the agent's ports on the shared
    OVS; and the security-group tables where that OVS runs."""
    own = OvsDaemons(state_dir / "ovs")
    if own.running():
        where = ovs_netns or own.recorded_netns()
        pids = ", ".join(f"{daemon} {own.pid(daemon)}" for daemon in DAEMONS)
        stop = Item(f"floatnet's own Open vSwitch from {own.rundir} ({pids}) with its bridges and ports, and "
                    f"its namespace {where or '(the host namespace stays)'}", own.stop)  # fmt: skip
        return [*_sg_tables(where), stop]
    if not (state_dir / "agent").exists():  # no agent ever ran from here: nothing on a shared OVS is ours
        return []
    connection = cfg.ovsdb_connection or system_ovs_connection()
    ports = _shared_ovs_ports(connection, namespaces) if connection else []
    return ports + _sg_tables(ovs_netns)


def _records(state_dir: Path) -> list[Item]:
    paths = [p for p in (state_dir / "agent", state_dir / "dhcp", state_dir / "keepalived") if p.exists()]
    return [Item(f"the agent's records in {path}", functools.partial(shutil.rmtree, path)) for path in paths]


def inventory(cfg: fn_config.Config, state_dir: Path, ovs_netns: str | None = None) -> list[Item]:
    """Everything floatnet owns on this node, in removal order: processes, namespaces, OVS, records.

    ``ovs_netns`` names the namespace a shared OVS runs in (tests; default: the host's)."""
    namespaces = owned_namespaces(state_dir)
    ovs = _ovs(cfg, state_dir, namespaces, ovs_netns)  # port names are read before the namespaces go
    return [*_dnsmasq(state_dir), *(_namespace(ns) for ns in namespaces), *ovs, *_records(state_dir)]


def purge(cfg: fn_config.Config, state_dir: Path, out: IO[str], dry_run: bool, ovs_netns: str | None = None) -> int:
    """List (``dry_run``) or remove everything :func:`inventory` finds; 1 if a removal failed."""
    items = inventory(cfg, state_dir, ovs_netns)
    if not items:
        print(f"nothing of floatnet's left on this node (state dir {state_dir})", file=out)
        return 0
    failed = 0
    for item in items:
        if dry_run:
            print(f"would remove {item.what}", file=out)
            continue
        try:
            item.remove()
        except (KernelError, OSError, subprocess.SubprocessError) as error:
            failed += 1
            print(f"could not remove {item.what}: {error}", file=out)
        else:
            print(f"removed {item.what}", file=out)
    return 1 if failed else 0


def _agent_running(state_dir: Path) -> int | None:
    pid = supervise.read_pid(state_dir / "run" / "agent.pid")
    return pid if pid is not None and supervise.is_floatnet(pid, "agent") else None


def run(args: argparse.Namespace) -> int:
    """``floatnet cleanup``: needs root; refuses while the agent runs from the state dir (it would rebuild
    everything it removes)."""
    if os.geteuid() != 0:
        raise CliError("floatnet cleanup needs root (it removes namespaces, OVS ports and nft tables)")
    state_dir = Path(args.state_dir).resolve()
    running = _agent_running(state_dir)
    if running is not None:
        raise CliError(f"the floatnet agent (pid {running}) still runs from {state_dir} and would rebuild "
                       f"what cleanup removes: floatnet down --purge --state-dir {state_dir}")  # fmt: skip
    return purge(load_config(args.config, state_dir), state_dir, sys.stdout, args.dry_run, args.ovs_netns)


def load_config(path: str | None, state_dir: Path) -> fn_config.Config:
    try:
        return fn_config.load(path, state_dir)
    except fn_config.ConfigError as error:
        raise CliError(str(error)) from None


def register(subparsers: Any) -> None:
    """``cleanup``."""
    clean = subparsers.add_parser("cleanup", help="Remove the dataplane floatnet left on this node (needs root).")
    clean.add_argument("--state-dir", default=DEFAULT_STATE_DIR, help=f"default {DEFAULT_STATE_DIR}")
    clean.add_argument("--config", metavar="FILE", help="ini file (its [ovs] ovsdb_connection, if any)")
    clean.add_argument("--dry-run", action="store_true", help="list what would be removed, change nothing")
    clean.add_argument("--ovs-netns", help=argparse.SUPPRESS)  # tests: the namespace a shared OVS runs in
