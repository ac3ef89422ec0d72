"""What a diagnosis knows about one floating IP: API objects and local settings, each looked up once, on
demand.

Checks read these properties only after the checks they depend on have passed (the runner guarantees it), so a
property may assume e.g. that the floating IP exists and is associated. Kernel observations (``links``,
``ovs``) are cached too: one ``ovs-vsctl`` snapshot serves every OVS check.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from floatnet.diagnose import nft_eval, probe
from floatnet.diagnose.reader import NeutronReader
from floatnet.diagnose.sg_match import Traffic, make_traffic

INTERFACE_OWNERS = (
    "network:router_interface", "network:ha_router_replicated_interface", "network:router_interface_distributed",
)  # fmt: skip
GATEWAY_OWNER = "network:router_gateway"
OVS_AGENT, L3_AGENT, DHCP_AGENT = "Open vSwitch agent", "L3 agent", "DHCP agent"


@dataclass
class Local:
    """Settings of this node that the API does not carry: the OVS database and the physnet uplinks.

    ``bridge_mappings`` fills in when no agent reports its own; ``physical_interfaces`` names each physnet's
    uplink (``[ovs] physical_interfaces``); ``ovsdb`` is ``ovs-vsctl --db`` (None: agents' report, else system
    default); ``ovs_netns`` is the namespace Open vSwitch (so the uplinks) runs in, if not the host's; ``host``
    is this node's agent host name.
    """

    ovsdb: str | None = None
    bridge_mappings: dict[str, str] = field(default_factory=dict)
    physical_interfaces: dict[str, str] = field(default_factory=dict)
    ovs_netns: str | None = None
    host: str = ""  # this node's agent host name ([agent] host): whose replica the kernel checks see


@dataclass(frozen=True)
class Query:
    """The traffic to check the port's security groups for (``--protocol``, ``--port``, ``--icmp-type``,
    ``--icmp-code``, ``--from``); ``source`` None: the external subnet's gateway, the upstream router."""

    protocol: str
    port: int | None = None
    icmp_type: int | None = None
    icmp_code: int | None = None
    source: str | None = None


@dataclass(frozen=True)
class Forwarding:
    """One port forwarding as the checked traffic meets it: ``protocol`` ``external_port`` of the floating IP
    to ``internal_ip``:``internal_port`` of port ``port_id`` (N-N ranges keep the offset)."""

    id: str
    protocol: str
    external_port: int
    internal_ip: str
    internal_port: int
    port_id: str

    @staticmethod
    def matching(pf: dict[str, Any], protocol: str, port: int) -> Forwarding | None:
        """``pf`` (Neutron's body) as met by ``protocol``/``port`` traffic, or None if it does not take it."""
        ext = _span(pf, "external")
        if pf.get("protocol") != protocol or not ext[0] <= port <= ext[1]:
            return None
        internal = _span(pf, "internal")
        offset = port - ext[0] if internal[1] - internal[0] == ext[1] - ext[0] else 0
        return Forwarding(str(pf["id"]), protocol, port, str(pf["internal_ip_address"]), internal[0] + offset,
                          str(pf["internal_port_id"]))  # fmt: skip


def _span(pf: dict[str, Any], side: str) -> tuple[int, int]:
    """A forwarding's ``external``/``internal`` ports as (first, last), from ``<side>_port`` or
    ``<side>_port_range`` (``N:M``)."""
    single = pf.get(f"{side}_port")
    if single is not None:
        return int(single), int(single)
    first, _, last = str(pf[f"{side}_port_range"]).partition(":")
    return int(first), int(last or first)


def ip_in(ip: str, cidr: str) -> bool:
    return ipaddress.ip_address(ip) in ipaddress.ip_network(cidr, strict=False)


def prefixlen(cidr: str) -> int:
    return ipaddress.ip_network(cidr, strict=False).prefixlen


class PortFacts:
    """What the security-group checks (:mod:`floatnet.diagnose.checks_security`) read of an instance port, for
    both paths: a floating IP's (:class:`Facts`) and an IPv6 address's (:class:`floatnet.diagnose.ipv6.Facts6`).

    A path supplies ``api``, ``local``, the ``port``, the instance address the traffic reaches (``fixed_ip``),
    where it comes from (``source``) and the queried flow (``traffic``, None without ``--protocol``); the
    port's groups, their remote groups' members and the installed filter are looked up here, once.
    """

    api: NeutronReader
    local: Local

    @property
    def port(self) -> dict[str, Any] | None:
        raise NotImplementedError

    @property
    def fixed_ip(self) -> str:
        raise NotImplementedError

    @property
    def source(self) -> str:
        raise NotImplementedError

    @property
    def traffic(self) -> Traffic | None:
        raise NotImplementedError

    @cached_property
    def security_groups(self) -> list[dict[str, Any]]:
        """The port's groups with their rules, in the port's order (a group that cannot be read is left out)."""
        assert self.port is not None
        shown = (self.api.show("security_group", g, "security-groups") for g in self.port.get("security_groups") or [])
        return [group for group in shown if group is not None]

    @cached_property
    def group_members(self) -> dict[str, list[str]]:
        """Each remote group named by an ingress rule of the port's groups → its members' addresses: the fixed
        IPs and allowed-address-pair IPs/CIDRs of the ports in it (what a remote-group rule admits)."""
        wanted = {r["remote_group_id"] for g in self.security_groups for r in g.get("security_group_rules") or []
                  if r.get("remote_group_id") and r.get("direction") == "ingress"}  # fmt: skip
        members: dict[str, list[str]] = {}
        for group_id in sorted(wanted):
            ports = self.api.query("port", security_groups=group_id)
            members[group_id] = [f["ip_address"] for p in ports for f in p.get("fixed_ips", [])] + [
                a["ip_address"] for p in ports for a in p.get("allowed_address_pairs") or []
            ]
        return members

    @cached_property
    def sg_ruleset(self) -> nft_eval.Ruleset | None:
        """The installed security-group tables where the instances' taps live (None: none installed)."""
        tables = probe.sg_tables(self.local.ovs_netns)
        return nft_eval.parse(*tables) if tables is not None else None


class Facts(PortFacts):
    """The diagnosis context for floating IP ``ref`` (address or id)."""

    def __init__(self, reader: NeutronReader, ref: str, local: Local | None = None, query: Query | None = None) -> None:
        self.api = reader
        self.ref = ref
        self.local = local or Local()
        self.query = query

    # ---- API objects ----

    @cached_property
    def fip(self) -> dict[str, Any] | None:
        return self.api.find_floatingip(self.ref)

    @property
    def fip_address(self) -> str:
        assert self.fip is not None
        return str(self.fip["floating_ip_address"])

    @cached_property
    def forwarding(self) -> Forwarding | None:
        """The port forwarding the checked traffic takes (``--protocol tcp|udp --port N`` inside one of the
        floating IP's external ports or ranges), or None: an associated floating IP, other traffic, no match."""
        q = self.query
        if self.fip is None or self.fip.get("port_id") or q is None or q.port is None or not self.fip.get(
            "port_forwardings"
        ):
            return None
        for pf in self.api.port_forwardings(str(self.fip["id"])):
            found = Forwarding.matching(pf, q.protocol, q.port)
            if found is not None:
                return found
        return None

    @property
    def fixed_ip(self) -> str:
        """The instance address the traffic reaches: the association's, or the forwarding's."""
        assert self.fip is not None
        return self.forwarding.internal_ip if self.forwarding else str(self.fip["fixed_ip_address"])

    @property
    def port_id(self) -> str:
        """The instance port the traffic reaches: the association's, or the forwarding's."""
        assert self.fip is not None
        return self.forwarding.port_id if self.forwarding else str(self.fip["port_id"])

    @cached_property
    def port(self) -> dict[str, Any] | None:
        return self.api.show("port", self.port_id)

    @cached_property
    def subnet(self) -> dict[str, Any] | None:
        """The port's subnet holding the floating IP's fixed address."""
        assert self.port is not None
        for fixed in self.port.get("fixed_ips", []):
            if fixed.get("ip_address") == self.fixed_ip:
                return self.api.show("subnet", fixed["subnet_id"])
        return None

    @cached_property
    def network(self) -> dict[str, Any] | None:
        assert self.port is not None
        return self.api.show("network", self.port["network_id"])

    @cached_property
    def router(self) -> dict[str, Any] | None:
        assert self.fip is not None
        return self.api.show("router", self.fip["router_id"]) if self.fip.get("router_id") else None

    @property
    def router_id(self) -> str:
        assert self.fip is not None
        return str(self.fip["router_id"])

    @cached_property
    def gateway_port(self) -> dict[str, Any] | None:
        ports = self.api.router_ports(self.router_id, GATEWAY_OWNER)
        return ports[0] if ports else None

    @cached_property
    def interface_port(self) -> dict[str, Any] | None:
        """The router's port on the instance's subnet."""
        assert self.subnet is not None
        for owner in INTERFACE_OWNERS:
            for port in self.api.router_ports(self.router_id, owner):
                if any(f.get("subnet_id") == self.subnet["id"] for f in port.get("fixed_ips", [])):
                    return port
        return None

    @cached_property
    def external_network(self) -> dict[str, Any] | None:
        assert self.fip is not None
        return self.api.show("network", self.fip["floating_network_id"])

    @cached_property
    def external_subnet(self) -> dict[str, Any] | None:
        """The external network's subnet that contains the floating IP."""
        assert self.fip is not None
        for subnet in self.api.query("subnet", network_id=self.fip["floating_network_id"]):
            if subnet.get("ip_version", 4) == 4 and ip_in(self.fip_address, subnet["cidr"]):
                return subnet
        return None

    @property
    def gateway_cidr(self) -> str:
        """The router's gateway address as ``ip/len`` (from its port and the external subnet)."""
        assert self.gateway_port is not None and self.external_subnet is not None
        ip = next(
            f["ip_address"] for f in self.gateway_port["fixed_ips"] if f["subnet_id"] == self.external_subnet["id"]
        )
        return f"{ip}/{prefixlen(self.external_subnet['cidr'])}"

    @property
    def interface_cidr(self) -> str:
        assert self.interface_port is not None and self.subnet is not None
        ip = next(f["ip_address"] for f in self.interface_port["fixed_ips"] if f["subnet_id"] == self.subnet["id"])
        return f"{ip}/{prefixlen(self.subnet['cidr'])}"

    @cached_property
    def agents(self) -> list[dict[str, Any]]:
        return self.api.agents()

    # ---- security groups ----

    @property
    def source(self) -> str:
        """Where the checked traffic comes from: ``--from``, else the upstream router (external gateway)."""
        if self.query is not None and self.query.source:
            return self.query.source
        assert self.external_subnet is not None
        return str(self.external_subnet["gateway_ip"])

    @cached_property
    def traffic(self) -> Traffic | None:
        """The flow to judge (None: no ``--protocol`` given; a summary is judged instead)."""
        q = self.query
        if q is None:
            return None
        port = self.forwarding.internal_port if self.forwarding else q.port  # the groups see it after DNAT
        return make_traffic(self.source, q.protocol, port, q.icmp_type, q.icmp_code)

    # ---- names and local settings ----

    @property
    def router_ns(self) -> str:
        return f"qrouter-{self.router_id}"

    @property
    def dhcp_ns(self) -> str:
        assert self.port is not None
        return f"qdhcp-{self.port['network_id']}"

    @property
    def qg_dev(self) -> str:
        assert self.gateway_port is not None
        return f"qg-{self.gateway_port['id'][:11]}"

    @property
    def qr_dev(self) -> str:
        assert self.interface_port is not None
        return f"qr-{self.interface_port['id'][:11]}"

    @cached_property
    def bridge_mappings(self) -> dict[str, str]:
        """physnet → bridge: what the OVS agent reports (it is what it applied), else the local config's."""
        for agent in self.agents:
            mappings = (agent.get("configurations") or {}).get("bridge_mappings")
            if agent.get("agent_type") == OVS_AGENT and isinstance(mappings, dict) and mappings:
                return {str(k): str(v) for k, v in mappings.items()}
        return dict(self.local.bridge_mappings)

    @cached_property
    def physical_interfaces(self) -> dict[str, str]:
        """physnet → uplink device: the local config's, else what the OVS agent reports."""
        if self.local.physical_interfaces:
            return dict(self.local.physical_interfaces)
        for agent in self.agents:
            interfaces = (agent.get("configurations") or {}).get("physical_interfaces")
            if agent.get("agent_type") == OVS_AGENT and isinstance(interfaces, dict) and interfaces:
                return {str(k): str(v) for k, v in interfaces.items()}
        return {}

    @cached_property
    def ovsdb(self) -> str | None:
        """``--ovsdb``, else the connection an agent reports (floatnet may run its own ovsdb-server)."""
        if self.local.ovsdb:
            return self.local.ovsdb
        for agent in self.agents:
            connection = (agent.get("configurations") or {}).get("ovsdb_connection")
            if connection:
                return str(connection)
        return None

    # ---- kernel observations ----

    @cached_property
    def ovs(self) -> probe.OvsSnapshot:
        return probe.ovs_snapshot(self.ovsdb)

    @cached_property
    def nat(self) -> probe.NatTable | None:
        return probe.nat_table(self.router_ns)

    @cached_property
    def router_links(self) -> dict[str, dict[str, Any]]:
        return probe.links(self.router_ns)
