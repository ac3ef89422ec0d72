"""What floating IPs must know of their port forwardings, without depending on the forwarding service: a
floating IP with forwardings cannot be associated with a port (Neutron's ``FipInUseByPortForwarding``), and
it shows them (``expose-port-forwarding-in-fip``: :func:`summaries`); a port being deleted takes its
forwardings with it (:func:`release_port`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from floatnet.core.agent_protocol import changes
from floatnet.core.pf_errors import FipInUseByPortForwarding
from floatnet.core.resources.pf_ports import Span, rendered
from floatnet.db.models import FloatingIP, PortForwarding


def forwardings_of(session: Session, fip_id: str) -> list[PortForwarding]:
    """The floating IP's forwardings (ORM objects, in the session)."""
    return list(session.scalars(select(PortForwarding).where(PortForwarding.floatingip_id == fip_id)))


def check_free_fip(session: Session, fip_id: str) -> None:
    """409 ``FipInUseByPortForwarding`` if the floating IP has forwardings (it cannot then be associated)."""
    count = select(func.count()).select_from(PortForwarding).where(PortForwarding.floatingip_id == fip_id)
    if session.scalar(count):
        raise FipInUseByPortForwarding(id=fip_id)


SUMMARY_KEYS = ("id", "internal_ip_address", "protocol", "internal_port", "external_port", "internal_port_id")


def summaries(session: Session, fip_ids: Select[Any]) -> dict[str, list[dict[str, Any]]]:
    """``{floating IP id: [forwarding summary]}`` for the floating IPs ``fip_ids`` selects, in one query (the
    attributes Neutron lists under a floating IP's ``port_forwardings``)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for pf in session.scalars(select(PortForwarding).where(PortForwarding.floatingip_id.in_(fip_ids))):
        ports = rendered(Span(pf.external_port_start, pf.external_port_end),
                         Span(pf.internal_port_start, pf.internal_port_end))  # fmt: skip
        full = {"id": pf.id, "internal_ip_address": pf.internal_ip_address, "protocol": pf.protocol,
                "internal_port_id": pf.internal_port_id, **ports}  # fmt: skip
        found.setdefault(pf.floatingip_id, []).append({key: full[key] for key in SUMMARY_KEYS})
    return found


def release_port(session: Session, port_id: str) -> None:
    """Delete the forwardings to ``port_id`` (it is being deleted, as Neutron does); a floating IP left without
    forwardings leaves its router, and every floating IP concerned is logged for its router's agent."""
    to_port = PortForwarding.internal_port_id == port_id
    fip_ids = set(session.scalars(select(PortForwarding.floatingip_id).where(to_port)))
    if not fip_ids:
        return
    session.execute(delete(PortForwarding).where(to_port))
    for fip in session.scalars(select(FloatingIP).where(FloatingIP.id.in_(fip_ids))):
        router_id = fip.router_id
        if not forwardings_of(session, fip.id):
            fip.router_id = None
        changes.updated(session, "floatingip", fip, router_id=fip.router_id, moved_from=router_id)
    session.flush()
