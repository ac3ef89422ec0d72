"""Fetching rows the caller may see: the one place project scoping of networks, subnets and ports lives.

A non-admin sees their own resources, plus the networks an RBAC row shares with their project or everyone
(``access_as_shared``) or makes external for it (``access_as_external``), and the subnets of networks shared
with them (Neutron's ``get_subnet`` rule: the subnet's project or ``rule:shared``; an external network's subnets
stay hidden from other projects); anything else is reported as not found (404), exactly as if it did not exist.
The rows are read by :mod:`floatnet.core.access.sharing`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, bindparam, or_, select, true
from sqlalchemy.orm import Session

from floatnet.core.access import policy, sharing
from floatnet.core.context import RequestContext
from floatnet.core.errors import NetworkNotFound, PolicyNotAuthorized, PortNotFound, SubnetNotFound
from floatnet.db.models import Network, Port, Subnet, table_of

NETWORKS = table_of(Network)
NETWORK_BY_ID = select(NETWORKS).where(NETWORKS.c.id == bindparam("id"))
NETWORK_FOR_UPDATE = NETWORK_BY_ID.with_for_update()
PORTS = table_of(Port)
PORT_WITH_NETWORK_OWNER = (
    select(PORTS.c.id, PORTS.c.project_id, PORTS.c.network_id, PORTS.c.device_owner)
    .add_columns(NETWORKS.c.project_id.label("network_project_id"))
    .join(NETWORKS, NETWORKS.c.id == PORTS.c.network_id)
    .where(PORTS.c.id == bindparam("id"))
)


def network_visible_clause(ctx: RequestContext) -> ColumnElement[bool]:
    """SQL condition: networks ``ctx`` may see."""
    return sharing.visible_clause(ctx, "network", Network)


def network_visible(session: Session, ctx: RequestContext, network: Any) -> bool:
    """Whether ``ctx`` may see ``network`` (a Network or a row of the networks table)."""
    return network.shared or sharing.may_see(session, ctx, "network", network)


def subnet_visible_clause(ctx: RequestContext) -> ColumnElement[bool]:
    """SQL condition: subnets ``ctx`` may see (its own, and those of networks shared with its project)."""
    if ctx.is_admin:
        return true()
    shared = sharing.granted_ids("network", ctx.project_id, (sharing.SHARED,))
    return or_(Subnet.project_id == ctx.project_id, Subnet.network_id.in_(shared))


def get_network(session: Session, ctx: RequestContext, network_id: str, lock: bool = False) -> Network:
    """The network, if ``ctx`` may see it (404 otherwise). ``lock`` takes the row lock (PostgreSQL)."""
    network = session.get(Network, network_id, with_for_update=lock or None)
    if network is None or not network_visible(session, ctx, network):
        raise NetworkNotFound(net_id=network_id)
    return network


def network_row(session: Session, ctx: RequestContext, network_id: str, lock: bool = False) -> Any:
    """Like :func:`get_network` but a read-only Core row (cheaper: no ORM identity map or flush)."""
    stmt = NETWORK_FOR_UPDATE if lock else NETWORK_BY_ID
    row = session.connection().execute(stmt, {"id": network_id}).first()
    if row is None or not network_visible(session, ctx, row):
        raise NetworkNotFound(net_id=network_id)
    return row


def get_subnet(session: Session, ctx: RequestContext, subnet_id: str, lock: bool = False) -> Subnet:
    """The subnet, if ``ctx`` owns it or its network is shared with ``ctx``'s project (404 otherwise)."""
    subnet = session.get(Subnet, subnet_id, with_for_update=lock or None)
    if subnet is None:
        raise SubnetNotFound(subnet_id=subnet_id)
    if not ctx.owns(subnet.project_id) and not shared_with(session, ctx, subnet.network_id):
        raise SubnetNotFound(subnet_id=subnet_id)
    return subnet


def network_shared(session: Session, ctx: RequestContext, network: Any) -> bool:
    """Neutron's ``shared`` of ``network`` for ``ctx`` (what ``rule:shared`` reads): shared with everyone or
    with ``ctx``'s project. The network's owner (and an admin) is answered from the column, without a query."""
    return bool(network.shared) or (not ctx.owns(network.project_id) and shared_with(session, ctx, network.id))


def shared_with(session: Session, ctx: RequestContext, network_id: str) -> bool:
    """Whether network ``network_id`` is shared (``access_as_shared``) with ``ctx``'s project or everyone."""
    return sharing.is_granted(session, ctx, "network", network_id, (sharing.SHARED,))


def get_port(session: Session, ctx: RequestContext, port_id: str) -> Port:
    """The port, if ``ctx`` owns it or owns its network (404 otherwise)."""
    port = session.get(Port, port_id)
    if port is None:
        raise PortNotFound(port_id=port_id)
    if not ctx.owns(port.project_id):
        network = session.get(Network, port.network_id)
        if network is None or network.project_id != ctx.project_id:
            raise PortNotFound(port_id=port_id)
    return port


def port_row(session: Session, ctx: RequestContext, port_id: str) -> Any:
    """Like :func:`get_port` but one read-only Core row (``id``, ``project_id``, ``network_id``,
    ``device_owner``, ``network_project_id``): one query, no ORM identity map, for hot paths that only read."""
    row = session.connection().execute(PORT_WITH_NETWORK_OWNER, {"id": port_id}).first()
    if row is None or not (ctx.owns(row.project_id) or row.network_project_id == ctx.project_id):
        raise PortNotFound(port_id=port_id)
    return row


def require_owner(ctx: RequestContext, action: str, row: Any) -> None:
    """A visible resource the caller does not own may not be changed (403, as Neutron's policy answers); the
    owner must also pass ``action``'s rule on it (a ``reader`` changes nothing; operators may override)."""
    target = {"project_id": row.project_id, "network_project_id": row.project_id}
    if not ctx.owns(row.project_id) or not policy.allowed(ctx, action, target):
        raise PolicyNotAuthorized(action=action)
