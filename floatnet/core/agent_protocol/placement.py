"""Stable placement: each router and each DHCP server of a network is bound to an agent once and moves only when
it must.

Neutron stores where every router and DHCP server lives. floatnet used to compute it on every read
(:func:`scheduling.choose` over the alive agents), so one agent joining, dying or reporting late moved most
routers of the cloud at once — every floating IP with them. Now the computed choice is written down:

* **Binding.** Each agent report settles placement in its own transaction (:func:`settle`): whatever has
  fewer binding rows than it should (a new router: none of one; a network with a DHCP subnet: fewer than
  ``[DEFAULT] dhcp_agents_per_network``, Neutron's option) is bound to the agents :func:`scheduling.choose_many`
  picks among the alive, enabled agents of the kind's type not already serving it — the hosts the computation
  shows, so binding normally moves nothing. New resources spread over every alive agent, a
  joining agent included; what is placed stays. The binding is logged as the resource's change for the host
  it binds to: when an agent died or joined between the resource's write and the report that binds it, the
  computation at the write told another host, and the bound one would otherwise build it only at its next
  full resync (one change per resource, once).
* **Failover.** A binding to a dead agent (no heartbeat for ``3 × report_interval``) moves, to an alive agent
  not already serving the resource (a network's other DHCP servers stay where they are), only when
  automatic failover is on for its kind — ``[DEFAULT] allow_automatic_l3agent_failover`` (default false) and
  ``allow_automatic_dhcp_failover`` (default true), Neutron's options and defaults. A moved resource's change
  is logged, so the old host tears it down (when it returns) and the new host builds it. Without failover a
  dead agent keeps its resources: when it comes back it finds them where it left them (no storm of moves).
* **The operator's bindings** (the agent scheduler API, :mod:`floatnet.core.resources.agent_scheduler`) are
  rows like any other: kept, failed over under the same rule; a router the operator removed from its agent
  (``agent_id`` NULL) stays on none, and so does a network's DHCP slot the operator emptied (the network's
  other slots keep their agents).

Reads never write: until the next report, an unbound resource is placed by the computation
(:meth:`scheduling.Candidates.hosts_of`), which is exactly what the next report stores. The DHCP ports follow
the DHCP bindings (:mod:`floatnet.core.resources.dhcp_port`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from functools import lru_cache
from itertools import count
from typing import Any

from sqlalchemy import Select, bindparam, exists, func, select
from sqlalchemy.orm import Session

from floatnet.config import Config
from floatnet.core.agent_protocol import changes, tunnel_peers
from floatnet.core.agent_protocol.scheduling import AGENT_TYPES, BINDINGS, DHCP, ROUTER, bindings_of, choose_many
from floatnet.db.models import Agent, Network, Router, Subnet, utcnow


def failover_on(config: Config, kind: str) -> bool:
    """Whether bindings of ``kind`` to dead agents move (Neutron's two options)."""
    return config.allow_automatic_l3agent_failover if kind == ROUTER else config.allow_automatic_dhcp_failover


def slots(config: Config, kind: str) -> int:
    """How many agents each resource of ``kind`` is placed on: one router, ``dhcp_agents_per_network`` DHCP."""
    return 1 if kind == ROUTER else config.dhcp_agents_per_network


def settle(session: Session, config: Config, dead_after: float) -> set[str]:
    """Bind what is short of agents and fail over what must move (see the module docstring); the networks whose
    DHCP bindings changed (their DHCP ports must follow).

    Runs on every heartbeat, so the common case — everything bound, no binding on a dead agent — costs two
    small queries per kind that find nothing; the agents are read only when something must be placed."""
    cutoff = utcnow() - timedelta(seconds=dead_after)
    dhcp_changed: set[str] = set()
    for kind, agent_type in AGENT_TYPES.items():
        short = _short(session, kind, slots(config, kind))
        stranded = _stranded(session, kind, agent_type, cutoff) if failover_on(config, kind) else []
        if not short and not stranded:
            continue
        alive = alive_agents(session, agent_type, cutoff)
        if not alive:
            continue  # nothing to bind to: the computation's fallback keeps a restarting node whole
        _model, column = BINDINGS[kind]
        held = bindings_of(session, kind, sorted(set(short) | {getattr(row, column.key) for row in stranded}))
        changed = _fill(session, kind, short, held, alive, slots(config, kind))
        changed |= _fail_over(session, kind, stranded, held, alive)
        session.flush()
        dhcp_changed |= changed if kind == DHCP else set()
    return dhcp_changed


def _fill(
    session: Session,
    kind: str,
    short: list[str],
    held: dict[str, tuple[str | None, ...]],
    alive: dict[str, str],
    wanted: int,
) -> set[str]:
    """Bind each resource of ``short`` to the agents it lacks (up to ``wanted`` slots, each agent once); the
    resources that got one."""
    model, column = BINDINGS[kind]
    added: set[str] = set()
    for resource_id in short:
        slots_held = held.get(resource_id, ())
        taken = [host for host in slots_held if host]
        picked = choose_many(resource_id, alive, wanted - len(slots_held), taken)
        for index, host in zip(_free_indexes(session, kind, resource_id), picked, strict=False):
            extra = {"binding_index": index} if kind == DHCP else {}
            session.add(model(**{column.key: resource_id, "agent_id": alive[host], **extra}))
        if picked:
            _log_binding(session, kind, resource_id)
            added.add(resource_id)
    return added


def _free_indexes(session: Session, kind: str, resource_id: str) -> Iterator[int]:
    """The unused DHCP slot numbers of network ``resource_id``, smallest first (a router has no slots)."""
    if kind != DHCP:
        yield 0
        return
    model, column = BINDINGS[kind]
    used = set(session.scalars(select(model.binding_index).where(column == resource_id)))
    yield from (index for index in count(1) if index not in used)


def _fail_over(
    session: Session, kind: str, stranded: list[Any], held: dict[str, tuple[str | None, ...]], alive: dict[str, str]
) -> set[str]:
    """Move each binding row of ``stranded`` (held by a dead agent) to an alive agent not already serving its
    resource, and log the move; the resources moved (none where every alive agent serves it already)."""
    _model, column = BINDINGS[kind]
    dead_hosts = _hosts_of(session, [row.agent_id for row in stranded])
    moved: set[str] = set()
    for row in stranded:
        resource_id = getattr(row, column.key)
        taken = [host for host in held.get(resource_id, ()) if host]
        target = choose_many(resource_id, alive, 1, taken)
        if not target:
            continue
        was_on = dead_hosts.get(row.agent_id)
        row.agent_id = alive[target[0]]
        held[resource_id] = (*held.get(resource_id, ()), target[0])  # a second dead slot picks another agent
        log_move(session, kind, resource_id, was_on)
        moved.add(resource_id)
    return moved


def _short(session: Session, kind: str, wanted: int) -> list[str]:
    """The placed resources of ``kind`` with fewer than ``wanted`` binding rows: every router but HA ones
    without one; networks with a DHCP subnet."""
    return sorted(session.scalars(_short_stmt(kind, wanted)))


@lru_cache(maxsize=8)
def _short_stmt(kind: str, wanted: int) -> Select[Any]:
    """The statement of :func:`_short`, built once per kind and slot count: every heartbeat runs it (33
    reports/s at 1,000 agents), and building it cost more than running it on an idle cloud."""
    model, column = BINDINGS[kind]
    resource = Router.id if kind == ROUTER else Subnet.network_id
    if wanted == 1:  # the common case: an indexed anti-join
        short = select(resource).where(~exists().where(column == resource))
    else:
        held = select(func.count()).select_from(model).where(column == resource).scalar_subquery()
        short = select(resource).where(held < wanted)
    if kind == ROUTER:
        short = short.where(Router.ha.is_(False))  # HA routers are placed as replicas (router_ha_replicas)
    if kind == DHCP:
        short = short.where(Subnet.enable_dhcp.is_(True)).distinct()
    return short


def _stranded(session: Session, kind: str, agent_type: str, cutoff: datetime) -> list[Any]:
    """The binding rows of ``kind`` held by agents of ``agent_type`` with no heartbeat since ``cutoff``."""
    return list(session.scalars(_stranded_stmt(kind), {"agent_type": agent_type, "cutoff": cutoff}))


@lru_cache(maxsize=4)
def _stranded_stmt(kind: str) -> Select[Any]:
    """The statement of :func:`_stranded`, built once per kind (run on every heartbeat when failover is on)."""
    model, _column = BINDINGS[kind]
    dead = (Agent.heartbeat_timestamp.is_(None)) | (Agent.heartbeat_timestamp <= bindparam("cutoff"))
    of_type = Agent.agent_type == bindparam("agent_type")
    return select(model).join(Agent, Agent.id == model.agent_id).where(of_type, dead)


def alive_agents(session: Session, agent_type: str, cutoff: datetime) -> dict[str, str]:
    """Host -> agent id of the enabled agents of ``agent_type`` that reported since ``cutoff``."""
    rows = session.execute(
        select(Agent.host, Agent.id).where(
            Agent.agent_type == agent_type, Agent.admin_state_up.is_(True), Agent.heartbeat_timestamp > cutoff
        )
    )
    return {host: agent_id for host, agent_id in rows}


def _hosts_of(session: Session, agent_ids: list[str | None]) -> dict[str | None, str]:
    """Agent id -> its host, for the agents in ``agent_ids``."""
    wanted = sorted({agent_id for agent_id in agent_ids if agent_id})
    if not wanted:
        return {}
    rows = session.execute(select(Agent.id, Agent.host).where(Agent.id.in_(wanted)))
    return {agent_id: host for agent_id, host in rows}


def _log_binding(session: Session, kind: str, resource_id: str) -> None:
    """Tell the host a new binding names (see "Binding" in the module docstring); for a router, also the
    carriers of its vxlan networks, which flood to its host."""
    if kind == ROUTER:
        changes.placed(session, "router", resource_id, resource_id, None)
        tunnelled = tunnel_peers.vxlan_networks_of(session, resource_id)
        changes.fanned_out(session, "router", resource_id, "update", tunnelled)
    else:
        changes.placed(session, "network", resource_id, None, resource_id)


def log_move(session: Session, kind: str, resource_id: str, was_on: str | None) -> None:
    """Log the change of a router (``kind`` ROUTER) or a network's DHCP server that moved from host
    ``was_on``: that host's agent is told too, finds it absent and tears it down; the new host's builds it."""
    resource: Any = session.get(Router if kind == ROUTER else Network, resource_id)
    if resource is None:
        return
    if kind == ROUTER:
        changes.updated(session, "router", resource, router_id=resource_id, hosts=[was_on])
        tunnelled = tunnel_peers.vxlan_networks_of(session, resource_id)  # their carriers flood to its new host
        changes.fanned_out(session, "router", resource_id, "update", tunnelled)
    else:
        changes.updated(session, "network", resource, network_id=resource_id, hosts=[was_on])
