"""The actions a plan is made of: small immutable values that :mod:`floatnet.agent.apply` executes one by one.

Every action names its ``group`` (the namespace, or ``port:<id>`` for an instance port) and the resources
(``refs``: ``(kind, id)``) that become ``ERROR`` if it fails. Actions are minimal on purpose: one floating
IP added is one address change, one map-element add and one gratuitous ARP, never a table rebuild."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import ClassVar

from floatnet.agent.desired import DhcpHost, Subnet
from floatnet.agent.state import NatTable
from floatnet.linux.nat_pf import PfElement

Ref = tuple[str, str]  # (kind, id): ("router", id), ("floatingip", id), ("port", id), ("network", id)


@dataclass(frozen=True, kw_only=True)
class Action:
    """Base of every action: where it belongs and what it is for. ``gates``: when such an action fails, the
    rest of its group is skipped (a namespace that could not be created, a port filter not installed)."""

    gates: ClassVar[bool] = False
    group: str
    refs: tuple[Ref, ...] = ()


@dataclass(frozen=True, kw_only=True)
class CreateNamespace(Action):
    gates: ClassVar[bool] = True
    ns: str
    forwarding: bool
    ipv6: bool = True  # False: the devices created in it have IPv6 off (an IPv4-only HA replica: plan_ha.quiet)


@dataclass(frozen=True, kw_only=True)
class SetForwarding(Action):
    ns: str
    on: bool


@dataclass(frozen=True, kw_only=True)
class DeleteNamespace(Action):
    """Remove a stale namespace and the OVS ports of its devices (their veths die with the namespace)."""

    ns: str
    ovs_ports: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class PlugDevice(Action):
    """Ensure veth ``dev`` (one name on the OVS side and inside ``ns``) and its OVS port (tag, iface-id)."""

    ns: str
    dev: str
    bridge: str
    tag: int | None
    iface_id: str
    mac: str
    mtu: int | None
    old_bridge: str | None = None  # the port currently sits on another bridge: remove it there first


@dataclass(frozen=True, kw_only=True)
class UnplugDevice(Action):
    ns: str
    dev: str


@dataclass(frozen=True, kw_only=True)
class SetTag(Action):
    port: str
    tag: int | None


@dataclass(frozen=True, kw_only=True)
class DeleteOvsPort(Action):
    port: str


@dataclass(frozen=True, kw_only=True)
class SyncAddresses(Action):
    """Replace ``dev``'s addresses with ``wanted``: for a device plugged in the same plan, whose addresses the
    planner cannot know (a re-created device has none); every other address change is an :class:`EditAddresses`
    the planner diffed against its view."""

    ns: str
    dev: str
    wanted: frozenset[str]
    keep: frozenset[str] = frozenset()  # addresses keepalived may hold there (an HA router's): left as they are


@dataclass(frozen=True, kw_only=True)
class EditAddresses(Action):
    """Add and remove a few addresses on ``dev`` (floating-IP /32s), leaving its others alone."""

    ns: str
    dev: str
    add: frozenset[str] = frozenset()
    remove: frozenset[str] = frozenset()


@dataclass(frozen=True, kw_only=True)
class EditRoutes(Action):
    """Delete then add (replace) gatewayed routes ``(destination cidr, nexthop)``, diffed by the planner."""

    ns: str
    add: frozenset[tuple[str, str]] = frozenset()
    remove: frozenset[tuple[str, str]] = frozenset()


@dataclass(frozen=True, kw_only=True)
class ReplaceNat(Action):
    """Build the router's whole table (one atomic transaction): it is missing or its rules differ."""

    ns: str
    table: NatTable


@dataclass(frozen=True, kw_only=True)
class EditNatInternal(Action):
    """Delete then add elements of the table's set of internal networks (rules untouched)."""

    ns: str
    add: frozenset[str] = frozenset()
    remove: frozenset[str] = frozenset()


@dataclass(frozen=True, kw_only=True)
class AddFipMapping(Action):
    ns: str
    fip: str
    fixed: str


@dataclass(frozen=True, kw_only=True)
class DelFipMapping(Action):
    ns: str
    fip: str
    fixed: str  # the fixed IP it maps to now, as the planner's view holds it (the kernel checks the pair)


@dataclass(frozen=True, kw_only=True)
class AddForwarding(Action):
    """Add port forwardings' NAT map elements (rules untouched)."""

    ns: str
    elements: frozenset[PfElement]


@dataclass(frozen=True, kw_only=True)
class DelForwarding(Action):
    """Delete port forwardings' NAT map elements and flush exactly their sessions from conntrack."""

    ns: str
    elements: frozenset[PfElement]


@dataclass(frozen=True, kw_only=True)
class FlushConntrack(Action):
    ns: str
    ips: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Garp(Action):
    ns: str
    dev: str
    ips: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class EnsureRadvd(Action):
    """Make the router's radvd advertise ``config`` (radvd's configuration text)."""

    router_id: str
    ns: str
    config: str


@dataclass(frozen=True, kw_only=True)
class StopRadvd(Action):
    router_id: str
    ns: str


@dataclass(frozen=True, kw_only=True)
class EnsureKeepalived(Action):
    """Make the HA router replica's keepalived run ``config`` (started, or reloaded without a transition)."""

    router_id: str
    ns: str
    config: str


@dataclass(frozen=True, kw_only=True)
class StopKeepalived(Action):
    router_id: str
    ns: str


@dataclass(frozen=True, kw_only=True)
class EnsureConntrackd(Action):
    """Make the HA router replica's conntrackd run ``config`` (started, or restarted on a change)."""

    router_id: str
    ns: str
    config: str


@dataclass(frozen=True, kw_only=True)
class StopConntrackd(Action):
    router_id: str
    ns: str


@dataclass(frozen=True)
class DhcpConfig:
    """Everything one network's dnsmasq is given; its fingerprint tells a running dnsmasq is up to date."""

    network_id: str
    netns: str
    interface: str
    subnets: tuple[Subnet, ...]
    hosts: tuple[DhcpHost, ...]
    dns_servers: tuple[str, ...]
    upstream_dns: tuple[str, ...]
    domain: str
    mtu: int | None

    def fingerprint(self) -> str:
        """A stable hash of the whole configuration (sha256 of its canonical JSON)."""
        text = json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, kw_only=True)
class EnsureDhcp(Action):
    config: DhcpConfig


@dataclass(frozen=True, kw_only=True)
class StopDhcp(Action):
    network_id: str


@dataclass(frozen=True, kw_only=True)
class CreateVxlan(Action):
    """(Re)create the vxlan device of ``vni`` in the OVS namespace with its flood entries (``peers``) and make it
    an access port of ``bridge`` with the network's local ``tag`` (re-added: OVS re-opens a new device)."""

    vni: int
    local: str
    mtu: int | None
    bridge: str
    tag: int
    peers: frozenset[str]


@dataclass(frozen=True, kw_only=True)
class EditVxlanPeers(Action):
    """Add and remove flood entries of the vxlan device of ``vni``."""

    vni: int
    add: frozenset[str] = frozenset()
    remove: frozenset[str] = frozenset()


@dataclass(frozen=True, kw_only=True)
class DeleteVxlan(Action):
    """Remove a vxlan device no network here needs, and its OVS port."""

    dev: str
