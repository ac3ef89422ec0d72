"""Availability zones (``availability_zone``, ``network_availability_zone``; ``GET /v2.0/availability_zones``).

As Neutron's agent-based zones (``neutron/db/agents_db.py``): a zone exists for a resource type when an agent
reports it — a DHCP agent's zone is a ``network`` zone, an L3 agent's a ``router`` zone (each floatnet agent
reports ``[agent] availability_zone``, ``nova`` by default). A zone is ``available`` when one of its agents is
administratively up. A network's ``availability_zone_hints`` must name ``network`` zones
(``AvailabilityZoneNotFound``, 404) and fit Neutron's 255 characters once joined; its
``availability_zones`` are the zones of the DHCP agent hosting it (see
:mod:`floatnet.core.resources.agent_scheduler`). Visible to every caller (``get_availability_zone``:
``rule:regular_user``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from floatnet.config import Config
from floatnet.core.access import policy
from floatnet.core.agent_protocol import scheduling
from floatnet.core.agent_protocol.agents import down_time
from floatnet.core.context import RequestContext
from floatnet.core.errors import InvalidInput, NotFound
from floatnet.core.listing import ListQuery, Page, apply
from floatnet.core.service import Core
from floatnet.db.models import Agent

RESOURCES = {scheduling.DHCP_AGENT: "network", scheduling.L3_AGENT: "router"}
HINTS_MAX = 255  # neutron-lib's AZ_HINTS_DB_LEN: the hints joined by commas


class AvailabilityZoneNotFound(NotFound):
    message_template = "AvailabilityZone %(availability_zone)s could not be found."


def hint_list(value: Any) -> list[str]:
    """neutron-lib's ``type:availability_zone_hint_list`` for networks and routers: unique strings whose
    comma-joined text fits 255 characters (else ``InvalidInput``, as Neutron); whether the zones exist is
    :func:`check_hints`' question (it needs the database)."""
    hints = [] if value is None else value
    if not isinstance(hints, list) or not all(isinstance(hint, str) for hint in hints):
        raise ValueError(f"'{value}' is not a list of strings")
    if len(set(hints)) != len(hints):
        raise ValueError(f"Duplicate items in the list: '{', '.join(hints)}'")
    if len(",".join(hints)) > HINTS_MAX:
        raise InvalidInput(error_message="Too many availability_zone_hints specified")
    return hints


def zones(session: Session) -> dict[tuple[str, str], bool]:
    """``(zone, resource)`` → whether an agent of it is administratively up."""
    found: dict[tuple[str, str], bool] = {}
    rows = session.execute(select(Agent.availability_zone, Agent.agent_type, Agent.admin_state_up))
    for zone, agent_type, up in rows:
        if zone and agent_type in RESOURCES:
            key = (zone, RESOURCES[agent_type])
            found[key] = found.get(key, False) or bool(up)
    return found


def check_hints(session: Session, resource: str, hints: list[str]) -> None:
    """404 ``AvailabilityZoneNotFound`` for a zone no agent of ``resource`` reports."""
    known = {zone for zone, kind in zones(session) if kind == resource}
    for hint in hints:
        if hint not in known:
            raise AvailabilityZoneNotFound(availability_zone=hint)


def fill_zones(session: Session, config: Config, kind: str, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Set ``availability_zones`` of rendered networks (``kind`` :data:`scheduling.DHCP`: the zone of the DHCP
    agent hosting each; none for a network without DHCP) or routers (:data:`scheduling.ROUTER`: the zone of
    the L3 agent hosting each, the zones of its replicas' agents for an HA router): a few small queries, none
    per resource."""
    if not bodies:
        return bodies
    placement = scheduling.candidates(session, down_time(config), "", per_network=config.dhcp_agents_per_network)
    agent_type = scheduling.DHCP_AGENT if kind == scheduling.DHCP else scheduling.L3_AGENT
    agents = select(Agent.host, Agent.availability_zone).where(Agent.agent_type == agent_type)
    zone_of = {host: zone for host, zone in session.execute(agents)}
    hosted = scheduling.dhcp_networks(session) if kind == scheduling.DHCP else {body["id"] for body in bodies}
    for body in bodies:
        hosts = placement.hosts_of(kind, body["id"]) if body["id"] in hosted else []
        body["availability_zones"] = sorted({zone for zone in map(zone_of.get, hosts) if zone})
    return bodies


class AvailabilityZoneService:
    """The ``availability_zones`` collection (list only)."""

    def __init__(self, core: Core) -> None:
        self.core = core

    def list(self, ctx: RequestContext, query: ListQuery) -> Page:
        """The zones, filtered and paged; none for a caller an operator's policy refuses
        ``get_availability_zone``."""
        if not policy.allowed(ctx, "get_availability_zone", {}):
            return Page([])
        found = self.core.db.run(zones, write=False)
        items = [
            {"name": zone, "resource": resource, "state": "available" if up else "unavailable"}
            for (zone, resource), up in sorted(found.items())
        ]
        return apply(items, query)
