"""The DHCP ports of a network, one per host serving its DHCP, kept in step with its DHCP-enabled subnets and its
DHCP placement (as Neutron's DHCP agents' ports).

A network with at least one ``enable_dhcp`` subnet has, for each host serving its DHCP
(:meth:`floatnet.core.agent_protocol.scheduling.Candidates.hosts_of`: up to ``[DEFAULT] dhcp_agents_per_network``),
one port with ``device_owner network:dhcp``, ``binding:host_id`` that host, ``device_id``
``dhcp<uuid5(host)>-<network_id>`` (Neutron's per-host DHCP device id) and one address on each such subnet (the
first free one, so usually ``.2``, ``.3``, …): each host's dnsmasq answers from its own address. A port whose host
no longer serves the network is handed to a host that now does (address and MAC kept, as Neutron reuses a
reserved DHCP port), else deleted. Before any agent registered the one port is bound to no host (``""``); the
first report's placement gives it to a host.

:func:`sync` runs where the subnets change (the API) and where placement changes: the scheduler API, and each
agent report whose placement bound or moved a network's DHCP (:func:`sync_networks`, in the report's
transaction, so a network's ports never lag its bindings).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from floatnet.core.agent_protocol import changes, port_binding, scheduling
from floatnet.core.agent_protocol.agents import down_time
from floatnet.core.ipam import fixed_ips
from floatnet.core.resources.ports import delete_port_in, new_port
from floatnet.core.service import Core
from floatnet.db.models import Agent, Network, NetworkDhcpAgentBinding, Port, Subnet, utcnow

OWNER = "network:dhcp"


def device_id(network_id: str, host: str) -> str:
    """The ``device_id`` of ``host``'s DHCP port on ``network_id``: Neutron's ``dhcp<uuid5(host)>-<network>``,
    of the host's short name (a host known by its FQDN or its name alone gets the same id)."""
    return f"dhcp{uuid.uuid5(uuid.NAMESPACE_DNS, host.split('.')[0])}-{network_id}"


def dhcp_ports(session: Session, network_id: str) -> list[Port]:
    """The network's DHCP ports, oldest first."""
    stmt = select(Port).where(Port.network_id == network_id, Port.device_owner == OWNER)
    return list(session.scalars(stmt.order_by(Port.created_at, Port.id)))


def serving_hosts(session: Session, core: Core, network_id: str) -> list[str]:
    """The hosts serving the network's DHCP (its bindings, else the computed choice; none when it has no
    DHCP-enabled subnet)."""
    if network_id not in scheduling.dhcp_networks(session):
        return []
    placement = scheduling.candidates(
        session, down_time(core.config), "", on_demand=True, per_network=core.config.dhcp_agents_per_network
    )
    return placement.hosts_of(scheduling.DHCP, network_id)


def sync(session: Session, core: Core, network: Network) -> None:
    """Create, hand over, readdress or delete the network's DHCP ports to match its DHCP-enabled subnets and
    the hosts serving it (see the module docstring)."""
    subnet_ids = list(
        session.scalars(
            select(Subnet.id)
            .where(Subnet.network_id == network.id, Subnet.enable_dhcp.is_(True))
            .order_by(Subnet.created_at, Subnet.id)
        )
    )
    hosts = serving_hosts(session, core, network.id) if subnet_ids else []
    materialize(session, hosts, network.id, alive_after=utcnow() - timedelta(seconds=down_time(core.config)))
    ports = dhcp_ports(session, network.id)
    kept = [port for port in ports if port.binding_host_id in hosts]
    leaving = [port for port in ports if port not in kept]
    for host in [host for host in hosts if host not in {port.binding_host_id for port in kept}]:
        if leaving:
            kept.append(_hand_over(session, core, network, leaving.pop(0), host))
            continue
        attrs = {"device_owner": OWNER, "device_id": device_id(network.id, host), "binding:host_id": host}
        fixed = [{"subnet_id": subnet_id} for subnet_id in subnet_ids]
        new_port(session, core, network.project_id, {**attrs, "fixed_ips": fixed}, network)
    for port in leaving:
        delete_port_in(session, port)
    for port in kept:
        _readdress(session, core, network, port, subnet_ids)


def _slots(session: Session, network_id: str) -> list[NetworkDhcpAgentBinding]:
    """The network's binding rows by slot."""
    stmt = select(NetworkDhcpAgentBinding).where(NetworkDhcpAgentBinding.network_id == network_id)
    return list(session.scalars(stmt.order_by(NetworkDhcpAgentBinding.binding_index)))


def next_index(rows: list[NetworkDhcpAgentBinding]) -> int:
    """The smallest slot number the network's ``rows`` do not use."""
    used = {row.binding_index for row in rows}
    return next(index for index in range(1, len(used) + 2) if index not in used)


def materialize(
    session: Session, hosts: list[str], network_id: str, alive_after: datetime | None = None
) -> list[NetworkDhcpAgentBinding]:
    """Store a slot for each of ``hosts`` (the network's placement) whose DHCP agent has no row yet (and, with
    ``alive_after``, reported since then); the network's rows. A network is bound where it was first placed,
    as Neutron schedules it when it gets a DHCP subnet, so an agent joining before the next report moves
    nothing; one on a dead agent is left to the reports' placement."""
    rows = _slots(session, network_id)
    stmt = select(Agent.host, Agent.id).where(Agent.host.in_(hosts), Agent.agent_type == scheduling.DHCP_AGENT)
    if alive_after is not None:
        stmt = stmt.where(Agent.heartbeat_timestamp > alive_after, Agent.admin_state_up.is_(True))
    bound = {row.agent_id for row in rows}
    for agent_id in [agent_id for _host, agent_id in sorted(session.execute(stmt)) if agent_id not in bound]:
        row = NetworkDhcpAgentBinding(network_id=network_id, binding_index=next_index(rows), agent_id=agent_id)
        session.add(row)
        rows.append(row)
    session.flush()
    return rows


def _hand_over(session: Session, core: Core, network: Network, port: Port, host: str) -> Port:
    """Give a DHCP port whose host no longer serves the network to ``host`` (its old host is told to drop it);
    the port."""
    was_on = port.binding_host_id
    port.binding_host_id, port.device_id = host, device_id(network.id, host)
    port.binding_vif_type, port.binding_vif_details = port_binding.vif(session, core.config, network, host)
    changes.updated(session, "port", port, network_id=network.id, hosts=[was_on])
    session.flush()
    return port


def _readdress(session: Session, core: Core, network: Network, port: Port, subnet_ids: list[str]) -> None:
    """One address on each DHCP-enabled subnet: the addresses on others dropped, the new subnets' added."""
    current = fixed_ips.current(session, port.id)
    wanted = [ip for ip in current if ip["subnet_id"] in subnet_ids]
    have = {ip["subnet_id"] for ip in wanted}
    wanted += [{"subnet_id": subnet_id} for subnet_id in subnet_ids if subnet_id not in have]
    if len(wanted) != len(current) or have != {ip["subnet_id"] for ip in current}:
        fixed_ips.replace(session, core.ipam_hints, port.id, network.id, wanted, OWNER)
        changes.updated(session, "port", port, network_id=network.id)


def sync_networks(session: Session, network_ids: Collection[str], core: Core) -> int:
    """:func:`sync` the networks of ``network_ids`` that still exist; how many. Called in an agent report's
    transaction with the networks whose DHCP bindings it changed
    (:meth:`floatnet.core.agent_protocol.agents.AgentService.report`)."""
    networks = [network for network in map(lambda nid: session.get(Network, nid), network_ids) if network]
    for network in networks:
        sync(session, core, network)
    return len(networks)
