"""Port forwardings of floating IPs (Neutron's ``floating-ip-port-forwarding`` and its ``-description``,
``-port-ranges`` extensions): one public address shared between instances by port.

``/v2.0/floatingips/{fip}/port_forwardings[/{id}]``. A forwarding sends ``protocol`` (tcp | udp) traffic to
the floating IP's external port(s) to ``internal_ip_address`` (an IPv4 fixed IP of ``internal_port_id``) on
the internal port(s) (:mod:`floatnet.core.resources.pf_ports`). The rules, as Neutron's:

* the floating IP must not be associated with a port (409 ``FloatingIPPortAlreadyAssociated``) — and an
  associate of a floating IP with forwardings is 409 ``FipInUseByPortForwarding`` (:mod:`.pf_guard`);
* the internal port must not have a floating IP of its own (409 ``PortHasBindingFloatingIP``);
* a router must connect the internal subnet to the floating IP's network (400), the same router for every
  forwarding of one floating IP (400); it becomes the floating IP's ``router_id`` and is cleared with the
  last forwarding;
* external ranges of one floating IP and protocol never overlap, nor internal ranges of one internal address
  and protocol (409 ``PortForwardingCollision``);
* policy: Neutron's ``*_floatingip_port_forwarding`` rules, whose owner is the floating IP's project (the
  ``ext_parent`` of the target); a floating IP the caller cannot see is 404. Neutron has no quota for them.

Every change is logged as an update of the floating IP on its router (the agent's unit of NAT work).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from floatnet.core.access import policy
from floatnet.core.agent_protocol import changes
from floatnet.core.context import RequestContext
from floatnet.core.errors import BadRequest
from floatnet.core.l3_errors import FloatingIPPortAlreadyAssociated
from floatnet.core.listing import ListQuery, Page, apply
from floatnet.core.pf_errors import (
    PortForwardingNotFound,
    PortForwardingNotSupportFilterField,
    PortHasBindingFloatingIP,
)
from floatnet.core.resources import pf_ports
from floatnet.core.resources.fip_association import router_for
from floatnet.core.resources.floatingips import get_fip
from floatnet.core.resources.pf_guard import forwardings_of
from floatnet.core.resources.pf_ports import RESOURCE, Span, port_range
from floatnet.core.resources.scoped_rows import port_row
from floatnet.core.service import Core
from floatnet.core.validation import Attr, choice, ip_address, nullable, project_id, string, to_int, to_uuid, validate
from floatnet.db.models import FloatingIP, IPAllocation, PortForwarding

PROTOCOLS = ("tcp", "udp")
_PORT = nullable(to_int(pf_ports.PORT_MIN, pf_ports.PORT_MAX))
SPEC: dict[str, Attr] = {
    "internal_port_id": Attr(to_uuid, required=True),
    "internal_ip_address": Attr(ip_address, required=True),
    "protocol": Attr(choice(*PROTOCOLS), required=True),
    "external_port": Attr(_PORT),
    "internal_port": Attr(_PORT),
    "external_port_range": Attr(nullable(port_range)),
    "internal_port_range": Attr(nullable(port_range)),
    "description": Attr(string(255), default=""),
    "project_id": Attr(project_id, put=False),
    "tenant_id": Attr(project_id, put=False),
}
NOT_FILTERABLE = ("internal_ip_address", "internal_port")  # Neutron's FIELDS_NOT_SUPPORT_FILTER


def render(pf: PortForwarding) -> dict[str, Any]:
    """A forwarding as Neutron shows it."""
    return {
        "id": pf.id,
        "internal_port_id": pf.internal_port_id,
        "internal_ip_address": pf.internal_ip_address,
        "protocol": pf.protocol,
        **pf_ports.rendered(_external(pf), _internal(pf)),
        "description": pf.description,
    }


def _external(pf: PortForwarding) -> Span:
    return Span(pf.external_port_start, pf.external_port_end)


def _internal(pf: PortForwarding) -> Span:
    return Span(pf.internal_port_start, pf.internal_port_end)


def _target(fip: FloatingIP) -> dict[str, Any]:
    """The policy target: the parent floating IP's owner (Neutron's ``ext_parent``)."""
    return {"project_id": fip.project_id, "ext_parent:tenant_id": fip.project_id,
            "ext_parent:project_id": fip.project_id}  # fmt: skip


def _same_target(session: Session, pf: PortForwarding, attrs: dict[str, Any]) -> list[PortForwarding]:
    """The other forwardings to the same internal address and protocol (any floating IP)."""
    query = select(PortForwarding).where(
        PortForwarding.internal_port_id == attrs["internal_port_id"],
        PortForwarding.internal_ip_address == attrs["internal_ip_address"],
        PortForwarding.protocol == pf.protocol,
    )
    return [other for other in session.scalars(query) if other.id != pf.id]


def _bad(msg: str) -> BadRequest:
    return BadRequest(resource=RESOURCE, msg=msg)


class PortForwardingService:
    """The ``port_forwardings`` sub-resource of floating IPs."""

    def __init__(self, core: Core) -> None:
        self.core = core

    def _parent(self, session: Session, ctx: RequestContext, fip_id: str, action: str) -> FloatingIP:
        """The floating IP (404 if the caller cannot see it), after ``action``'s policy check (403)."""
        fip = get_fip(session, ctx, fip_id)
        policy.check(ctx, action, _target(fip))
        return fip

    def _get(self, session: Session, fip_id: str, pf_id: str) -> PortForwarding:
        pf = session.get(PortForwarding, pf_id)
        if pf is None or pf.floatingip_id != fip_id:
            raise PortForwardingNotFound(id=pf_id)
        return pf

    def list(self, ctx: RequestContext, fip_id: str, query: ListQuery) -> Page:
        unsupported = next((key for key in query.filters if key in NOT_FILTERABLE), None)
        if unsupported is not None:
            raise PortForwardingNotSupportFilterField(filter=unsupported)

        def work(session: Session) -> list[dict[str, Any]]:
            self._parent(session, ctx, fip_id, "get_floatingip_port_forwarding")
            return [render(pf) for pf in forwardings_of(session, fip_id)]

        return apply(self.core.db.run(work, write=False), query)

    def show(self, ctx: RequestContext, fip_id: str, pf_id: str) -> dict[str, Any]:
        def work(session: Session) -> dict[str, Any]:
            self._parent(session, ctx, fip_id, "get_floatingip_port_forwarding")
            return render(self._get(session, fip_id, pf_id))

        return self.core.db.run(work, write=False)

    def create(self, ctx: RequestContext, fip_id: str, body: dict[str, Any]) -> dict[str, Any]:
        attrs = validate(RESOURCE, SPEC, body, creating=True)
        external, internal = pf_ports.span(attrs, "external"), pf_ports.span(attrs, "internal")
        if external is None or internal is None:
            missing = "external_port" if external is None else "internal_port"
            raise _bad(f"{missing} or {missing}_range is required")
        pf_ports.check_relation(external, internal)

        def work(session: Session) -> dict[str, Any]:
            fip = self._parent(session, ctx, fip_id, "create_floatingip_port_forwarding")
            pf = PortForwarding(floatingip_id=fip.id, description=attrs["description"], protocol=attrs["protocol"])
            self._place(session, ctx, fip, pf, attrs, external, internal)
            session.add(pf)
            session.flush()
            changes.updated(session, "floatingip", fip, router_id=fip.router_id)
            return render(pf)

        return self.core.db.run(work)

    def update(self, ctx: RequestContext, fip_id: str, pf_id: str, body: dict[str, Any]) -> dict[str, Any]:
        attrs = validate(RESOURCE, SPEC, body, creating=False)

        def work(session: Session) -> dict[str, Any]:
            fip = self._parent(session, ctx, fip_id, "update_floatingip_port_forwarding")
            pf = self._get(session, fip_id, pf_id)
            external = pf_ports.span(attrs, "external", _external(pf))
            internal = pf_ports.span(attrs, "internal", _internal(pf))
            assert external is not None and internal is not None  # a stored forwarding has both
            pf_ports.check_relation(external, internal)
            pf.description = attrs.get("description", pf.description)
            pf.protocol = attrs.get("protocol", pf.protocol)
            merged = {"internal_port_id": pf.internal_port_id, "internal_ip_address": pf.internal_ip_address, **attrs}
            self._place(session, ctx, fip, pf, merged, external, internal)
            changes.updated(session, "floatingip", fip, router_id=fip.router_id)
            return render(pf)

        return self.core.db.run(work)

    def delete(self, ctx: RequestContext, fip_id: str, pf_id: str) -> None:
        def work(session: Session) -> None:
            fip = self._parent(session, ctx, fip_id, "delete_floatingip_port_forwarding")
            pf = self._get(session, fip_id, pf_id)
            router_id = fip.router_id
            session.execute(delete(PortForwarding).where(PortForwarding.id == pf.id))
            if not forwardings_of(session, fip.id):
                fip.router_id = None  # the last one gone: the floating IP is free again, as in Neutron
            changes.updated(session, "floatingip", fip, router_id=fip.router_id, moved_from=router_id)

        self.core.db.run(work)

    def _place(self, session: Session, ctx: RequestContext, fip: FloatingIP, pf: PortForwarding,
               attrs: dict[str, Any], external: Span, internal: Span) -> None:  # fmt: skip
        """Check the target and the ports of ``pf`` (new or changed) and write them into it."""
        if fip.fixed_port_id:
            raise FloatingIPPortAlreadyAssociated(
                floating_ip_address=fip.floating_ip_address, fip_id=fip.id, port_id=attrs["internal_port_id"],
                fixed_ip=attrs["internal_ip_address"], net_id=fip.floating_network_id,
            )  # fmt: skip
        router_id = self._router(session, ctx, fip, attrs["internal_port_id"], attrs["internal_ip_address"])
        others = [other for other in forwardings_of(session, fip.id) if other.id != pf.id]
        same_protocol = [other for other in others if other.protocol == pf.protocol]
        pf_ports.check_collisions(external, map(_external, same_protocol), "external_port_range")
        same_target = _same_target(session, pf, attrs)
        pf_ports.check_collisions(internal, map(_internal, same_target), "internal_port_range")
        pf.internal_port_id, pf.internal_ip_address = attrs["internal_port_id"], attrs["internal_ip_address"]
        pf.external_port_start, pf.external_port_end = external.start, external.end
        pf.internal_port_start, pf.internal_port_end = internal.start, internal.end
        fip.router_id = router_id

    def _router(self, session: Session, ctx: RequestContext, fip: FloatingIP, port_id: str, address: str) -> str:
        """The router between the internal address and the floating IP's network (400s as Neutron's)."""
        port = port_row(session, ctx, port_id)
        holder = session.scalar(select(FloatingIP).where(FloatingIP.fixed_port_id == port.id))
        if holder is not None:
            raise PortHasBindingFloatingIP(floating_ip_address=holder.floating_ip_address, fip_id=holder.id,
                                           port_id=port.id, fixed_ip=address)  # fmt: skip
        ips = session.execute(select(IPAllocation.ip_address, IPAllocation.subnet_id)
                              .where(IPAllocation.port_id == port.id)).all()  # fmt: skip
        subnet = next((s for ip, s in ips if ip == address and ipaddress.ip_address(ip).version == 4), None)
        if subnet is None:
            v4 = sorted(ip for ip, _ in ips if ipaddress.ip_address(ip).version == 4)
            raise _bad(f"Requested internal IP address {address} is not suitable for internal neutron port "
                       f"{port.id}, as its fixed IPv4 addresses are {v4}")  # fmt: skip
        router_id = router_for(session, subnet, fip.floating_network_id)
        if router_id is None:
            raise _bad(f"External network {fip.floating_network_id} is not reachable from subnet {subnet}. Cannot "
                       f"set Port forwarding for port {port.id} with Floating IP {fip.id}")  # fmt: skip
        if fip.router_id and fip.router_id != router_id:
            raise _bad(f"The Floating IP {fip.id} had been set on router {fip.router_id}, the internal Neutron "
                       f"port {port.id} can not reach it")  # fmt: skip
        return router_id
