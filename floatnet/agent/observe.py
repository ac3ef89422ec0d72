"""Observe what the kernel holds of floatnet's own objects, through :mod:`floatnet.linux` only.

Owned means: the ``qrouter-``/``qdhcp-`` namespaces this agent created (recorded in its state directory) or
adopted (the server wants them here and they exist), devices inside them named ``qr-``/``qg-``/``tap``, routes
floatnet added (protocol static), the ``floatnet`` nftables table, the security-group tables
(``floatnet_sg``, in the OVS namespace), the ``vxlan-`` devices (in the OVS namespace), OVS ports (all of
them: the planner decides which are ours by name and iface-id), and the dnsmasq processes of this state
directory (with the fingerprint of the configuration they were given).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from floatnet.agent.state import (
    DEFAULT_ROUTE,
    FilteredPort,
    Link,
    Namespace,
    NatTable,
    Observed,
    OvsPort,
    Routes,
    Security,
    Tunnel,
    collapse_cidrs,
    norm_cidr,
)
from floatnet.linux import keepalived, links, names, nat, netns, port_filter, vxlan
from floatnet.linux.conntrackd import Conntrackd
from floatnet.linux.dnsmasq import Dnsmasq
from floatnet.linux.keepalived import Keepalived
from floatnet.linux.ovs import Ovs
from floatnet.linux.radvd import Radvd


@dataclass
class Dataplane:
    """The kernel-side handles the agent works with, and its records in the state directory.

    ``ovs_netns`` is the namespace ovs-vswitchd runs in (None: the agent's own, the normal case); the OVS ends
    of veths must live there. ``record_dir`` holds the fingerprint of each network's dnsmasq configuration and
    the list of namespaces this agent created: only those are ever swept, so several agents (tests, labs) on
    one machine never delete each other's ``qrouter-``/``qdhcp-`` namespaces.
    """

    ovs: Ovs
    dnsmasq: Dnsmasq
    record_dir: Path
    ovs_netns: str | None = None
    datapath_type: str = "netdev"
    _owned: set[str] | None = None

    @property
    def keepalived(self) -> Keepalived:
        """The HA router replicas' keepalived processes (``<state>/keepalived``)."""
        return Keepalived(self.record_dir.parent / "keepalived")

    @property
    def conntrackd(self) -> Conntrackd:
        """The HA router replicas' conntrackd processes (``<state>/conntrackd``)."""
        return Conntrackd(self.record_dir.parent / "conntrackd")

    @property
    def radvd(self) -> Radvd:
        """The routers' radvd processes; their files live beside the agent's records (``<state>/radvd``)."""
        return Radvd(self.record_dir.parent / "radvd")

    def record_path(self, network_id: str) -> Path:
        return self.record_dir / "dhcp" / network_id

    def write_record(self, network_id: str, fingerprint: str) -> None:
        """Atomically record the fingerprint of the configuration a network's dnsmasq now runs with."""
        _write_atomically(self.record_path(network_id), fingerprint)

    def forget_record(self, network_id: str) -> None:
        self.record_path(network_id).unlink(missing_ok=True)

    @property
    def owned(self) -> set[str]:
        """The namespaces this agent created (or adopted because the server wants them here)."""
        if self._owned is None:
            try:
                self._owned = set(json.loads((self.record_dir / "namespaces.json").read_text()))
            except (OSError, ValueError):
                self._owned = set()
        return self._owned

    def own(self, names_: Iterable[str], owned: bool = True) -> None:
        """Add (or with ``owned=False`` remove) namespaces to the persistent ownership list."""
        before = set(self.owned)
        if owned:
            self.owned.update(names_)
        else:
            self.owned.difference_update(names_)
        if self.owned != before:
            _write_atomically(self.record_dir / "namespaces.json", json.dumps(sorted(self.owned)))


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


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
        forwardings=table.forwardings,
    )


def observe_namespace(
    name: str, radvd: Radvd | None = None, vrrp: Keepalived | None = None, sync: Conntrackd | None = None
) -> Namespace | None:
    """One owned namespace as it is (None if it does not exist); with ``radvd`` / ``vrrp`` / ``sync``, a router
    namespace's running radvd / keepalived / conntrackd configuration too, and whether it is an HA router's VRRP
    MASTER."""
    if not netns.exists(name):
        return None
    found = {}
    for link in links.list_links(name):
        if link.name.startswith(names.OWNED_DEV_PREFIXES):
            mac = link.mac.lower() if link.mac else None
            held = links.get_addresses(name, link.name, ipv4_link_local=link.name.startswith(names.HA_PREFIX))
            # "up" is both ends: a device whose OVS end is down has no carrier (keepalived: FAULT), re-plugged
            found[link.name] = Link(link.name, mac, frozenset(held), link.up and link.carrier)
    gatewayed = links.get_routes(name)
    default_gw = gatewayed.pop(DEFAULT_ROUTE, None)
    router_id = names.router_id_of(name)
    is_router = router_id is not None
    ha_links = [link for dev, link in found.items() if dev.startswith(names.HA_PREFIX)]
    return Namespace(
        name=name,
        links=found,
        routes=Routes(default_gw, frozenset((norm_cidr(d), v) for d, v in gatewayed.items())),
        forwarding=links.get_forwarding(name),
        nat=_nat_of(name) if is_router else None,
        radvd=radvd.running_config(router_id, name) if router_id is not None and radvd is not None else None,
        keepalived=vrrp.running_config(router_id, name) if router_id is not None and vrrp is not None else None,
        conntrackd=sync.running_config(router_id, name) if router_id is not None and sync is not None else None,
        ha_master=any(keepalived.holds_primary_vip(link.addresses) for link in ha_links),
    )


def observe_ovs(dp: Dataplane) -> dict[str, OvsPort]:
    """Every OVS port by name, with its bridge, tag, iface-id, ofport and link state (an in-memory read of the
    IDL; the link state makes a device deleted under a port, such as a vxlan device, a change of OVS)."""
    ids = {port.name: iface_id for iface_id, port in dp.ovs.ports_by_iface_id().items()}
    return {
        p.name: OvsPort(p.name, p.bridge or "", p.tag, ids.get(p.name), p.ofport, p.link_state)
        for p in dp.ovs.ports().values()
        if p.bridge != p.name
    }


def observe_tunnels(dp: Dataplane, ovs_ports: Iterable[str]) -> dict[str, Tunnel]:
    """floatnet's vxlan devices in the OVS namespace, by name: the devices behind the ``vxlan-`` ports of OVS
    (each device is made with its port; one left without a port by a crash in between is recreated, not
    swept, when its network comes back)."""
    wanted = [name for name in ovs_ports if name.startswith(vxlan.PREFIX)]
    return vxlan.observe(dp.ovs_netns, wanted)


def observe_dhcp(dp: Dataplane) -> dict[str, str]:
    """Networks with a running dnsmasq → the recorded fingerprint of its configuration ("" if unknown)."""
    out = {}
    for network_id in dp.dnsmasq.running():
        try:
            out[network_id] = dp.record_path(network_id).read_text().strip()
        except OSError:
            out[network_id] = ""
    return out


def observe_security(dp: Dataplane) -> Security:
    """The node's security-group tables (in the OVS namespace): filters, group fingerprints, members."""
    found = port_filter.observe(dp.ovs_netns)
    return Security(
        ports={i: FilteredPort(p.zone, p.tap, p.stateful, p.fingerprint, p.parts) for i, p in found.ports.items()},
        groups=dict(found.groups),
        members={g: frozenset(m) for g, m in found.members.items()},
    )


def observe(dp: Dataplane, wanted: Iterable[str] = ()) -> Observed:
    """The observed state: the namespaces this agent owns plus the ``wanted`` ones (adopted when present),
    all OVS ports, the dnsmasq processes and the security-group tables."""
    present = set(netns.list_names(names.OWNED_NS_PREFIXES))
    dp.own(present & set(wanted))
    dp.own(dp.owned - present, owned=False)
    found = {}
    for name in sorted(dp.owned):
        ns = observe_namespace(name, dp.radvd, dp.keepalived, dp.conntrackd)
        if ns is not None:
            found[name] = ns
    security, ovs_ports = observe_security(dp), observe_ovs(dp)
    return Observed(namespaces=found, ovs_ports=ovs_ports, dhcp=observe_dhcp(dp), security=security,
                    tunnels=observe_tunnels(dp, ovs_ports))  # fmt: skip
