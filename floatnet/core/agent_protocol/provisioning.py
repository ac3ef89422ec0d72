"""Provisioning blocks (Neutron's ``provisioning_blocks``): an instance port goes ``ACTIVE`` only once every entity
that must act on it has reported it done — its agent's wiring (``l2``) and, when a DHCP server is to answer it,
that server's confirmation that it now serves the port's address (``dhcp``).

Why: the instance boots when its port is ``ACTIVE`` (Nova waits for ``network-vif-plugged``). Without the
``dhcp`` block the compute node's report alone made the port ``ACTIVE`` while the network node's dnsmasq had not
yet learnt the host, and the instance's first DHCPDISCOVER went unanswered (a second one a second later).

- A ``dhcp`` block is added when an instance port (owner empty or ``compute:*``) is created, or its MAC or fixed
  IPs change, with an address on a DHCP-enabled subnet of a network that a *live* DHCP agent hosts (none alive:
  nothing would ever clear it, as Neutron). With it comes an ``l2`` block unless the agent's wiring is known to
  be done (the port is ``ACTIVE``, or only ``dhcp`` blocks it). A write that no longer needs DHCP lifts it.
- The agent's ``ACTIVE`` report lifts ``l2``; a ``DOWN``/``ERROR`` report of a blocked port puts it back
  (the wiring is gone again). A DHCP agent hosting the port's network lifts ``dhcp`` (``dhcp_ready``; any one of
  them with ``dhcp_agents_per_network`` > 1).
- Lifting the last block makes the port ``ACTIVE`` (Neutron's ``provisioning_complete``); a port without blocks
  takes the status its agent reports, as before. Rows go with their port (``ON DELETE CASCADE``).

Lock order (PostgreSQL): a status report handles its ports in id order (a port's row, when its status changes,
before its blocks); an API write locks its one port's row before that port's blocks (:func:`port_written`); the
change log's lock is taken only at commit. No two of them wait for each other in a cycle.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from floatnet.config import Config
from floatnet.core.agent_protocol import changes
from floatnet.core.agent_protocol.scheduling import (
    DHCP,
    DHCP_AGENT,
    Candidates,
    alive_hosts,
    bindings_of,
    down_time,
    is_alive,
)
from floatnet.db.models import Agent, IPAllocation, Port, ProvisioningBlock, Subnet, table_of

L2, DHCP_ENTITY = "l2", "dhcp"
ACTIVE, DOWN = "ACTIVE", "DOWN"
Blocks = frozenset[str]
NONE: Blocks = frozenset()


# -- the rules (pure) ----------------------------------------------------------------------------------------


def instance_owner(device_owner: str) -> bool:
    """Whether a port is an instance's (owner empty or ``compute:*``): only those wait for DHCP; the
    service ports (``network:*``) are the DHCP server's, the router's, … themselves."""
    return device_owner == "" or device_owner.startswith("compute:")


def on_write(status: str, blocks: Blocks, needs_dhcp: bool) -> tuple[str, Blocks]:
    """A port created or its MAC/fixed IPs changed: ``dhcp`` blocks it if it needs DHCP (with ``l2`` unless its
    wiring is known done: ``ACTIVE``, or only ``dhcp`` was blocking it); else ``dhcp`` is lifted. Returns the
    status it now holds and its blocks."""
    if needs_dhcp:
        wired = status == ACTIVE or blocks == {DHCP_ENTITY}
        return status, blocks | ({DHCP_ENTITY} if wired else {DHCP_ENTITY, L2})
    return on_dhcp_ready(status, blocks)


def on_l2(status: str, blocks: Blocks, reported: str) -> tuple[str, Blocks]:
    """The port's agent reports ``reported``: an unblocked port takes it; a blocked one reported ``ACTIVE``
    loses ``l2`` and goes ``ACTIVE`` if nothing else blocks it (else stays ``ACTIVE`` if it was, or ``DOWN``);
    reported ``DOWN``/``ERROR`` it takes that status and is blocked by ``l2`` again."""
    if not blocks:
        return reported, blocks
    if reported != ACTIVE:
        return reported, blocks | {L2}
    left = blocks - {L2}
    return (ACTIVE if not left or status == ACTIVE else DOWN), left


def on_dhcp_ready(status: str, blocks: Blocks) -> tuple[str, Blocks]:
    """A DHCP server serves the port (or it no longer needs one): ``dhcp`` is lifted; the port goes ``ACTIVE``
    when that was its last block."""
    left = blocks - {DHCP_ENTITY}
    return (ACTIVE if blocks and not left else status), left


# -- the database ----------------------------------------------------------------------------------------------

_BLOCKS = select(ProvisioningBlock.port_id, ProvisioningBlock.entity).where(
    ProvisioningBlock.port_id.in_(bindparam("ids", expanding=True))
)
_PORTS = select(Port.id, Port.status, Port.network_id).where(Port.id.in_(bindparam("ids", expanding=True)))
_WRITE_STATUS = update(table_of(Port)).where(table_of(Port).c.id == bindparam("row_id")).values(
    status=bindparam("new_status")
)


def blocks_of(session: Session, port_ids: Collection[str]) -> dict[str, Blocks]:
    """The blocks of each of ``port_ids`` that has any (one query on the primary key)."""
    found: dict[str, set[str]] = {}
    if port_ids:
        for port_id, entity in session.execute(_BLOCKS, {"ids": list(port_ids)}):
            found.setdefault(port_id, set()).add(entity)
    return {port_id: frozenset(entities) for port_id, entities in found.items()}


def _store(session: Session, port_id: str, before: Blocks, after: Blocks) -> None:
    gone, new = sorted(before - after), sorted(after - before)
    if gone:
        table = table_of(ProvisioningBlock)
        session.execute(delete(table).where(table.c.port_id == port_id, table.c.entity.in_(gone)))
    if new:  # an API write and an agent's DOWN may add the same l2 block at once: the second is a no-op
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(table_of(ProvisioningBlock)).on_conflict_do_nothing()
        session.execute(stmt, [{"port_id": port_id, "entity": e} for e in new])


def dhcp_hosts(session: Session, config: Config, network_ids: Iterable[str]) -> dict[str, list[str]]:
    """Network id -> the hosts serving its DHCP (bound, else the scheduler's computed choice): the placement
    every state answer uses (:meth:`.scheduling.Candidates.hosts_of`), reading only these networks' bindings."""
    placed = Candidates(
        per_network=config.dhcp_agents_per_network,
        load=lambda: alive_hosts(session, down_time(config), ""),
        fetch=lambda kind, ids: bindings_of(session, kind, ids),
    )
    wanted = sorted(set(network_ids))
    placed.prefetch(DHCP, wanted)
    return {network_id: placed.hosts_of(DHCP, network_id) for network_id in wanted}


def served_by_live_agent(session: Session, config: Config, network_id: str) -> bool:
    """Whether a DHCP agent that is alive serves ``network_id`` (only such an agent will ever lift a block)."""
    hosts = dhcp_hosts(session, config, [network_id])[network_id]
    if not hosts:
        return False
    stmt = select(Agent.heartbeat_timestamp).where(Agent.agent_type == DHCP_AGENT, Agent.host.in_(hosts))
    return any(is_alive(beat, down_time(config)) for beat in session.scalars(stmt))


def _dhcp_addressed(session: Session, port_id: str) -> bool:
    stmt = (
        select(IPAllocation.port_id)
        .join(Subnet, Subnet.id == IPAllocation.subnet_id)
        .where(IPAllocation.port_id == port_id, Subnet.enable_dhcp.is_(True))
        .limit(1)
    )
    return session.scalar(stmt) is not None


def port_written(session: Session, config: Config, port: Mapping[str, Any], created: bool = False) -> None:
    """After a port was created (``created``) or its MAC/fixed IPs changed: add or lift its blocks
    (:func:`on_write`); a port whose lifted ``dhcp`` block was its last goes ``ACTIVE`` (written and logged as a
    status change). ``port``: its ``id``, ``network_id``, ``device_owner`` and ``status`` as written (its row is
    already inserted or updated: locked before its blocks)."""
    if not instance_owner(port["device_owner"]):
        return
    before = NONE if created else blocks_of(session, [port["id"]]).get(port["id"], NONE)
    needs = _dhcp_addressed(session, port["id"]) and served_by_live_agent(session, config, port["network_id"])
    if not needs and not before:
        return
    status, after = on_write(port["status"], before, needs)
    _store(session, port["id"], before, after)
    if status != port["status"]:
        _set_status(session, port["id"], port["network_id"], status)


def _set_status(session: Session, port_id: str, network_id: str, status: str) -> None:
    session.execute(_WRITE_STATUS, {"row_id": port_id, "new_status": status})
    changes.record(session, "port", port_id, "status", None, network_id)


def report_ports(
    session: Session, config: Config, host: str, statuses: Mapping[str, str], ready: Collection[str]
) -> tuple[int, int]:
    """Apply an agent's port statuses and its ``dhcp_ready`` ports (those whose network ``host`` serves DHCP
    for; others are ignored, as are unknown ids), in port id order. Returns how many ports changed status and
    how many ``dhcp`` blocks were lifted."""
    ids = sorted(set(statuses) | set(ready))
    if not ids:
        return 0, 0
    rows = sorted(session.execute(_PORTS, {"ids": ids}).all(), key=lambda row: row.id)
    blocks = blocks_of(session, ids)
    wanted = {row.network_id for row in rows if row.id in ready}
    serving = {net for net, hosts in dhcp_hosts(session, config, wanted).items() if host in hosts}
    changed = lifted = 0
    for row in rows:
        status, before = row.status, blocks.get(row.id, NONE)
        after = before
        if row.id in statuses:
            status, after = on_l2(status, after, statuses[row.id])
        if row.id in ready and row.network_id in serving:
            lifted += DHCP_ENTITY in after
            status, after = on_dhcp_ready(status, after)
        if status != row.status:
            _set_status(session, row.id, row.network_id, status)
            changed += 1
        _store(session, row.id, before, after)
    return changed, lifted
