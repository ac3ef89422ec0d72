"""Where a floating IP points (:class:`Target`), the columns that say so, and what a port's deletion does to
the floating IPs pointing at it.

:func:`release_port` is called by :func:`floatnet.core.resources.ports.delete_port_in` directly (this module
imports no resource module but :mod:`.pf_guard`, which imports none that imports ports, so ports can):
deleting a port first disassociates the floating IPs mapped to it and deletes the port forwardings to it, in
the same transaction, as Neutron does — whatever else was imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from floatnet.core.agent_protocol import changes
from floatnet.core.resources import pf_guard
from floatnet.db.models import FloatingIP, Port


@dataclass(frozen=True)
class Target:
    """Where a floating IP points: the port, its fixed IP and the router joining them (all None = nowhere)."""

    port_id: str | None = None
    fixed_ip_address: str | None = None
    router_id: str | None = None


NOWHERE = Target()


def pointing(target: Target) -> dict[str, Any]:
    """The column values that make a floating IP point at ``target`` (status back to DOWN until the agent)."""
    return {
        "fixed_port_id": target.port_id,
        "fixed_ip_address": target.fixed_ip_address,
        "router_id": target.router_id,
        "status": "DOWN",
    }


def release_port(session: Session, port: Port) -> None:
    """Disassociate every floating IP mapped to ``port`` (it is being deleted), and delete the port
    forwardings to it."""
    pf_guard.release_port(session, port.id)
    rows = session.execute(select(FloatingIP.id, FloatingIP.router_id).where(FloatingIP.fixed_port_id == port.id)).all()
    for fip_id, router_id in rows:
        changes.updated_where(session, "floatingip", FloatingIP, fip_id, pointing(NOWHERE), router_id=router_id)
    if rows:
        session.flush()
