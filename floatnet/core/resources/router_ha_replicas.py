"""The replicas of HA routers (``ha_router_agent_port_bindings``): where each runs, their placement and the VRRP
state their agents report. The HA network, VRRP ids and conversions are :mod:`floatnet.core.resources.router_ha`.

* An HA router runs on up to ``[DEFAULT] max_l3_agents_per_router`` alive, enabled L3 agents (0: all), each
  replica with its own HA port (``network:router_ha_interface``, of no project, bound to the agent's host).
  Agents are ranked per router by a stable hash of (router, host) (rendezvous hashing), so an agent joining or
  leaving does not reshuffle the other routers' replicas.
* :func:`settle` runs after every agent report (as :func:`placement.settle` runs within it): it adds replicas
  while a router has fewer than it should and more agents are alive — Neutron's auto-scheduling. A replica
  whose agent dies stays (keepalived moves the addresses, not the scheduler); one whose agent row is deleted
  loses its agent (``SET NULL``) and is placed again.
* ``ha_state`` is what the agent last reported (``standby`` until then); reads apply Neutron's rule for dead
  agents (:func:`shown_states`).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from floatnet.config import Config
from floatnet.core.agent_protocol import changes, placement
from floatnet.core.agent_protocol.scheduling import L3_AGENT, down_time, is_alive
from floatnet.core.resources.ports import create_port, delete_port_in
from floatnet.core.service import Core
from floatnet.db.models import Agent, HARouterAgentPortBinding, HARouterNetwork, Network, Port, Router, utcnow

HA_INTERFACE = "network:router_ha_interface"
ACTIVE, STANDBY, UNKNOWN = "active", "standby", "unknown"
PORT_NAME = "HA port project %s"


def drop_replica(session: Session, binding: HARouterAgentPortBinding) -> None:
    port = session.get(Port, binding.port_id)
    session.delete(binding)
    session.flush()
    if port is not None:
        delete_port_in(session, port)


def alive(session: Session, config: Config) -> dict[str, str]:
    """Host -> id of the alive, enabled L3 agents."""
    return placement.alive_agents(session, L3_AGENT, utcnow() - timedelta(seconds=down_time(config)))


def ranked(router_id: str, hosts: list[str]) -> list[str]:
    """``hosts`` in the router's own stable order (rendezvous hashing): the first N are its replicas, and a
    host joining or leaving moves only the routers it ranks for."""
    return sorted(hosts, key=lambda host: hashlib.sha256(f"{router_id}/{host}".encode()).digest())


def target(config: Config, alive: int) -> int:
    """How many replicas an HA router should have with ``alive`` agents (``max_l3_agents_per_router``, 0: all)."""
    limit = config.max_l3_agents_per_router
    return alive if limit == 0 else min(limit, alive)


def place(session: Session, core: Core, router: Router, network: Any, alive: dict[str, str]) -> int:
    """Add replicas of ``router`` on alive agents without one, up to :func:`target`; how many were added."""
    bindings = list(
        session.scalars(select(HARouterAgentPortBinding).where(HARouterAgentPortBinding.router_id == router.id))
    )
    for orphan in [b for b in bindings if b.l3_agent_id is None]:
        drop_replica(session, orphan)
    hosting = {b.l3_agent_id for b in bindings if b.l3_agent_id is not None}
    missing = target(core.config, len(alive)) - len(hosting)
    chosen = [host for host in ranked(router.id, list(alive)) if alive[host] not in hosting][: max(missing, 0)]
    for host in chosen:
        _create_replica(session, core, router, network, host, alive[host])
    session.flush()
    return len(chosen)


def _create_replica(session: Session, core: Core, router: Router, network: Any, host: str, agent_id: str) -> None:
    """One replica: its HA port (an address on the HA subnet, bound to ``host``) and its binding row."""
    attrs = {"name": PORT_NAME % router.project_id, "device_owner": HA_INTERFACE, "device_id": router.id,
             "binding:host_id": host, "admin_state_up": True}  # fmt: skip
    values, _ips, _tags = create_port(session, core, "", attrs, network)
    session.add(
        HARouterAgentPortBinding(port_id=values["id"], router_id=router.id, l3_agent_id=agent_id, state=STANDBY)
    )


def _network_of(session: Session, router: Router) -> Network:
    network_id = session.scalar(
        select(HARouterNetwork.network_id).where(HARouterNetwork.project_id == router.project_id)
    )
    return session.get_one(Network, network_id)


def add_on(session: Session, core: Core, router: Router, agent: Agent) -> None:
    """The operator's ``POST /agents/{id}/l3-routers`` for an HA router: one more replica, on ``agent`` (nothing
    when it has one there already), even past ``max_l3_agents_per_router`` — as Neutron's manual scheduling."""
    held = select(HARouterAgentPortBinding.port_id).where(
        HARouterAgentPortBinding.router_id == router.id, HARouterAgentPortBinding.l3_agent_id == agent.id
    )
    if session.scalar(held) is not None:
        return
    _create_replica(session, core, router, _network_of(session, router), agent.host, agent.id)
    session.flush()
    changes.record(session, "router", router.id, "update", router.id, None)


def remove_from(session: Session, router_id: str, agent_id: str) -> bool:
    """The operator's ``DELETE /agents/{id}/l3-routers/{router}`` for an HA router: drop the replica on that
    agent; False when it has none there."""
    binding = session.scalar(
        select(HARouterAgentPortBinding).where(
            HARouterAgentPortBinding.router_id == router_id, HARouterAgentPortBinding.l3_agent_id == agent_id
        )
    )
    if binding is None:
        return False
    drop_replica(session, binding)
    changes.record(session, "router", router_id, "update", router_id, None)
    return True


def settle(core: Core) -> int:
    """Add replicas to the HA routers that have fewer than they should (see the module docstring); how many.

    Runs after every agent report: one read answers the common case (no HA router wants a replica), so a
    heartbeat stays one write; the write transaction runs only when some router wants one."""
    if not core.db.run(lambda session: _wanting(session, core.config)[0], write=False):
        return 0
    return core.db.run(lambda session: _settle(session, core))


def _wanting(session: Session, config: Config) -> tuple[dict[str, int], dict[str, str]]:
    """The HA routers with fewer replicas than :func:`target` (router id -> its replica count) and the alive
    agents; one grouped query when every HA router has ``max_l3_agents_per_router`` (agents are read only
    when some router has fewer)."""
    counts = session.execute(
        select(Router.id, func.count(HARouterAgentPortBinding.l3_agent_id))
        .outerjoin(HARouterAgentPortBinding, HARouterAgentPortBinding.router_id == Router.id)
        .where(Router.ha.is_(True))
        .group_by(Router.id)
    ).all()
    limit = config.max_l3_agents_per_router
    short = {router_id: count for router_id, count in counts if limit == 0 or count < limit}
    if not short:
        return {}, {}
    agents = alive(session, config)
    wanted = target(config, len(agents))
    return {router_id: count for router_id, count in short.items() if count < wanted}, agents


def _settle(session: Session, core: Core) -> int:
    """:func:`settle` in ``session``."""
    wanting, agents = _wanting(session, core.config)
    added = 0
    for router_id in sorted(wanting):
        router = session.get_one(Router, router_id)
        placed = place(session, core, router, _network_of(session, router), agents)
        if placed:  # the new replicas' agents refetch the router (no revision bump: the router did not change)
            changes.record(session, "router", router_id, "update", router_id, None)
        added += placed
    return added


def replicas(session: Session, router_ids: list[str]) -> dict[str, list[tuple[Agent | None, str, str]]]:
    """Per HA router: its replicas as (agent or None, state, HA port id), ordered by host."""
    found: dict[str, list[tuple[Agent | None, str, str]]] = defaultdict(list)
    rows = session.execute(
        select(HARouterAgentPortBinding, Agent)
        .outerjoin(Agent, Agent.id == HARouterAgentPortBinding.l3_agent_id)
        .where(HARouterAgentPortBinding.router_id.in_(router_ids))
    ).all()
    for binding, agent in sorted(rows, key=lambda row: (row[1].host if row[1] else "", row[0].port_id)):
        found[binding.router_id].append((agent, binding.state, binding.port_id))
    return found


def shown_states(replicas_of: list[tuple[Agent | None, str, str]], dead_after: float) -> list[str]:
    """The ``ha_state`` each replica shows (Neutron's rule for dead agents, computed on read): a replica
    reported ``active`` whose agent is dead or disabled shows ``standby`` while another replica's agent is
    alive — someone else takes over — and ``unknown`` when every replica's agent is dead."""

    def up(agent: Agent | None) -> bool:
        return agent is not None and agent.admin_state_up and is_alive(agent.heartbeat_timestamp, dead_after)

    any_up = any(up(agent) for agent, _state, _port in replicas_of)
    shown = []
    for agent, state, _port in replicas_of:
        if state == ACTIVE and not up(agent):
            state = STANDBY if any_up else UNKNOWN
        shown.append(state)
    return shown
