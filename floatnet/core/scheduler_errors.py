"""The errors of the agent scheduler APIs (``l3_agent_scheduler``, ``dhcp_agent_scheduler``), in Neutron's
names, status codes and messages (``neutron/extensions/l3agentscheduler.py``, ``dhcpagentscheduler.py``)."""

from __future__ import annotations

from floatnet.core.errors import AgentNotFound, Conflict


class InvalidL3Agent(AgentNotFound):
    message_template = "Agent %(id)s is not a L3 Agent or has been disabled"


class InvalidDHCPAgent(AgentNotFound):
    message_template = "Agent %(id)s is not a valid DHCP Agent or has been disabled"


class RouterHostedByL3Agent(Conflict):
    message_template = "The router %(router_id)s has been already hosted by the L3 Agent %(agent_id)s."


class RouterNotHostedByL3Agent(Conflict):
    message_template = "The router %(router_id)s is not hosted by the L3 Agent %(agent_id)s."


class NetworkHostedByDHCPAgent(Conflict):
    message_template = "The network %(network_id)s has been already hosted by the DHCP Agent %(agent_id)s."


class NetworkNotHostedByDhcpAgent(Conflict):
    message_template = "The network %(network_id)s is not hosted by the DHCP agent %(agent_id)s."
