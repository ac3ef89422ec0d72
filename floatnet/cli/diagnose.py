"""``floatnet diagnose FLOATING_IP_OR_ID``: walk the floating IP's path and name the first broken hop.

One line per check (``ok`` / ``FAIL`` / ``skipped``) with the fix and the command that shows the evidence, or
``-f json``; the exit status is 1 when any check failed. The API is read over HTTP (``--os-url``/``OS_URL`` or
``--os-cloud``); the kernel checks look at THIS node, so run it as root on the node hosting the router. Node
settings the API does not carry come from the ini file (``--config``/``FLOATNET_CONFIG``): the OVS database,
``bridge_mappings`` (when no agent reports them) and ``physical_interfaces``.

``--protocol tcp --port 22`` (``--from ADDR``, default the upstream router) asks whether the instance's security
groups, and the filter installed for them, admit that traffic: the answer names the admitting rule, or the
group and the ``security-group-rule-create`` that would admit it; without it, what they admit from there.

An instance's IPv6 address instead of a floating IP walks its routed path (IPv6 is not NATed), with the same
security-group checks (``--from`` then an IPv6 address; default the external IPv6 subnet's gateway).
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path
from typing import Any

from floatnet import config as fn_config
from floatnet.cli.client import CliError, connect
from floatnet.diagnose import diagnose
from floatnet.diagnose.facts import Local, Query
from floatnet.diagnose.ipv6 import is_ipv6_address
from floatnet.diagnose.reader import NeutronReader, http_getter
from floatnet.diagnose.result import exit_status, render_text, to_json
from floatnet.diagnose.sg_match import QueryError, make_traffic
from floatnet.linux.ovs_daemon import OvsDaemons

DEFAULT_CONFIG = "/etc/floatnet/floatnet.ini"
SYSTEM_DB_SOCKETS = ("/var/run/openvswitch/db.sock", "/run/openvswitch/db.sock")


def register(subparsers: Any) -> None:
    """Add ``diagnose`` to the CLI's sub-parsers."""
    parser = subparsers.add_parser(
        "diagnose",
        help="walk a floating IP's path and name the first broken hop",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    parser.add_argument("floatingip", metavar="FLOATING_IP_OR_ID")
    parser.add_argument("-f", "--format", choices=("table", "json"), default="table", help="output format")
    parser.add_argument("--config", help="floatnet ini file (env FLOATNET_CONFIG)")
    parser.add_argument("--ovsdb", help="OVSDB connection for ovs-vsctl (env FLOATNET_OVSDB)")
    parser.add_argument("--ovs-netns", help="namespace Open vSwitch runs in (env FLOATNET_OVS_NETNS)")
    traffic = parser.add_argument_group("traffic to check the security groups for")
    traffic.add_argument("--protocol", help="tcp, udp, icmp, … or a number (--port alone: tcp)")
    traffic.add_argument("--port", type=int, help="destination port (tcp, udp, sctp, udplite, dccp)")
    traffic.add_argument("--icmp-type", type=int, help="ICMP type (default 8, a ping)")
    traffic.add_argument("--icmp-code", type=int, help="ICMP code (default 0)")
    traffic.add_argument("--from", dest="source", metavar="ADDR", help="source address (default: the upstream "
                         "router, the external subnet's gateway)")  # fmt: skip
    parser.add_argument("--os-url", default=argparse.SUPPRESS, metavar="URL", help="API endpoint (env OS_URL)")
    parser.add_argument("--os-cloud", default=argparse.SUPPRESS, metavar="CLOUD", help="clouds.yaml entry")


def _config(args: argparse.Namespace) -> fn_config.Config | None:
    path = args.config or os.environ.get("FLOATNET_CONFIG")
    if path is None and Path(DEFAULT_CONFIG).is_file():
        path = DEFAULT_CONFIG
    if path is None:
        return None
    try:
        return fn_config.load(path)
    except fn_config.ConfigError as error:
        raise CliError(str(error)) from None


def _ovs(args: argparse.Namespace, cfg: fn_config.Config | None) -> tuple[str | None, str | None]:
    """The OVSDB and the namespace OVS runs in: ``--ovsdb``, ``FLOATNET_OVSDB``, the ini file's
    ``ovsdb_connection``; else, when no system Open vSwitch answers, the database floatnet's agent started
    for itself in ``<state_dir>/ovs``, in the namespace it recorded there (None, None: the defaults).
    ``--ovs-netns``/``FLOATNET_OVS_NETNS`` name the namespace explicitly."""
    netns = args.ovs_netns or os.environ.get("FLOATNET_OVS_NETNS") or None
    given = args.ovsdb or os.environ.get("FLOATNET_OVSDB") or (cfg.ovsdb_connection if cfg else None)
    if given:
        return str(given), netns
    if any(Path(sock).exists() for sock in SYSTEM_DB_SOCKETS):
        return None, netns
    own = OvsDaemons((cfg.state_dir if cfg else fn_config.Config().state_dir) / "ovs")
    if not own.sock.exists():
        return None, netns
    return own.connection, netns or own.recorded_netns()


def _local(args: argparse.Namespace, cfg: fn_config.Config | None) -> Local:
    """This node's settings: command line, then environment, then the ini file."""
    ovsdb, ovs_netns = _ovs(args, cfg)
    return Local(
        ovsdb=ovsdb,
        bridge_mappings=dict(cfg.bridge_mappings) if cfg else {},
        physical_interfaces=dict(cfg.physical_interfaces) if cfg else {},
        ovs_netns=ovs_netns,
        host=cfg.host if cfg else socket.gethostname(),
    )


def _query(args: argparse.Namespace) -> Query | None:
    """The traffic asked about (None: no ``--protocol``/``--port``); CliError naming what cannot exist —
    a ``--from`` of the other address family than the target's included (floating IPs are IPv4)."""
    protocol = args.protocol or ("tcp" if args.port is not None else None)
    if protocol is None:
        if args.icmp_type is not None or args.icmp_code is not None or args.source:
            raise CliError("--icmp-type, --icmp-code and --from need --protocol")
        return None
    unspecified = "::" if is_ipv6_address(args.floatingip) else "0.0.0.0"
    try:  # validated now, with the target's address family when the source is defaulted
        traffic = make_traffic(args.source or unspecified, protocol, args.port, args.icmp_type, args.icmp_code)
    except QueryError as error:
        raise CliError(str(error)) from None
    if (":" in traffic.source) != (":" in unspecified):
        wanted = "an IPv6 address for an IPv6 instance address" if ":" in unspecified else "an IPv4 address"
        raise CliError(f"--from {args.source}: give {wanted} (floating IPs are IPv4)")
    return Query(protocol, args.port, args.icmp_type, args.icmp_code, args.source)


def run(args: argparse.Namespace) -> int:
    """Diagnose ``args.floatingip``; print the report; 0 when every check passed, 1 otherwise."""
    query = _query(args)
    cfg = _config(args)
    url = getattr(args, "os_url", None) or os.environ.get("OS_URL")
    if url is None and cfg is not None and not (getattr(args, "os_cloud", None) or os.environ.get("OS_CLOUD")):
        url = f"http://{cfg.bind_host}:{cfg.bind_port}"
    reader = NeutronReader(http_getter(connect(url, getattr(args, "os_cloud", None)).http))
    results = diagnose(reader, args.floatingip, _local(args, cfg), query)
    rendered = to_json(args.floatingip, results) if args.format == "json" else render_text(args.floatingip, results)
    print(rendered, file=sys.stdout)
    return exit_status(results)
