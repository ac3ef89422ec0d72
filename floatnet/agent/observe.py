"""Observe what the kernel holds of floatnet's own objects, through :mod:`floatnet.linux` only.

Owned means: namespaces named ``qrouter-``/``qdhcp-``, devices inside them named ``qr-``/``qg-``/``tap``,
routes floatnet added (protocol static), the ``floatnet`` nftables table, OVS ports (all of them: the
planner decides which are ours by name and iface-id), and the dnsmasq processes the agent started (with the
fingerprint of the configuration it gave them, recorded in the agent's state directory).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from floatnet.agent.state import (
    DEFAULT_ROUTE,
    Link,
    Namespace,
    NatTable,
    Observed,
    OvsPort,
    Routes,
    collapse_cidrs,
    norm_cidr,
)
from floatnet.linux import links, names, nat, netns
from floatnet.linux.dnsmasq import Dnsmasq
from floatnet.linux.ovs import Ovs


@dataclass
class Dataplane:
    """The kernel-side handles the agent works with.

    ``ovs_netns`` is the namespace ovs-vswitchd runs in (None: the agent's own, the normal case); the OVS ends
    of veths must live there. ``record_dir`` holds one file per network with the fingerprint of the dnsmasq
    configuration last applied.
    """

    ovs: Ovs
    dnsmasq: Dnsmasq
    record_dir: Path
    ovs_netns: str | None = None
    datapath_type: str = "netdev"

    def record_path(self, network_id: str) -> Path:
        return self.record_dir / network_id

    def write_record(self, network_id: str, fingerprint: str) -> None:
        """Atomically record the fingerprint of the configuration a network's dnsmasq now runs with."""
        self.record_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.record_path(network_id).with_suffix(".tmp")
        tmp.write_text(fingerprint)
        os.replace(tmp, self.record_path(network_id))

    def forget_record(self, network_id: str) -> None:
        self.record_path(network_id).unlink(missing_ok=True)


def _nat_of(ns: str) -> NatTable | None:
    table = nat.observe(ns)
    if table is None:
        return None
    return NatTable(
        gateway_ip=table.gateway_ip,
        gateway_dev=table.gateway_dev,
        enable_snat=table.enable_snat,
        internal_cidrs=collapse_cidrs(table.internal_cidrs),
        fips=dict(table.fips),
    )


def observe_namespace(name: str) -> Namespace | None:
    """One owned namespace as it is (None if it does not exist)."""
    if not netns.exists(name):
        return None
    found = {}
    for link in links.list_links(name):
        if link.name.startswith(names.OWNED_DEV_PREFIXES):
            mac = link.mac.lower() if link.mac else None
            found[link.name] = Link(link.name, mac, frozenset(links.get_addresses(name, link.name)))
    gatewayed = links.get_routes(name)
    default_gw = gatewayed.pop(DEFAULT_ROUTE, None)
    is_router = name.startswith(names.ROUTER_NS_PREFIX)
    return Namespace(
        name=name,
        links=found,
        routes=Routes(default_gw, frozenset((norm_cidr(d), v) for d, v in gatewayed.items())),
        forwarding=links.get_forwarding(name),
        nat=_nat_of(name) if is_router else None,
    )


def observe_ovs(dp: Dataplane) -> dict[str, OvsPort]:
    """Every OVS port by name, with its bridge, tag, iface-id and ofport (an in-memory read of the IDL)."""
    ids = {port.name: iface_id for iface_id, port in dp.ovs.ports_by_iface_id().items()}
    return {
        p.name: OvsPort(p.name, p.bridge or "", p.tag, ids.get(p.name), p.ofport)
        for p in dp.ovs.ports().values()
        if p.bridge != p.name
    }


def observe_dhcp(dp: Dataplane) -> dict[str, str]:
    """Networks with a running dnsmasq → the recorded fingerprint of its configuration ("" if unknown)."""
    out = {}
    for network_id in dp.dnsmasq.running():
        try:
            out[network_id] = dp.record_path(network_id).read_text().strip()
        except OSError:
            out[network_id] = ""
    return out


def observe(dp: Dataplane, namespaces: Iterable[str] | None = None) -> Observed:
    """The observed state: all owned namespaces (or only ``namespaces``), OVS ports and dnsmasq processes."""
    wanted = netns.list_names(names.OWNED_NS_PREFIXES) if namespaces is None else namespaces
    found = {}
    for name in wanted:
        ns = observe_namespace(name)
        if ns is not None:
            found[name] = ns
    return Observed(namespaces=found, ovs_ports=observe_ovs(dp), dhcp=observe_dhcp(dp))
