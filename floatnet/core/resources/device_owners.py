"""A port's device (``device_owner``/``device_id``): who may name one, and when a service port may be deleted.

Neutron's three guards, which together keep projects from forging ports that look like another project's
router ports and from leaving undeletable ports behind:

* ``create_port:device_owner``/``update_port:device_owner`` (policy, checked by :mod:`floatnet.core.resources.ports`
  on a target that carries the *new* owner): a ``network:*`` owner is for admins and members of the network's
  project only — on somebody else's shared network it is a 403.
* :func:`check_device_id`: a non-admin's router-interface port may not name another project's router as its
  ``device_id`` (409 ``DeviceIDNotOwnedByTenant``, Neutron's
  ``_enforce_device_owner_not_router_intf_or_device_id``).
* :func:`check_deletable`: a router or floating IP port is deleted through its router or floating IP (409
  ``ServicePortInUse``) — but only while that router or floating IP exists, so a port left behind by a deleted
  device can always be deleted (Neutron's ``prevent_l3_port_deletion``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from floatnet.core.context import RequestContext
from floatnet.core.errors import DeviceIDNotOwnedByTenant, ServicePortInUse
from floatnet.db.models import FloatingIP, Port, Router

ROUTER_INTERFACE = "network:router_interface"
HA_REPLICATED_INTERFACE = "network:ha_router_replicated_interface"  # an HA router's interface (Neutron's owner)
ROUTER_GATEWAY = "network:router_gateway"
FLOATINGIP = "network:floatingip"
ROUTER_INTERFACE_OWNERS = (
    ROUTER_INTERFACE,
    HA_REPLICATED_INTERFACE,
    "network:router_interface_distributed",
)
L3_OWNERS = (*ROUTER_INTERFACE_OWNERS, ROUTER_GATEWAY, FLOATINGIP)


def interface_owner(router: Router) -> str:
    """The ``device_owner`` of ``router``'s interface ports: Neutron's ``network:ha_router_replicated_interface``
    on an HA router (every replica wires the same port), else ``network:router_interface``."""
    return HA_REPLICATED_INTERFACE if router.ha else ROUTER_INTERFACE


def policy_target(port_project: str, network: Any, device_owner: str | None, shared: bool) -> dict[str, Any]:
    """The target of the ``<verb>_port[:<attribute>]`` rules: the port's project, its network's project and
    whether it is shared with the caller (``shared``, read by ``rule:shared``), and the device owner the port
    will have (``rule:network_device``).

    Every value is text (``"True"``/``"False"`` for sharing, which ``field:`` checks read as such), so the
    policy engine can cache its decisions on this target: this is the port-create hot path."""
    return {
        "project_id": port_project,
        "network_project_id": network.project_id,
        "network:shared": str(shared),
        "device_owner": device_owner or "",
    }


def check_device_id(
    session: Session, ctx: RequestContext, port_project: str, owner: str | None, device_id: str | None
) -> None:
    """409 ``DeviceIDNotOwnedByTenant`` when a non-admin's router-interface port names a router of another
    project (a router that does not exist is not checked, as in Neutron)."""
    if ctx.is_admin or owner not in ROUTER_INTERFACE_OWNERS or not device_id:
        return
    router_project = session.scalar(select(Router.project_id).where(Router.id == device_id))
    if router_project is not None and router_project != port_project:
        raise DeviceIDNotOwnedByTenant(device_id=device_id)


def _device_exists(session: Session, ctx: RequestContext, port: Port) -> bool:
    """Whether the router (any project's) or the floating IP (one ``ctx`` may see) named by the port exists."""
    if not port.device_id:
        return False
    if port.device_owner == FLOATINGIP:
        fip_project = session.scalar(select(FloatingIP.project_id).where(FloatingIP.id == port.device_id))
        return fip_project is not None and ctx.owns(fip_project)
    return session.scalar(select(Router.id).where(Router.id == port.device_id)) is not None


def check_deletable(session: Session, ctx: RequestContext, port: Port) -> None:
    """409 ``ServicePortInUse`` for a router or floating IP port whose router or floating IP still exists."""
    if port.device_owner in L3_OWNERS and _device_exists(session, ctx, port):
        raise ServicePortInUse(port_id=port.id, reason=f"has device owner {port.device_owner}")
