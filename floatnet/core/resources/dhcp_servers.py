"""Manual scheduling of a network's DHCP servers (``dhcp_agent_scheduler``'s add and remove), as Neutron's
``add_network_to_dhcp_agent`` / ``remove_network_from_dhcp_agent``.

A network's DHCP runs on several agents, one ``network_dhcp_agent_bindings`` row (slot) each
(:mod:`floatnet.core.agent_protocol.placement`). Both operations first write down the network's computed placement
(:func:`floatnet.core.resources.dhcp_port.materialize`: the rows the next agent report would store), so the
operator's change applies to the placement the agents see — adding a second agent keeps the first. Adding takes a
slot the operator emptied, else a new one (the operator may go past ``dhcp_agents_per_network``, as with Neutron);
removing empties the agent's slot (kept, so the network is not placed there again by itself). The network's DHCP
ports follow (:func:`floatnet.core.resources.dhcp_port.sync`) and its change is logged for every host concerned,
the removed agent's included, which tears its DHCP server down.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from floatnet.core.agent_protocol import placement, scheduling
from floatnet.core.resources import dhcp_port
from floatnet.core.scheduler_errors import NetworkHostedByDHCPAgent, NetworkNotHostedByDhcpAgent
from floatnet.core.service import Core
from floatnet.db.models import Agent, Network, NetworkDhcpAgentBinding


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
    rows = dhcp_port.materialize(session, hosts, network.id)
    emptied = next((row for row in rows if row.agent_id is None), None)
    if emptied is not None:
        emptied.agent_id = agent.id
    else:
        index = dhcp_port.next_index(rows)
        session.add(NetworkDhcpAgentBinding(network_id=network.id, binding_index=index, agent_id=agent.id))
    _follow(session, core, network, None)


def remove(session: Session, core: Core, found: scheduling.Candidates, network: Network, agent: Agent) -> None:
    """Stop serving the network's DHCP on ``agent`` (409 ``NetworkNotHostedByDhcpAgent`` when it does not)."""
    hosts = _hosts(session, found, network.id)
    if agent.host not in hosts:
        raise NetworkNotHostedByDhcpAgent(network_id=network.id, agent_id=agent.id)
    for row in dhcp_port.materialize(session, hosts, network.id):
        if row.agent_id == agent.id:
            row.agent_id = None
    _follow(session, core, network, agent.host)


def _follow(session: Session, core: Core, network: Network, was_on: str | None) -> None:
    """After a binding change: the network's DHCP ports follow, and its hosts (and ``was_on``) are told."""
    session.flush()
    dhcp_port.sync(session, core, network)
    placement.log_move(session, scheduling.DHCP, network.id, was_on)
