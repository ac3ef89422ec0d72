"""Stable placement: each router and DHCP network is bound to an agent once and moves only when it must.

Neutron stores where every router and DHCP server lives. floatnet used to compute it on every read
(:func:`scheduling.choose` over the alive agents), so one agent joining, dying or reporting late moved most
routers of the cloud at once — every floating IP with them. Now the computed choice is written down:

* **Binding.** Each agent report settles placement in its own transaction (:func:`settle`): whatever has no
  binding row yet (a new router, a network that just got a DHCP subnet) is bound to the agent
  :func:`scheduling.choose` picks among the alive, enabled agents of the kind's type — the host the
  computation shows, so binding normally moves nothing. New resources spread over every alive agent, a
  joining agent included; what is placed stays. The binding is logged as the resource's change for the host
  it binds to: when an agent died or joined between the resource's write and the report that binds it, the
  computation at the write told another host, and the bound one would otherwise build it only at its next
  full resync (one change per resource, once).
* **Failover.** A binding to a dead agent (no heartbeat for ``3 × report_interval``) moves only when
  automatic failover is on for its kind — ``[DEFAULT] allow_automatic_l3agent_failover`` (default false) and
  ``allow_automatic_dhcp_failover`` (default true), Neutron's options and defaults. A moved resource's change
  is logged, so the old host tears it down (when it returns) and the new host builds it. Without failover a
  dead agent keeps its resources: when it comes back it finds them where it left them (no storm of moves).
* **The operator's bindings** (the agent scheduler API, :mod:`floatnet.core.resources.agent_scheduler`) are
  rows like any other: kept, failed over under the same rule; a resource the operator removed from its agent
  (``agent_id`` NULL) stays on none.

Reads never write: until the next report, an unbound resource is placed by the computation
(:meth:`scheduling.Candidates.host_for`), which is exactly what the next report stores.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from floatnet.config import Config
from floatnet.core.agent_protocol import changes, tunnel_peers
from floatnet.core.agent_protocol.scheduling import AGENT_TYPES, BINDINGS, DHCP, ROUTER, choose
from floatnet.db.models import Agent, Network, Router, Subnet, utcnow


def failover_on(config: Config, kind: str) -> bool:
    """Whether bindings of ``kind`` to dead agents move (Neutron's two options)."""
    return config.allow_automatic_l3agent_failover if kind == ROUTER else config.allow_automatic_dhcp_failover


def settle(session: Session, config: Config, dead_after: float) -> int:
    """Bind what is unbound and fail over what must move (see the module docstring); how many rows changed.

    Runs on every heartbeat, so the common case — everything bound, no binding on a dead agent — costs two
    small queries per kind that find nothing; the agents are read only when something must be placed."""
    cutoff = utcnow() - timedelta(seconds=dead_after)
    changed = 0
    for kind, agent_type in AGENT_TYPES.items():
        unbound = _unbound(session, kind)
        stranded = _stranded(session, kind, agent_type, cutoff) if failover_on(config, kind) else []
        if not unbound and not stranded:
            continue
        alive = alive_agents(session, agent_type, cutoff)
        if not alive:
            continue  # nothing to bind to: the computation's fallback keeps a restarting node whole
        model, column = BINDINGS[kind]
        hosts = sorted(alive)
        for resource_id in unbound:
            session.add(model(**{column.key: resource_id, "agent_id": alive[str(choose(resource_id, hosts))]}))
            _log_binding(session, kind, resource_id)
        dead_hosts = _hosts_of(session, [row.agent_id for row in stranded])
        for row in stranded:
            resource_id = getattr(row, column.key)
            was_on = dead_hosts.get(row.agent_id)
            row.agent_id = alive[str(choose(resource_id, hosts))]
            log_move(session, kind, resource_id, was_on)
        session.flush()
        changed += len(unbound) + len(stranded)
    return changed


def _unbound(session: Session, kind: str) -> list[str]:
    """The placed resources of ``kind`` without a binding row: every router but HA ones; networks with a DHCP
    subnet."""
    _model, column = BINDINGS[kind]
    resource = Router.id if kind == ROUTER else Subnet.network_id
    unbound = select(resource).where(~exists().where(column == resource))
    if kind == ROUTER:
        unbound = unbound.where(Router.ha.is_(False))  # HA routers are placed as replicas (router_ha_replicas)
    if kind == DHCP:
        unbound = unbound.where(Subnet.enable_dhcp.is_(True)).distinct()
    return sorted(session.scalars(unbound))


def _stranded(session: Session, kind: str, agent_type: str, cutoff: datetime) -> list[Any]:
    """The binding rows of ``kind`` held by agents of ``agent_type`` with no heartbeat since ``cutoff``."""
    model, _column = BINDINGS[kind]
    dead = (Agent.heartbeat_timestamp.is_(None)) | (Agent.heartbeat_timestamp <= cutoff)
    stmt = select(model).join(Agent, Agent.id == model.agent_id).where(Agent.agent_type == agent_type, dead)
    return list(session.scalars(stmt))


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
