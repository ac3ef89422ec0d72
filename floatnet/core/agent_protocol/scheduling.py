"""Which host runs a router and which hosts a network's DHCP: an operator's binding, else one deterministic
choice among alive agents.

An operator's binding (``l3_agent_scheduler``/``dhcp_agent_scheduler``, stored in ``router_l3_agent_bindings`` /
``network_dhcp_agent_bindings``) places its resource on the bound agent's host whether that agent is alive or
not (Neutron moves nothing by itself either), or on no host when the operator removed it from its agent.
Everything else is placed by computation, and every server computes the same answer from the same ``agents``
rows: the candidates are the hosts whose agent of the right type is alive, sorted; a resource goes to
``candidates[h(id) % n]`` with ``h`` a stable hash. With one agent that agent gets everything. When no agent
of the type is alive (an agent that restarted and has not reported yet), every host that registered an agent of
the type is a candidate, so a restarting single-node agent still sees its whole state and removes nothing. Only
where no agent of the type ever registered is every registered host a candidate, and with no agent registered at
all the host asking is (a lone agent that has not registered yet). So a host without the role (``[agent]
roles``: a compute node registers no ``L3 agent`` row) never runs a router once a network node registered, even
while that network node is down.
An HA router runs on the hosts of its replicas instead (:meth:`Candidates.runs_on`; placed by
``floatnet.core.resources.router_ha_replicas``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from floatnet.config import Config
from floatnet.db.models import (
    Agent,
    HARouterAgentPortBinding,
    NetworkDhcpAgentBinding,
    Router,
    RouterL3AgentBinding,
    Subnet,
    utcnow,
)
from floatnet.db.session import read_rows

L3_AGENT = "L3 agent"
DHCP_AGENT = "DHCP agent"
OVS_AGENT = "Open vSwitch agent"
ROUTER = "router"
DHCP = "dhcp"
AGENT_TYPES = {ROUTER: L3_AGENT, DHCP: DHCP_AGENT}
# kind -> (binding model, its resource column)
BINDINGS: dict[str, tuple[Any, Any]] = {
    ROUTER: (RouterL3AgentBinding, RouterL3AgentBinding.router_id),
    DHCP: (NetworkDhcpAgentBinding, NetworkDhcpAgentBinding.network_id),
}


def down_time(config: Config) -> float:
    """Seconds without a heartbeat after which an agent is dead (Neutron's ``agent_down_time``)."""
    return 3 * config.report_interval


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
    replicas: dict[str, frozenset[str]] = field(default_factory=dict)  # HA router -> the hosts of its replicas
    load: Callable[[], tuple[list[str], list[str]]] | None = None
    # reads the bindings of some resources of a kind (id -> host) when ``bound`` was not read whole
    fetch: Callable[[str, Collection[str]], dict[str, str | None]] | None = None
    fetched: set[tuple[str, str]] = field(default_factory=set)

    def prefetch(self, kind: str, resource_ids: Iterable[str]) -> None:
        """Read the bindings of ``resource_ids`` in one query (on-demand candidates only; a no-op otherwise), so
        a filtered snapshot reads the bindings of the few resources it answers, not the whole table."""
        if self.fetch is None:
            return
        wanted = sorted({rid for rid in resource_ids if (kind, rid) not in self.fetched})
        if wanted:
            self.bound.update(((kind, rid), host) for rid, host in self.fetch(kind, wanted).items())
            self.fetched.update((kind, rid) for rid in wanted)

    def host_for(self, kind: str, resource_id: str) -> str | None:
        """The one function deciding placement: the host running router/DHCP ``resource_id``."""
        self.prefetch(kind, (resource_id,))
        if (kind, resource_id) in self.bound:
            return self.bound[kind, resource_id]
        if (self.routers is None or self.dhcp is None) and self.load is not None:
            self.routers, self.dhcp = self.load()
        return choose(resource_id, (self.routers if kind == ROUTER else self.dhcp) or [])

    def hosts_of(self, kind: str, resource_id: str) -> list[str]:
        """Every host running router/DHCP ``resource_id``: an HA router's replicas (sorted), else the one of
        :meth:`host_for` (none when it is on no host)."""
        if kind == ROUTER and resource_id in self.replicas:
            return sorted(self.replicas[resource_id])
        host = self.host_for(kind, resource_id)
        return [] if host is None else [host]

    def runs_on(self, kind: str, resource_id: str, host: str) -> bool:
        """Whether ``host`` runs router/DHCP ``resource_id``: one of an HA router's replicas, else
        :meth:`host_for`."""
        if kind == ROUTER and resource_id in self.replicas:
            return host in self.replicas[resource_id]
        return self.host_for(kind, resource_id) == host


def dhcp_networks(session: Session) -> set[str]:
    """The networks a DHCP agent hosts (Neutron schedules a network when it has a DHCP-enabled subnet): those,
    and those an operator bound (to an agent or to none)."""
    with_dhcp = select(Subnet.network_id).where(Subnet.enable_dhcp.is_(True)).distinct()
    return set(session.scalars(with_dhcp)) | set(session.scalars(select(NetworkDhcpAgentBinding.network_id)))


def bindings(session: Session) -> dict[tuple[str, str], str | None]:
    """The operator's bindings of both kinds, with the bound agent's host (two small indexed queries)."""
    found: dict[tuple[str, str], str | None] = {}
    for kind in BINDINGS:
        found.update(((kind, resource_id), host) for resource_id, host in bindings_of(session, kind).items())
    return found


def bindings_of(session: Session, kind: str, resource_ids: Collection[str] | None = None) -> dict[str, str | None]:
    """Resource id -> the bound agent's host (None: on no host) of the bindings of ``kind`` (of ``resource_ids``
    only, by the primary key, when given)."""
    model, column = BINDINGS[kind]
    stmt = select(column, Agent.host).select_from(model).outerjoin(Agent, Agent.id == model.agent_id)
    if resource_ids is not None:
        stmt = stmt.where(column.in_(list(resource_ids)))
    return {resource_id: host for resource_id, host in session.execute(stmt)}


def candidates(
    session: Session, down_time: float, asking_host: str, with_bindings: bool = True, on_demand: bool = False
) -> Candidates:
    """The candidate hosts for routers and DHCP from the ``agents`` table (see the module docstring), read only
    when a resource without a binding is placed. The stored bindings are read whole; with ``on_demand`` only
    those of the resources asked about (:meth:`Candidates.prefetch`: a filtered snapshot at 10,000 routers
    must not read 10,000 rows); without ``with_bindings`` not at all (a caller that looked up its few
    resources' rows)."""
    bound = bindings(session) if with_bindings and not on_demand else {}
    return Candidates(
        bound=bound,
        replicas=ha_replicas(session),
        load=lambda: alive_hosts(session, down_time, asking_host),
        fetch=(lambda kind, ids: bindings_of(session, kind, ids)) if on_demand else None,
    )


def alive_hosts(session: Session, down_time: float, asking_host: str) -> tuple[list[str], list[str]]:
    """The sorted candidate hosts for routers and for DHCP: the alive, enabled agents of the kind's type; else
    every host that registered an agent of that type; else every registered host; else ``asking_host``."""
    rows = session.execute(select(Agent.host, Agent.agent_type, Agent.heartbeat_timestamp, Agent.admin_state_up))
    agents = rows.all()
    now = utcnow()
    every = {row.host for row in agents} or {asking_host}

    def alive_of(kind: str) -> list[str]:
        typed = [row for row in agents if row.agent_type == AGENT_TYPES[kind]]
        alive = {row.host for row in typed if row.admin_state_up and is_alive(row.heartbeat_timestamp, down_time, now)}
        registered = {row.host for row in typed}
        return sorted(alive or registered or every)

    return alive_of(ROUTER), alive_of(DHCP)


_HA_REPLICAS: Any = (
    select(Router.id, Agent.host)
    .where(Router.ha.is_(True))
    .outerjoin(HARouterAgentPortBinding, HARouterAgentPortBinding.router_id == Router.id)
    .outerjoin(Agent, Agent.id == HARouterAgentPortBinding.l3_agent_id)
)  # built once and run on the driver's cursor (strings only): every state answer reads it


def ha_replicas(session: Session) -> dict[str, frozenset[str]]:
    """Every HA router with the hosts of its replicas' agents (one query on the ``routers.ha`` index)."""
    rows = read_rows(session, _HA_REPLICAS, {})
    found: dict[str, set[str]] = {}
    for router_id, host in rows:
        found.setdefault(router_id, set()).update([host] if host else [])
    return {router_id: frozenset(hosts) for router_id, hosts in found.items()}
