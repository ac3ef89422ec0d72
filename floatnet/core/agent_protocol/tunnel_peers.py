"""Which bridge a network's devices plug into, and the VXLAN peers of a host's tunnelled networks.

**Bridges.** A flat/VLAN network's devices plug into the bridge ``[ovs] bridge_mappings`` maps its physnet to; a
tunnelled (vxlan) or local network's into the integration bridge ``br-int``, as with Neutron's OVS agent (the
port binding's ``bridge_name`` says the same, so a hypervisor plugs where the agent wires).

**Peers.** A host carrying a vxlan network must send its broadcast and unknown-unicast frames to every other
host carrying it, and only to those (Neutron's l2population idea, without its per-MAC entries: the VTEPs learn
MACs from the data path). A host carries a network when it has an instance port bound on it, runs one of its
DHCP servers (``dhcp_agents_per_network`` of them: VXLAN floods reach every one), or runs a router with an
interface or gateway on it. Each such host's tunnel endpoint is the ``tunneling_ip`` its Open vSwitch agent
reports in ``configurations`` (from its ``[ovs] local_ip``, as Neutron's agent does); a host that reports none
cannot be reached over VXLAN and is left out.

One pass for all of a snapshot's vxlan networks: a few queries whatever their number. A bound port, a DHCP move
and a router interface are logged with their network's id, so the network's carriers refetch it and its peers;
a router moving between L3 agents is also logged once per vxlan network it is on (:func:`vxlan_networks_of`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from floatnet.config import Config
from floatnet.core.agent_protocol.scheduling import DHCP, ROUTER, Candidates, dhcp_networks
from floatnet.db.models import Agent, Network, Port, RouterPort

INTEGRATION_BRIDGE = "br-int"
OVS_AGENT = "Open vSwitch agent"


def bridge_for(config: Config, network_type: str, physical_network: str | None) -> str | None:
    """The bridge a device of such a network plugs into (None: no mapping for its physnet)."""
    if network_type in ("flat", "vlan"):
        return config.bridge_mappings.get(physical_network or "")
    return INTEGRATION_BRIDGE


def tunnel_ips(session: Session) -> dict[str, str]:
    """Host -> the tunnel endpoint its OVS agent reported (hosts without one are left out)."""
    rows = session.execute(select(Agent.host, Agent.configurations).where(Agent.agent_type == OVS_AGENT))
    found = {}
    for host, configurations in rows:
        address = (configurations or {}).get("tunneling_ip")
        if isinstance(address, str) and address:
            found[host] = address
    return found


def hosts_of(session: Session, placement: Candidates, network_ids: Collection[str]) -> dict[str, set[str]]:
    """Network id -> the hosts carrying it: bound ports' hosts, its DHCP hosts, its routers' hosts (every
    replica's of an HA router)."""
    hosting: dict[str, set[str]] = defaultdict(set)
    if not network_ids:
        return hosting
    ids = list(network_ids)
    bound = session.execute(
        select(Port.network_id, Port.binding_host_id)
        .where(Port.network_id.in_(ids), Port.binding_host_id != "", Port.binding_host_id.is_not(None))
        .distinct()
    )
    for network_id, bound_host in bound:
        hosting[network_id].add(bound_host)
    routed = session.execute(
        select(Port.network_id, RouterPort.router_id)
        .join(Port, Port.id == RouterPort.port_id)
        .where(Port.network_id.in_(ids))
    )
    pairs = routed.all()
    placement.prefetch(ROUTER, [router_id for _network_id, router_id in pairs])
    for network_id, router_id in pairs:
        hosting[network_id].update(placement.hosts_of(ROUTER, router_id))
    served = dhcp_networks(session) & set(ids)
    placement.prefetch(DHCP, served)
    for network_id in served:  # every DHCP host of the network: each floods to the others and is flooded to
        hosting[network_id].update(placement.hosts_of(DHCP, network_id))
    return hosting


def vxlan_networks_of(session: Session, router_id: str) -> list[str]:
    """The vxlan networks router ``router_id`` has a port on (sorted): when the router moves to another host,
    their peers change on every host carrying them."""
    rows = session.scalars(
        select(Port.network_id)
        .join(RouterPort, RouterPort.port_id == Port.id)
        .join(Network, Network.id == Port.network_id)
        .where(RouterPort.router_id == router_id, Network.network_type == "vxlan")
        .distinct()
    )
    return sorted(rows)


def peers(session: Session, placement: Candidates, host: str, network_ids: Collection[str]) -> Mapping[str, list[str]]:
    """Network id -> the sorted tunnel endpoints of the *other* hosts carrying it (see the module docstring).

    ``host``'s own endpoint is never listed, even when another host reports the same address by mistake."""
    endpoints = tunnel_ips(session)
    own = endpoints.get(host)
    out: dict[str, list[str]] = {}
    for network_id, hosts in hosts_of(session, placement, network_ids).items():
        addresses = {endpoints[h] for h in hosts if h != host and h in endpoints}
        out[network_id] = sorted(addresses - {own} if own else addresses)
    return out
