"""Which host runs a router and which hosts serve a network's DHCP: the stored bindings, else a deterministic
choice among alive agents.

A binding (written by :mod:`placement` or the operator's ``l3_agent_scheduler``/``dhcp_agent_scheduler``, stored
in ``router_l3_agent_bindings`` / ``network_dhcp_agent_bindings``) places its resource on the bound agent's host
whether that agent is alive or not (Neutron moves nothing by itself either), or on no host when the operator
removed it from its agent. A network's DHCP has up to ``[DEFAULT] dhcp_agents_per_network`` (N) bindings, one
per slot; a router one. Everything else is placed by computation, and every server computes the same answer
from the same ``agents`` rows: the candidates are the hosts whose agent of the right type is alive, sorted; a
resource goes to ``candidates[h(id) % n]`` with ``h`` a stable hash, and a network's further unbound DHCP slots
each to the same choice among the candidates not already serving it (:func:`choose_many`). With one agent that
agent gets everything. When no agent
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
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, bindparam, select
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


def choose(resource_id: str, hosts: Collection[str]) -> str | None:
    """The host for ``resource_id`` among ``hosts`` (sorted internally), or None when there is none."""
    if not hosts:
        return None
    ordered = sorted(set(hosts))
    digest = hashlib.sha256(resource_id.encode()).digest()
    return ordered[int.from_bytes(digest[:8], "big") % len(ordered)]


def choose_many(resource_id: str, hosts: Collection[str], count: int, taken: Collection[str] = ()) -> list[str]:
    """Up to ``count`` more hosts for ``resource_id`` among ``hosts`` minus ``taken`` (the hosts already serving
    it): :func:`choose` among what is left, again and again. The first pick with nothing taken is
    :func:`choose`'s, so one DHCP agent per network places as a router does."""
    left, picked = set(hosts) - set(taken), list[str]()
    while left and len(picked) < count:
        host = str(choose(resource_id, left))
        picked.append(host)
        left.discard(host)
    return picked


@dataclass
class Candidates:
    """The candidate hosts of each kind (``router``, ``dhcp``) and the stored bindings (``(kind, id)`` → the
    bound agents' hosts by slot, None for a slot on no host), read once per snapshot. ``load`` computes the
    candidate lists when first needed: a snapshot whose resources are all bound never reads the agents.
    ``per_network`` is ``dhcp_agents_per_network``."""

    routers: list[str] | None = None
    dhcp: list[str] | None = None
    bound: dict[tuple[str, str], tuple[str | None, ...]] = field(default_factory=dict)
    per_network: int = 1
    replicas: dict[str, frozenset[str]] = field(default_factory=dict)  # HA router -> the hosts of its replicas
    load: Callable[[], tuple[list[str], list[str]]] | None = None
    # reads the bindings of some resources of a kind (id -> host) when ``bound`` was not read whole
    fetch: Callable[[str, Collection[str]], dict[str, tuple[str | None, ...]]] | None = None
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

    def _candidates(self, kind: str) -> list[str]:
        if (self.routers is None or self.dhcp is None) and self.load is not None:
            self.routers, self.dhcp = self.load()
        return (self.routers if kind == ROUTER else self.dhcp) or []

    def host_for(self, kind: str, resource_id: str) -> str | None:
        """The host running (non-HA) router ``resource_id``, or the first host serving network ``resource_id``'s
        DHCP (:meth:`hosts_of`)."""
        hosts = self.hosts_of(kind, resource_id)
        return hosts[0] if hosts else None

    def hosts_of(self, kind: str, resource_id: str) -> list[str]:
        """The one function deciding placement — every host running router/DHCP ``resource_id``: an HA
        router's replicas (sorted); else the bound hosts by slot (a slot on no host counts, serving nothing),
        then the computed choice for the slots still unbound (one for a router, up to ``per_network`` for a
        network's DHCP)."""
        if kind == ROUTER and resource_id in self.replicas:
            return sorted(self.replicas[resource_id])
        self.prefetch(kind, (resource_id,))
        slots = self.bound.get((kind, resource_id), ())
        placed = [host for host in slots if host is not None]
        missing = (1 if kind == ROUTER else self.per_network) - len(slots)
        if missing <= 0:
            return placed
        return placed + choose_many(resource_id, self._candidates(kind), missing, placed)

    def runs_on(self, kind: str, resource_id: str, host: str) -> bool:
        """Whether ``host`` runs router/DHCP ``resource_id`` (:meth:`hosts_of`)."""
        return host in self.hosts_of(kind, resource_id)


def dhcp_networks(session: Session) -> set[str]:
    """The networks a DHCP agent hosts (Neutron schedules a network when it has a DHCP-enabled subnet): those,
    and those an operator bound (to an agent or to none)."""
    with_dhcp = select(Subnet.network_id).where(Subnet.enable_dhcp.is_(True)).distinct()
    return set(session.scalars(with_dhcp)) | set(session.scalars(select(NetworkDhcpAgentBinding.network_id)))


def bindings(session: Session) -> dict[tuple[str, str], tuple[str | None, ...]]:
    """The bindings of both kinds, with the bound agents' hosts (two small indexed queries)."""
    found: dict[tuple[str, str], tuple[str | None, ...]] = {}
    for kind in BINDINGS:
        found.update(((kind, resource_id), hosts) for resource_id, hosts in bindings_of(session, kind).items())
    return found


def bindings_of(
    session: Session, kind: str, resource_ids: Collection[str] | None = None
) -> dict[str, tuple[str | None, ...]]:
    """Resource id -> the bound agents' hosts by slot (None: a slot on no host) of the bindings of ``kind`` (of
    ``resource_ids`` only, by the primary key, when given)."""
    if resource_ids is None:
        rows = session.execute(_bindings_stmt(kind, False))
    else:
        rows = session.execute(_bindings_stmt(kind, True), {"ids": list(resource_ids)})
    found: dict[str, tuple[str | None, ...]] = {}
    for resource_id, host in rows:
        found[resource_id] = (*found.get(resource_id, ()), host)
    return found


@lru_cache(maxsize=4)
def _bindings_stmt(kind: str, filtered: bool) -> Select[Any]:
    """The statement of :func:`bindings_of`, built once per kind (``filtered``: of the ``ids`` bound at run
    time): every narrowed state fetch runs it, and building it cost about a quarter of such a fetch."""
    model, column = BINDINGS[kind]
    stmt = select(column, Agent.host).select_from(model).outerjoin(Agent, Agent.id == model.agent_id)
    if kind == DHCP:
        stmt = stmt.order_by(column, model.binding_index)
    if filtered:
        stmt = stmt.where(column.in_(bindparam("ids", expanding=True)))
    return stmt


def candidates(
    session: Session,
    down_time: float,
    asking_host: str,
    with_bindings: bool = True,
    on_demand: bool = False,
    per_network: int = 1,
) -> Candidates:
    """The candidate hosts for routers and DHCP from the ``agents`` table (see the module docstring), read only
    when a resource without a binding is placed. The stored bindings are read whole; with ``on_demand`` only
    those of the resources asked about (:meth:`Candidates.prefetch`: a filtered snapshot at 10,000 routers
    must not read 10,000 rows); without ``with_bindings`` not at all (a caller that looked up its few
    resources' rows). ``per_network``: ``dhcp_agents_per_network``."""
    bound = bindings(session) if with_bindings and not on_demand else {}
    return Candidates(
        bound=bound,
        per_network=per_network,
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
