"""Status reported back by agents: ports, floating IPs and routers become ACTIVE, DOWN or ERROR; the replicas
of HA routers on the reporting host are ``active`` or ``standby`` (``ha_states``: VRRP, l3-ha's ``ha_state``);
an ``active`` replica's host becomes the ``binding:host_id`` of its router's ports (:mod:`.ha_binding`); a DHCP
agent names the ports whose address its dnsmasq now serves (``dhcp_ready``), lifting their provisioning blocks
(:mod:`.provisioning`: a port waiting for DHCP stays ``DOWN`` after its agent's ``ACTIVE`` until then).

Only a status that actually changes is written, and it is logged as a change with ``op: "status"`` (agents
ignore those rows, other watchers may not). A status change does not bump ``revision_number``: it is the
dataplane's observation, not a change of the desired state, and bumping it would make clients holding an
``If-Match`` revision fail for no reason of theirs. Unknown ids are ignored (the resource may have just been
deleted while the agent was wiring it).

Lock order (PostgreSQL): a report updates its rows in id order (two reports never wait for each other in a
cycle) and takes the change log's lock only at its commit (:func:`.feed.logged`), so it never holds a row
while waiting for an API write that holds the log's lock and wants the same row.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from floatnet.config import Config
from floatnet.core.agent_protocol import changes, ha_binding, provisioning
from floatnet.core.agent_protocol.scheduling import L3_AGENT
from floatnet.core.errors import HTTPBadRequest
from floatnet.db.models import Agent, FloatingIP, HARouterAgentPortBinding, Port, Router, table_of

STATUSES = ("ACTIVE", "DOWN", "ERROR")
HA_STATES, HA_KEY = ("active", "standby"), "ha_states"
READY_KEY = "dhcp_ready"
KINDS: dict[str, tuple[str, Any]] = {
    "ports": ("port", Port),
    "floatingips": ("floatingip", FloatingIP),
    "routers": ("router", Router),
}


def parse(body: Any) -> dict[str, Any]:
    """Validate a status body: ``{"ports"|"floatingips"|"routers": {id: status}, "ha_states": {router id:
    active|standby}, "dhcp_ready": [port id, …]}`` (400 naming the key otherwise)."""
    if not isinstance(body, dict):
        raise HTTPBadRequest(msg="status body must be an object")
    unknown = sorted(set(body) - set(KINDS) - {HA_KEY, READY_KEY})
    if unknown:
        raise HTTPBadRequest(msg=f"Unrecognized attribute(s) '{', '.join(unknown)}'")
    result: dict[str, Any] = {}
    for key, statuses in body.items():
        if key == READY_KEY:
            if not isinstance(statuses, list) or not all(isinstance(i, str) for i in statuses):
                raise HTTPBadRequest(msg=f"'{key}' must be a list of port ids")
            result[key] = sorted(set(statuses))
            continue
        if not isinstance(statuses, dict):
            raise HTTPBadRequest(msg=f"'{key}' must map ids to a status")
        allowed = HA_STATES if key == HA_KEY else STATUSES
        for resource_id, value in statuses.items():
            if value not in allowed:
                raise HTTPBadRequest(msg=f"Invalid status '{value}' for {resource_id}: expected one of {allowed}")
        result[key] = {str(k): str(v) for k, v in statuses.items()}
    return result


def _scope(kind: str, row: Any) -> dict[str, str | None]:
    if kind == "floatingip":
        return {"router_id": row.router_id}
    return {"router_id": row.id}


SCOPE_COLUMNS: dict[str, list[Any]] = {
    "floatingip": [FloatingIP.router_id],
    "router": [],
}

# Built once per kind: every state fetch that wires something new is followed by a status report (ports go
# through their provisioning blocks: :func:`.provisioning.report_ports`).
WRITTEN = [kind for kind in KINDS.values() if kind[0] != "port"]
_READ = {
    kind: select(model.id, model.status, *SCOPE_COLUMNS[kind]).where(model.id.in_(bindparam("ids", expanding=True)))
    for kind, model in WRITTEN
}
_WRITE = {
    kind: update(table_of(model)).where(table_of(model).c.id == bindparam("row_id")).values(
        status=bindparam("new_status")
    )
    for kind, model in WRITTEN
}


def apply(session: Session, reported: dict[str, Any], host: str, config: Config) -> dict[str, int]:
    """Write the statuses that changed (``host``: the reporting agent's, whose HA replicas ``ha_states`` are and
    whose served ports ``dhcp_ready`` are); returns how many of each kind changed (``dhcp_ready``: how many
    DHCP blocks were lifted)."""
    counts: dict[str, int] = {}
    if "ports" in reported or READY_KEY in reported:
        ready = reported.get(READY_KEY, [])
        changed, lifted = provisioning.report_ports(session, config, host, reported.get("ports", {}), ready)
        counts.update({"ports": changed} if "ports" in reported else {})
        counts.update({READY_KEY: lifted} if READY_KEY in reported else {})
    for key, statuses in reported.items():
        if key == HA_KEY:
            counts[key] = ha_states(session, host, statuses, config)
        elif key in KINDS and key != "ports":
            counts[key] = _write(session, key, statuses)
    return counts


def _write(session: Session, key: str, statuses: dict[str, str]) -> int:
    """The floating IPs' or routers' statuses that changed, written in id order and logged."""
    kind, _ = KINDS[key]
    if not statuses:
        return 0
    rows = session.execute(_READ[kind], {"ids": list(statuses)}).all()
    changed = sorted((row for row in rows if row.status != statuses[row.id]), key=lambda row: row.id)
    for row in changed:
        session.execute(_WRITE[kind], {"row_id": row.id, "new_status": statuses[row.id]})
        scope = _scope(kind, row)
        changes.record(session, kind, row.id, "status", scope.get("router_id"), scope.get("network_id"))
    return len(changed)


def ha_states(session: Session, host: str, states: dict[str, str], config: Config) -> int:
    """Store the VRRP states the L3 agent on ``host`` reports for its replicas (router id -> active/standby);
    routers without a replica there are ignored. Read back by ``GET /routers/{id}/l3-agents`` (no change-log
    row: no agent acts on another's VRRP state); the routers active here get their ports bound to ``host``
    (:func:`.ha_binding.follow_active`). How many states changed."""
    if not states:
        return 0
    rows = session.scalars(
        select(HARouterAgentPortBinding)
        .join(Agent, Agent.id == HARouterAgentPortBinding.l3_agent_id)
        .where(Agent.host == host, Agent.agent_type == L3_AGENT, HARouterAgentPortBinding.router_id.in_(list(states)))
    )
    changed, active = 0, []
    for binding in rows:
        if binding.state != states[binding.router_id]:
            binding.state = states[binding.router_id]
            changed += 1
        if binding.state == "active":
            active.append(binding.router_id)
    ha_binding.follow_active(session, config, host, active)
    return changed
