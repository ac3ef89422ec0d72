"""``floatnet agent``: the node agent's command line, set-up and signal handling.

``floatnet agent --config FILE --server URL --host NAME [--state-dir DIR]``, as root. It connects to the
system's Open vSwitch, or starts floatnet's own ovsdb-server/ovs-vswitchd (datapath ``netdev`` where the
kernel has no openvswitch module), creates the bridges of ``[ovs] bridge_mappings`` (adding ``[ovs]
physical_interfaces``) and, with ``[ovs] local_ip``, the integration bridge ``br-int`` of vxlan networks,
then runs the reconcile loop. SIGTERM/SIGINT stop it cleanly and leave the whole dataplane in place
(namespaces, NAT, dnsmasq, and the OVS daemons, whose netdev datapath forwards the packets): a restarted agent
finds everything as it was and changes nothing.
"""

from __future__ import annotations

import argparse
import faulthandler
import logging
import os
import resource
import signal
import sys
from pathlib import Path
from typing import Any

from floatnet import config as fconfig
from floatnet.agent.client import Client, keystone_tokens
from floatnet.agent.kernel import LinuxKernel
from floatnet.agent.loop import Agent
from floatnet.agent.observe import Dataplane
from floatnet.agent.plan_common import PlanContext
from floatnet.linux.dnsmasq import Dnsmasq
from floatnet.linux.errors import KernelError
from floatnet.linux.ovs import Ovs
from floatnet.linux.ovs_daemon import OvsDaemons, kernel_datapath_available, own_daemons, system_ovs_connection
from floatnet.linux.vxlan import INTEGRATION_BRIDGE

log = logging.getLogger("floatnet.agent")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="floatnet agent", description="Reconcile this node's dataplane.")
    parser.add_argument("--config", default=os.environ.get("FLOATNET_CONFIG"), help="the floatnet ini file")
    parser.add_argument("--server", help="the server's URL (default: http://<[DEFAULT] bind>)")
    parser.add_argument("--host", help="this node's name (default: [agent] host, else the hostname)")
    parser.add_argument("--state-dir", help="where dnsmasq files and floatnet's own OVS live")
    parser.add_argument("--full-interval", type=float, default=60.0, metavar="SECONDS",
                        help="seconds between full observes (drift events missed; default 60)")  # fmt: skip
    parser.add_argument("--ovs-netns", help=argparse.SUPPRESS)  # tests: our own OVS runs in this namespace
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    return parser.parse_args(argv)


def datapath_type(cfg: fconfig.Config) -> str:
    """``[ovs] datapath_type``; ``auto`` is ``system`` with the kernel module, else ``netdev`` (userspace)."""
    if cfg.datapath_type != "auto":
        return cfg.datapath_type
    return "system" if kernel_datapath_available() else "netdev"


def ovs_connection(
    cfg: fconfig.Config, state_dir: Path, ovs_netns: str | None
) -> tuple[str, OvsDaemons | None, str | None]:
    """The configured OVSDB, else the system's if one answers, else floatnet's own daemons (started once;
    returned too: the agent restarts them if they exit), and the namespace vswitchd runs in (``ovs_netns``
    when given, tests; else the host's for a configured or system OVS).

    floatnet's own daemons run in a namespace of their own per state dir (their netdev datapath's fixed
    ``ovs-netdev`` device must never meet another instance's), unless ``[ovs] physical_interfaces`` names
    host devices to plug: those are only visible in the host's namespace.
    """
    if cfg.ovsdb_connection:
        return cfg.ovsdb_connection, None, ovs_netns
    system = None if ovs_netns else system_ovs_connection()
    if system:
        return system, None, None
    daemons = own_daemons(state_dir / "ovs", ovs_netns, private=not cfg.physical_interfaces)
    daemons.start()  # adopts daemons already running from this rundir: a restart never restarts the switch
    log.info("using floatnet's own Open vSwitch in %s (namespace %s)", daemons.rundir, daemons.netns or "host")
    return daemons.connection, daemons, daemons.netns


def setup_dataplane(cfg: fconfig.Config, state_dir: Path, ovs_netns: str | None) -> tuple[Dataplane, OvsDaemons | None]:
    """Connect OVS, create the physnet bridges (and plug their physical interfaces), prepare dnsmasq."""
    datapath = datapath_type(cfg)
    connection, daemons, ovs_netns = ovs_connection(cfg, state_dir, ovs_netns)
    ovs = Ovs(connection)
    for bridge in cfg.bridge_mappings.values():
        ovs.ensure_bridge(bridge, datapath)
    if cfg.local_ip:  # vxlan networks' devices and tunnels plug into the integration bridge
        ovs.ensure_bridge(INTEGRATION_BRIDGE, datapath)
    for physnet, device in cfg.physical_interfaces.items():
        if physnet not in cfg.bridge_mappings:
            raise fconfig.ConfigError(f"[ovs] physical_interfaces: physnet {physnet!r} has no bridge mapping")
        ovs.ensure_port(cfg.bridge_mappings[physnet], device)
    dp = Dataplane(
        ovs=ovs,
        dnsmasq=Dnsmasq(state_dir / "dhcp"),
        record_dir=state_dir / "agent",
        ovs_netns=ovs_netns,
        datapath_type=datapath,
    )
    return dp, daemons


def raise_fd_limit() -> None:
    """Lift the soft descriptor limit to the hard one: the agent watches each owned namespace through two
    netlink sockets (:mod:`floatnet.agent.kernel_watch`), and 1,024 would cap it at a few hundred routers."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard != resource.RLIM_INFINITY:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def base_configurations(cfg: fconfig.Config, dp: Dataplane) -> dict[str, Any]:
    return {
        "bridge_mappings": dict(cfg.bridge_mappings),
        "physical_interfaces": dict(cfg.physical_interfaces),
        "datapath_type": dp.datapath_type,
        "upstream_dns": list(cfg.upstream_dns),
        "tunnel_types": ["vxlan"] if cfg.local_ip else [],  # as Neutron's OVS agent reports its tunnelling
        "tunneling_ip": cfg.local_ip or None,
        "roles": list(cfg.roles),
    }


def main(argv: list[str]) -> int:
    """Run the agent until SIGTERM/SIGINT; 0 on a clean stop, 1 on a set-up failure, 2 on bad usage."""
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("floatnet agent: must run as root (it manages namespaces, Open vSwitch, nftables and dnsmasq)",
              file=sys.stderr)  # fmt: skip
        return 2
    raise_fd_limit()
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        cfg = fconfig.load(args.config, args.state_dir)
    except fconfig.ConfigError as exc:
        print(f"floatnet agent: {exc}", file=sys.stderr)
        return 2
    host = args.host or cfg.host
    server = args.server or f"http://{cfg.bind_host}:{cfg.bind_port}"
    try:
        dp, daemons = setup_dataplane(cfg, cfg.state_dir, args.ovs_netns)
    except (KernelError, fconfig.ConfigError) as exc:
        print(f"floatnet agent: set-up failed: {exc}", file=sys.stderr)
        return 1
    try:
        tokens = keystone_tokens(cfg.keystone_authtoken) if cfg.auth_strategy == "keystone" else None
    except KeyError as exc:
        print(
            f"floatnet agent: [keystone_authtoken] {exc.args[0]} is missing (auth_strategy = keystone)", file=sys.stderr
        )
        return 2
    agent = Agent(
        make_client=lambda: Client(server, host, tokens=tokens, zone=cfg.availability_zone, roles=cfg.roles),
        kernel=LinuxKernel(dp, daemons),
        ctx=PlanContext(
            upstream_dns=cfg.upstream_dns,
            local_ip=cfg.local_ip,
            ha_vrrp_advert_int=cfg.ha_vrrp_advert_int,
            conntrackd_dir=str(dp.conntrackd.state_dir) if cfg.ha_conntrackd_enabled else "",
        ),
        report_interval=cfg.report_interval,
        base_config=base_configurations(cfg, dp),
        full_interval=args.full_interval,
    )

    _stop_on_signals(agent)
    log.info("agent for host %s, server %s, datapath %s", host, server, dp.datapath_type)
    agent.run()
    return 0


def _stop_on_signals(agent: Agent) -> None:
    """SIGTERM/SIGINT stop the loop (the dataplane stays as it is); SIGUSR1 dumps every thread's stack to the
    log (`kill -USR1 <pid>`: where a stuck agent is)."""

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("signal %d: stopping (the dataplane stays as it is)", signum)
        agent.stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    faulthandler.register(signal.SIGUSR1, all_threads=True)
