"""Manual scheduling of a network's DHCP servers (``dhcp_agent_scheduler``'s add and remove), as Neutron's
``add_network_to_dhcp_agent`` / ``remove_network_from_dhcp_agent``.

A network's DHCP runs on several agents, one ``network_dhcp_agent_bindings`` row (slot) each
(:mod:`floatnet.core.agent_protocol.placement`). Both operations first write down the network's computed
placement (:func:`materialize`: the rows the next agent report would store), so the operator's change applies to
the placement the agents see — adding a second agent keeps the first. Adding takes a slot the operator emptied,
else a new one (the operator may go past ``dhcp_agents_per_network``, as with Neutron); removing empties the
agent's slot (kept, so the network is not placed there again by itself). The network's DHCP ports follow
(:func:`floatnet.core.resources.dhcp_port.sync`) and its change is logged for every host concerned, the removed
agent's included, which tears its DHCP server down.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from floatnet.core.agent_protocol import placement, scheduling
from floatnet.core.resources import dhcp_port
from floatnet.core.scheduler_errors import NetworkHostedByDHCPAgent, NetworkNotHostedByDhcpAgent
from floatnet.core.service import Core
from floatnet.db.models import Agent, Network, NetworkDhcpAgentBinding


def _slots(session: Session, network_id: str) -> list[NetworkDhcpAgentBinding]:
    """The network's binding rows by slot."""
    stmt = select(NetworkDhcpAgentBinding).where(NetworkDhcpAgentBinding.network_id == network_id)
    return list(session.scalars(stmt.order_by(NetworkDhcpAgentBinding.binding_index)))


def _next_index(rows: list[NetworkDhcpAgentBinding]) -> int:
    """The smallest slot number the network does not use."""
    used = {row.binding_index for row in rows}
    return next(index for index in range(1, len(used) + 2) if index not in used)


def materialize(session: Session, hosts: list[str], network_id: str) -> list[NetworkDhcpAgentBinding]:
    """Store a slot for each of ``hosts`` (the network's placement) that has a DHCP agent and no row yet; the
    network's rows."""
    rows = _slots(session, network_id)
    bound = {row.agent_id for row in rows}
    agents = session.execute(
        select(Agent.host, Agent.id).where(Agent.host.in_(hosts), Agent.agent_type == scheduling.DHCP_AGENT)
    )
    for agent_id in [agent_id for _host, agent_id in sorted(agents) if agent_id not in bound]:
        row = NetworkDhcpAgentBinding(network_id=network_id, binding_index=_next_index(rows), agent_id=agent_id)
        session.add(row)
        rows.append(row)
    session.flush()
    return rows


def _hosts(session: Session, found: scheduling.Candidates, network_id: str) -> list[str]:
    """The hosts serving the network's DHCP (none when it is not DHCP-scheduled at all)."""
    if network_id not in scheduling.dhcp_networks(session):
        return []
    return found.hosts_of(scheduling.DHCP, network_id)


def add(session: Session, core: Core, found: scheduling.Candidates, network: Network, agent: Agent) -> None:
    """Serve the network's DHCP on ``agent`` too (409 ``NetworkHostedByDHCPAgent`` when it already does)."""
    hosts = _hosts(session, found, network.id)
    if agent.host in hosts:
        raise NetworkHostedByDHCPAgent(network_id=network.id, agent_id=agent.id)
    rows = materialize(session, hosts, network.id)
    emptied = next((row for row in rows if row.agent_id is None), None)
    if emptied is not None:
        emptied.agent_id = agent.id
    else:
        session.add(NetworkDhcpAgentBinding(network_id=network.id, binding_index=_next_index(rows), agent_id=agent.id))
    _follow(session, core, network, None)


def remove(session: Session, core: Core, found: scheduling.Candidates, network: Network, agent: Agent) -> None:
    """Stop serving the network's DHCP on ``agent`` (409 ``NetworkNotHostedByDhcpAgent`` when it does not)."""
    hosts = _hosts(session, found, network.id)
    if agent.host not in hosts:
        raise NetworkNotHostedByDhcpAgent(network_id=network.id, agent_id=agent.id)
    for row in materialize(session, hosts, network.id):
        if row.agent_id == agent.id:
            row.agent_id = None
    _follow(session, core, network, agent.host)


def _follow(session: Session, core: Core, network: Network, was_on: str | None) -> None:
    """After a binding change: the network's DHCP ports follow, and its hosts (and ``was_on``) are told."""
    session.flush()
    dhcp_port.sync(session, core, network)
    placement.log_move(session, scheduling.DHCP, network.id, was_on)
