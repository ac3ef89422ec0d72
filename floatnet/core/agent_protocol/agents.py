"""Agents: registration and heartbeat (floatnet's private call) and Neutron's ``agents`` resource.

One floatnet agent process reports one row per role it plays (``L3 agent``, ``Open vSwitch agent``,
``DHCP agent``) so ``openstack network agent list`` reads like Neutron's. A report creates or refreshes the
rows of ``(host, agent_type)`` and stamps ``heartbeat_timestamp``. A node sends all its rows in one request
(``{"agents": [...]}``) written in one transaction, placement settling included: at a thousand
nodes heartbeats are the server's steadiest load, and three requests and three write transactions per
report (the single ``{"agent": {...}}`` form, kept for older agents) cost three times as much. ``alive`` is
a heartbeat younger than ``agent_down_time`` (3 × the configured report interval). Agents are an admin-only
resource, as in Neutron (rules ``get_agent``, ``update_agent``, ``delete_agent``): a caller refused
``get_agent`` sees an empty list and 404s; one who may see agents but not change them gets a 403.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from floatnet.core.access import policy
from floatnet.core.agent_protocol import placement
from floatnet.core.agent_protocol.scheduling import down_time, is_alive
from floatnet.core.context import RequestContext
from floatnet.core.errors import AgentNotFound, BadRequest, HTTPMethodNotAllowed, PolicyNotAuthorized
from floatnet.core.listing import ListQuery, Page, apply
from floatnet.core.service import Core
from floatnet.core.validation import Attr, any_dict, string, to_bool, validate
from floatnet.db.models import Agent, new_id, utcnow

DhcpMoved = Callable[[Session, set[str]], object]

AGENT_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
TOPICS = {"L3 agent": "l3_agent", "DHCP agent": "dhcp_agent", "Open vSwitch agent": "N/A"}

REPORT_SPEC: dict[str, Attr] = {
    "host": Attr(string(255), required=True),
    "agent_type": Attr(string(255), required=True),
    "binary": Attr(string(255), default="floatnet-agent"),
    "topic": Attr(string(255)),
    "configurations": Attr(any_dict, default=dict),
    "availability_zone": Attr(string(255)),
    "description": Attr(string(255)),
    "start_flag": Attr(to_bool, default=False),
}
MAX_REPORTED = 16  # rows one report may carry: one per role, with room for roles to come
UPDATE_SPEC: dict[str, Attr] = {
    "admin_state_up": Attr(to_bool),
    "description": Attr(string(255)),
}

# A node's rows, built once: every heartbeat reads them (33 reports/s at 1,000 agents).
_HOST_ROWS = select(Agent).where(
    Agent.host == bindparam("host"), Agent.agent_type.in_(bindparam("types", expanding=True))
)


def render(row: Any, dead_after: float) -> dict[str, Any]:
    """An agent as Neutron's ``GET /v2.0/agents`` shows it."""
    return {
        "id": row.id,
        "agent_type": row.agent_type,
        "binary": row.binary,
        "topic": row.topic,
        "host": row.host,
        "admin_state_up": row.admin_state_up,
        "alive": is_alive(row.heartbeat_timestamp, dead_after),
        "heartbeat_timestamp": row.heartbeat_timestamp.strftime(AGENT_TIME_FORMAT),
        "started_at": row.started_at.strftime(AGENT_TIME_FORMAT),
        "created_at": row.created_at.strftime(AGENT_TIME_FORMAT),
        "configurations": row.configurations or {},
        "availability_zone": row.availability_zone,
        "description": row.description,
        "resources_synced": None,
    }


def _require_admin(ctx: RequestContext, action: str) -> None:
    if not ctx.is_admin:
        raise PolicyNotAuthorized(action=action)


def _refresh(session: Session, reports: list[dict[str, Any]]) -> list[Agent]:
    """Create or refresh the rows of one host's ``reports`` (validated, distinct agent types): one query reads
    the existing rows, one flush writes them all."""
    now = utcnow()
    host = reports[0]["host"]
    found = session.scalars(_HOST_ROWS, {"host": host, "types": [attrs["agent_type"] for attrs in reports]})
    existing = {row.agent_type: row for row in found}
    rows = []
    for attrs in reports:
        row = existing.get(attrs["agent_type"])
        if row is None:
            row = Agent(id=new_id(), host=host, agent_type=attrs["agent_type"], created_at=now, started_at=now)
            row.topic = TOPICS.get(attrs["agent_type"], "N/A")
            session.add(row)
        elif attrs["start_flag"]:
            row.started_at = now
        row.heartbeat_timestamp = now
        row.binary = attrs["binary"]
        row.configurations = attrs["configurations"]
        for optional in ("topic", "availability_zone", "description"):
            if optional in attrs:
                setattr(row, optional, attrs[optional])
        rows.append(row)
    session.flush()
    return rows


def parse_reports(bodies: list[Any]) -> list[dict[str, Any]]:
    """Validate the rows of one report: 1 … ``MAX_REPORTED`` agent objects of one host, each agent type once
    (400 naming the attribute otherwise)."""
    if not bodies or len(bodies) > MAX_REPORTED:
        raise BadRequest(resource="agent", msg=f"agents must list 1 to {MAX_REPORTED} agents")
    reports = []
    for body in bodies:
        if not isinstance(body, dict):
            raise BadRequest(resource="agent", msg="agents must list objects")
        attrs = validate("agent", REPORT_SPEC, body, creating=True)
        if not attrs["host"] or not attrs["agent_type"]:
            raise BadRequest(resource="agent", msg="host and agent_type must not be empty")
        reports.append(attrs)
    if len({attrs["host"] for attrs in reports}) > 1:
        raise BadRequest(resource="agent", msg="the agents of one report must have the same host")
    if len({attrs["agent_type"] for attrs in reports}) < len(reports):
        raise BadRequest(resource="agent", msg="agent_type must be unique within one report")
    return reports


class AgentService:
    """Agent reports and the Neutron ``agents`` resource (list/show/update/delete)."""

    def __init__(self, core: Core) -> None:
        self.core = core

    def report(
        self, ctx: RequestContext, bodies: list[Any], dhcp_moved: DhcpMoved | None = None
    ) -> list[dict[str, Any]]:
        """One node's report (see :func:`parse_reports`): its rows refreshed and placement settled in one write
        transaction; the rows as ``GET /v2.0/agents/{id}`` shows them, in the order given. ``dhcp_moved`` is
        called, in that transaction, with the networks whose DHCP bindings the settling changed (their DHCP
        ports follow: :func:`floatnet.core.resources.dhcp_port.sync_networks`, a layer above)."""
        _require_admin(ctx, "report_agent")
        reports = parse_reports(bodies)
        core, dead_after = self.core, down_time(self.core.config)

        def work(session: Session) -> list[dict[str, Any]]:
            rows = _refresh(session, reports)
            moved = placement.settle(session, core.config, dead_after)
            if moved and dhcp_moved is not None:
                dhcp_moved(session, moved)
            return [render(row, dead_after) for row in rows]

        return core.db.run(work)

    def list(self, ctx: RequestContext, query: ListQuery) -> Page:
        if not policy.allowed(ctx, "get_agent", {}):
            return Page([])
        rows = self.core.db.run(lambda s: s.execute(select(Agent.__table__)).all(), write=False)
        return apply([render(row, down_time(self.core.config)) for row in rows], query)

    def _get(self, session: Session, ctx: RequestContext, agent_id: str, action: str = "get_agent") -> Agent:
        """The agent if ``ctx`` may see it (404 otherwise) and may do ``action`` on it (403 otherwise)."""
        row = session.get(Agent, agent_id)
        if row is None or not policy.allowed(ctx, "get_agent", {}):
            raise AgentNotFound(id=agent_id)
        policy.check(ctx, action, {})
        return row

    def show(self, ctx: RequestContext, resource_id: str) -> dict[str, Any]:
        row = self.core.db.run(lambda s: self._get(s, ctx, resource_id), write=False)
        return render(row, down_time(self.core.config))

    def create(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        raise HTTPMethodNotAllowed()

    def update(
        self, ctx: RequestContext, resource_id: str, body: dict[str, Any], revision: int | None
    ) -> dict[str, Any]:
        attrs = validate("agent", UPDATE_SPEC, body, creating=False)

        def work(session: Session) -> Agent:
            row = self._get(session, ctx, resource_id, "update_agent")
            for key, value in attrs.items():
                setattr(row, key, value)
            session.flush()
            return row

        return render(self.core.db.run(work), down_time(self.core.config))

    def delete(self, ctx: RequestContext, resource_id: str) -> None:
        def work(session: Session) -> None:
            session.delete(self._get(session, ctx, resource_id, "delete_agent"))

        self.core.db.run(work)
