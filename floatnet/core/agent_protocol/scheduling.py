"""Which host runs a router and which hosts a network's DHCP: an operator's binding, else one deterministic
choice among alive agents.

An operator's binding (``l3_agent_scheduler``/``dhcp_agent_scheduler``, stored in ``router_l3_agent_bindings`` /
``network_dhcp_agent_bindings``) places its resource on the bound agent's host whether that agent is alive or
not (Neutron moves nothing by itself either), or on no host when the operator removed it from its agent.
Everything else is placed by computation, and every server computes the same answer from the same ``agents``
rows: the candidates are the hosts whose agent of the right type is alive, sorted; a resource goes to
``candidates[h(id) % n]`` with ``h`` a stable hash. With one agent that agent gets everything. When no agent
of the type is alive (an agent that restarted and has not reported yet), every registered host of any type is
a candidate, so a restarting single-node agent still sees its whole state and removes nothing; with no agent
registered at all, the host asking is the candidate (a lone agent that has not registered yet).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from floatnet.db.models import Agent, NetworkDhcpAgentBinding, RouterL3AgentBinding, Subnet, utcnow

L3_AGENT = "L3 agent"
DHCP_AGENT = "DHCP agent"
OVS_AGENT = "Open vSwitch agent"
ROUTER = "router"
DHCP = "dhcp"
AGENT_TYPES = {ROUTER: (L3_AGENT, OVS_AGENT), DHCP: (DHCP_AGENT, OVS_AGENT)}
# kind -> (binding model, its resource column)
BINDINGS: dict[str, tuple[Any, Any]] = {
    ROUTER: (RouterL3AgentBinding, RouterL3AgentBinding.router_id),
    DHCP: (NetworkDhcpAgentBinding, NetworkDhcpAgentBinding.network_id),
}


def is_alive(heartbeat: datetime | None, down_time: float, now: datetime | None = None) -> bool:
    """Whether a heartbeat is younger than ``down_time`` seconds."""
    if heartbeat is None:
        return False
    return (now or utcnow()) - heartbeat < timedelta(seconds=down_time)


def choose(resource_id: str, hosts: list[str]) -> str | None:
    """The host for ``resource_id`` among ``hosts`` (sorted internally), or None when there is none."""
    if not hosts:
        return None
    ordered = sorted(set(hosts))
    digest = hashlib.sha256(resource_id.encode()).digest()
    return ordered[int.from_bytes(digest[:8], "big") % len(ordered)]


@dataclass
class Candidates:
    """The candidate hosts of each kind (``router``, ``dhcp``) and the operator's bindings (``(kind, id)`` →
    the bound agent's host, None for "on no host"), read once per snapshot. ``load`` computes the candidate
    lists when first needed: a snapshot whose resources are all bound never reads the agents."""

    routers: list[str] | None = None
    dhcp: list[str] | None = None
    bound: dict[tuple[str, str], str | None] = field(default_factory=dict)
    load: Callable[[], tuple[list[str], list[str]]] | None = None

    def host_for(self, kind: str, resource_id: str) -> str | None:
        """The one function deciding placement: the host running router/DHCP ``resource_id``."""
        if (kind, resource_id) in self.bound:
            return self.bound[kind, resource_id]
        if (self.routers is None or self.dhcp is None) and self.load is not None:
            self.routers, self.dhcp = self.load()
        return choose(resource_id, (self.routers if kind == ROUTER else self.dhcp) or [])


def dhcp_networks(session: Session) -> set[str]:
    """The networks a DHCP agent hosts (Neutron schedules a network when it has a DHCP-enabled subnet): those,
    and those an operator bound (to an agent or to none)."""
    with_dhcp = select(Subnet.network_id).where(Subnet.enable_dhcp.is_(True)).distinct()
    return set(session.scalars(with_dhcp)) | set(session.scalars(select(NetworkDhcpAgentBinding.network_id)))


def bindings(session: Session) -> dict[tuple[str, str], str | None]:
    """The operator's bindings of both kinds, with the bound agent's host (two small indexed queries)."""
    found: dict[tuple[str, str], str | None] = {}
    for kind, (model, column) in BINDINGS.items():
        rows = session.execute(
            select(column, Agent.host).select_from(model).outerjoin(Agent, Agent.id == model.agent_id)
        )
        found.update(((kind, resource_id), host) for resource_id, host in rows)
    return found


def candidates(session: Session, down_time: float, asking_host: str, with_bindings: bool = True) -> Candidates:
    """The candidate hosts for routers and DHCP from the ``agents`` table (see the module docstring), read only
    when a resource without a binding is placed; without ``with_bindings`` the stored bindings are not read (a
    caller that looked up its few resources' rows)."""
    bound = bindings(session) if with_bindings else {}
    return Candidates(bound=bound, load=lambda: alive_hosts(session, down_time, asking_host))


def alive_hosts(session: Session, down_time: float, asking_host: str) -> tuple[list[str], list[str]]:
    """The sorted candidate hosts for routers and for DHCP: the alive, enabled agents of the first type of
    :data:`AGENT_TYPES` that has any; else every registered host; else ``asking_host``."""
    cutoff = utcnow() - timedelta(seconds=down_time)
    rows = session.execute(
        select(Agent.host, Agent.agent_type).where(Agent.admin_state_up.is_(True), Agent.heartbeat_timestamp > cutoff)
    ).all()
    every: list[str] | None = None

    def alive_of(kind: str) -> list[str]:
        nonlocal every
        for agent_type in AGENT_TYPES[kind]:
            hosts = sorted({host for host, row_type in rows if row_type == agent_type})
            if hosts:
                return hosts
        if every is None:
            every = sorted(set(session.scalars(select(Agent.host).distinct()))) or [asking_host]
        return every

    return alive_of(ROUTER), alive_of(DHCP)
