"""The agent scheduler APIs (``l3_agent_scheduler``, ``dhcp_agent_scheduler``): which agent hosts a router or a
network's DHCP server, and manual (re)scheduling.

* ``GET/POST /v2.0/agents/{id}/l3-routers``, ``DELETE .../l3-routers/{router_id}``, ``GET /v2.0/routers/{id}/
  l3-agents``; the same with ``dhcp-networks`` / ``dhcp-agents`` for networks.
* What hosts a resource is :func:`floatnet.core.agent_protocol.scheduling.Candidates.hosts_of`, the function
  the agents' host state uses, so these answers are where the dataplane is. Adding binds the resource to the
  agent (a stored row); removing binds it (that slot, for a network) to no agent; the change is logged for the
  resource, so the old host's agent tears it down and the new host's agent builds it.
* Neutron's rules: admin only (``create_l3-router``, ``get_l3-routers``, …: 403); the agent must be of the
  right type and enabled (``InvalidL3Agent`` / ``InvalidDHCPAgent``, 404); a router is hosted by one agent
  (``RouterHostedByL3Agent``, 409; adding it to its own agent again changes nothing); removing from an agent
  that does not host it is ``RouterNotHostedByL3Agent`` / ``NetworkNotHostedByDhcpAgent`` (409).
* A network's DHCP runs on several agents (``dhcp_agents_per_network``, and any the operator adds beyond):
  adding it to one more agent is allowed — ``NetworkHostedByDHCPAgent`` (409) only when that agent already
  hosts it — and gives that agent its own DHCP port; removing it from one agent removes that agent's DHCP port
  and leaves the others. Before either, the network's computed placement is written down (what the next
  agent report would store), so adding a second agent keeps the first.
* An HA router (l3-ha) runs on several agents, its replicas: ``l3-agents`` lists them with each one's
  ``ha_state``; adding it to another agent adds a replica there (nothing if it has one), removing drops that
  agent's replica (:mod:`floatnet.core.resources.router_ha_replicas`).
* A network is hosted by a DHCP agent when it has a DHCP-enabled subnet, or when the operator bound it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from floatnet.core.access import policy
from floatnet.core.agent_protocol import placement, scheduling
from floatnet.core.agent_protocol.agents import down_time, render
from floatnet.core.context import RequestContext
from floatnet.core.errors import AgentNotFound, HTTPBadRequest, NetworkNotFound, NotFound
from floatnet.core.l3_errors import RouterNotFound
from floatnet.core.listing import ListQuery
from floatnet.core.resources import dhcp_servers
from floatnet.core.resources import router_ha_replicas as replicas
from floatnet.core.resources.networks import NetworkService
from floatnet.core.resources.routers import RouterService
from floatnet.core.scheduler_errors import (
    InvalidDHCPAgent,
    InvalidL3Agent,
    NetworkHostedByDHCPAgent,
    NetworkNotHostedByDhcpAgent,
    RouterHostedByL3Agent,
    RouterNotHostedByL3Agent,
)
from floatnet.core.service import Core
from floatnet.core.validation import Attr, nullable, string, to_int, validate
from floatnet.db.models import Agent, Network, Router, RouterL3AgentBinding


@dataclass(frozen=True)
class Kind:
    """What differs between routers on L3 agents and networks on DHCP agents."""

    name: str  # scheduling kind
    agent_type: str
    key: str  # the POST body's attribute
    model: Any
    missing: type[NotFound]
    missing_key: str
    spec: dict[str, Attr]  # the POST body
    invalid_agent: type[AgentNotFound]
    hosted: type[Exception]
    not_hosted: type[Exception]
    rule: str  # <verb>_<rule>: create_l3-router, get_l3-routers, …


# Neutron takes an OVN-only ``ha_chassis_priority`` with a router; other L3 schedulers ignore it, as floatnet does
ROUTER_BODY = {"router_id": Attr(string(36), required=True), "ha_chassis_priority": Attr(nullable(to_int()))}
ROUTERS = Kind(
    scheduling.ROUTER, scheduling.L3_AGENT, "router_id", Router, RouterNotFound, "router_id", ROUTER_BODY,
    InvalidL3Agent, RouterHostedByL3Agent, RouterNotHostedByL3Agent, "l3-router",
)  # fmt: skip
NETWORKS = Kind(
    scheduling.DHCP, scheduling.DHCP_AGENT, "network_id", Network, NetworkNotFound, "net_id",
    {"network_id": Attr(string(36), required=True)},
    InvalidDHCPAgent, NetworkHostedByDHCPAgent, NetworkNotHostedByDhcpAgent, "dhcp-network",
)  # fmt: skip


def _placement(session: Session, core: Core) -> scheduling.Candidates:
    return scheduling.candidates(session, down_time(core.config), "", per_network=core.config.dhcp_agents_per_network)


def _scheduled(session: Session, kind: Kind) -> list[str]:
    """Ids of the resources of ``kind`` that are placed at all: every router; networks with a DHCP-enabled
    subnet or an operator's binding."""
    if kind is ROUTERS:
        return list(session.scalars(select(Router.id)))
    return sorted(scheduling.dhcp_networks(session))


def _agent_of_host(session: Session, kind: Kind, host: str | None) -> Agent | None:
    if host is None:
        return None
    return session.scalars(select(Agent).where(Agent.host == host, Agent.agent_type == kind.agent_type)).first()


class AgentSchedulerService:
    """The scheduler APIs of both kinds (see the module docstring)."""

    def __init__(self, core: Core) -> None:
        self.core = core

    def _agent(self, session: Session, ctx: RequestContext, kind: Kind, agent_id: str, verb: str) -> Agent:
        policy.check(ctx, f"{verb}_{kind.rule}{'s' if verb == 'get' else ''}", {})
        agent = session.get(Agent, agent_id)
        if agent is None:
            raise AgentNotFound(id=agent_id)
        if agent.agent_type != kind.agent_type or (verb == "create" and not agent.admin_state_up):
            raise kind.invalid_agent(id=agent_id)
        return agent

    def hosted_by(self, ctx: RequestContext, kind: Kind, agent_id: str) -> list[dict[str, Any]]:
        """The routers (networks) the agent hosts, rendered as ``GET /v2.0/routers`` (``networks``) would."""

        def work(session: Session) -> list[str]:
            agent = self._agent(session, ctx, kind, agent_id, "get")
            placement = _placement(session, self.core)
            return [rid for rid in _scheduled(session, kind) if placement.runs_on(kind.name, rid, agent.host)]

        ids = self.core.db.run(work, write=False)
        service = RouterService(self.core) if kind is ROUTERS else NetworkService(self.core)
        return service.list(ctx, ListQuery(filters={"id": ids})).items if ids else []

    def agents_hosting(self, ctx: RequestContext, kind: Kind, resource_id: str) -> list[dict[str, Any]]:
        """The agents hosting router (network) ``resource_id``: none or one (a network's: every one)."""
        policy.check(ctx, f"get_{'l3' if kind is ROUTERS else 'dhcp'}-agents", {})

        def work(session: Session) -> list[dict[str, Any]]:
            resource = session.get(kind.model, resource_id)
            if resource is None:
                raise kind.missing(**{kind.missing_key: resource_id})
            if kind is ROUTERS and resource.ha:
                return self._replica_agents(session, resource_id)
            if resource_id not in _scheduled(session, kind):
                return []
            hosts = _placement(session, self.core).hosts_of(kind.name, resource_id)
            agents = [agent for agent in (_agent_of_host(session, kind, host) for host in hosts) if agent]
            found = [render(agent, down_time(self.core.config)) for agent in agents]
            return [{**body, "ha_state": None} for body in found] if kind is ROUTERS else found

        return self.core.db.run(work, write=False)

    def _replica_agents(self, session: Session, router_id: str) -> list[dict[str, Any]]:
        """The agents of an HA router's replicas, each with its ``ha_state`` (Neutron's l3-ha answer; a
        non-HA router's agent shows ``ha_state: null``, as Neutron's)."""
        dead_after = down_time(self.core.config)
        held = replicas.replicas(session, [router_id]).get(router_id, [])
        states = replicas.shown_states(held, dead_after)
        return [
            {**render(agent, dead_after), "ha_state": state}
            for (agent, _state, _port), state in zip(held, states, strict=True)
            if agent is not None
        ]

    def add(self, ctx: RequestContext, kind: Kind, agent_id: str, body: Any) -> None:
        """Bind the resource the body names to the agent (see the module docstring)."""
        if not isinstance(body, dict):
            raise HTTPBadRequest(msg=f"Resource body required: {kind.key}")
        resource_id = validate(kind.key, kind.spec, body, creating=True)[kind.key]
        self.core.db.run(lambda s: self._add(s, ctx, kind, agent_id, resource_id))

    def _agent_and_resource(
        self, session: Session, ctx: RequestContext, kind: Kind, agent_id: str, verb: str, resource_id: str
    ) -> tuple[Agent, Any]:
        """The agent (checked for ``verb``) and the router/network a scheduling request names (404s)."""
        agent = self._agent(session, ctx, kind, agent_id, verb)
        resource = session.get(kind.model, resource_id)
        if resource is None:
            raise kind.missing(**{kind.missing_key: resource_id})
        return agent, resource

    def _add(self, session: Session, ctx: RequestContext, kind: Kind, agent_id: str, resource_id: str) -> None:
        agent, resource = self._agent_and_resource(session, ctx, kind, agent_id, "create", resource_id)
        if kind is ROUTERS and resource.ha:
            replicas.add_on(session, self.core, resource, agent)
            return
        if kind is NETWORKS:
            dhcp_servers.add(session, self.core, _placement(session, self.core), resource, agent)
            return
        current = _agent_of_host(session, kind, _placement(session, self.core).host_for(kind.name, resource_id))
        if current is not None and current.id == agent.id:
            return
        if current is not None:
            raise kind.hosted(**{kind.key: resource_id, "agent_id": current.id})
        self._bind(session, kind, resource, agent.id)

    def remove(self, ctx: RequestContext, kind: Kind, agent_id: str, resource_id: str) -> None:
        """Unbind the resource from the agent hosting it: it is then hosted nowhere until added again."""
        self.core.db.run(lambda s: self._remove(s, ctx, kind, agent_id, resource_id))

    def _remove(self, session: Session, ctx: RequestContext, kind: Kind, agent_id: str, resource_id: str) -> None:
        agent, resource = self._agent_and_resource(session, ctx, kind, agent_id, "delete", resource_id)
        if kind is ROUTERS and resource.ha:
            if not replicas.remove_from(session, resource_id, agent.id):
                raise kind.not_hosted(**{kind.key: resource_id, "agent_id": agent_id})
            return
        if kind is NETWORKS:
            dhcp_servers.remove(session, self.core, _placement(session, self.core), resource, agent)
            return
        if _placement(session, self.core).host_for(kind.name, resource_id) != agent.host:
            raise kind.not_hosted(**{kind.key: resource_id, "agent_id": agent_id})
        self._bind(session, kind, resource, None)

    def _bind(self, session: Session, kind: Kind, resource: Any, agent_id: str | None) -> None:
        """Store a router's binding and log the move (:func:`placement.log_move`)."""
        was_on = _placement(session, self.core).host_for(kind.name, resource.id)  # told to tear it down
        row = session.get(RouterL3AgentBinding, resource.id)
        if row is None:
            session.add(RouterL3AgentBinding(router_id=resource.id, agent_id=agent_id))
        else:
            row.agent_id = agent_id
        session.flush()
        placement.log_move(session, kind.name, resource.id, was_on)
