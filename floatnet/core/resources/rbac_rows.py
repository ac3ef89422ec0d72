"""Writing RBAC rows and Neutron's checks on them: what the ``rbac_policies`` resource and the ``shared`` /
``router:external`` attributes of networks, address scopes and subnet pools share.

* :func:`add` / :func:`remove` write one row and keep the object's mirror columns in step (``shared`` is
  "a ``*`` ``access_as_shared`` row exists", a network's ``external`` is "an ``access_as_external`` row
  exists" — :mod:`floatnet.core.access.sharing`); they bump nothing, the caller logs its change once.
* :func:`in_use` is Neutron's check before a project loses access (``ensure_no_project_ports_on_network``,
  ``_validate_ext_not_in_use_by_project``, ``RbacNeutronDbObjectMixin._validate_rbac_policy_delete``): the
  projects that use the object through the row being removed must keep another way in.
* :func:`forget` drops an object's rows when the object is deleted (no foreign key can name three tables).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, delete, select
from sqlalchemy.orm import Session

from floatnet.core.access.sharing import EXTERNAL, SHARED, WILDCARD
from floatnet.core.rbac_errors import DuplicateRbacPolicy
from floatnet.core.resources.device_owners import FLOATINGIP, ROUTER_GATEWAY
from floatnet.db.models import Port, RbacPolicy, Router, Subnet, SubnetPool, new_id


def rows(session: Session, kind: str, object_id: str, action: str) -> list[RbacPolicy]:
    """The rows of ``action`` on object ``object_id`` of ``kind``."""
    stmt = select(RbacPolicy).where(
        RbacPolicy.object_type == kind, RbacPolicy.object_id == object_id, RbacPolicy.action == action
    )
    return list(session.scalars(stmt))


def _sync(session: Session, kind: str, obj: Any) -> None:
    """Set ``obj``'s mirror columns from its rows."""
    session.flush()
    obj.shared = any(row.target_project == WILDCARD for row in rows(session, kind, obj.id, SHARED))
    if kind == "network":
        obj.external = bool(rows(session, kind, obj.id, EXTERNAL))


def add(session: Session, kind: str, obj: Any, action: str, target: str, project: str) -> RbacPolicy:
    """Grant ``target`` ``action`` on ``obj`` (a row of ``project``); 409 ``DuplicateRbacPolicy`` if granted."""
    if any(row.target_project == target for row in rows(session, kind, obj.id, action)):
        raise DuplicateRbacPolicy()
    row = RbacPolicy(
        id=new_id(), project_id=project, object_type=kind, object_id=obj.id, action=action, target_project=target
    )
    session.add(row)
    _sync(session, kind, obj)
    return row


def retarget(session: Session, kind: str, obj: Any, row: RbacPolicy, target: str) -> None:
    """Move ``row`` (a row on ``obj``) to ``target``, unchecked (callers ask :func:`in_use` first); 409
    ``DuplicateRbacPolicy`` if ``target`` already has that access."""
    if any(other.target_project == target for other in rows(session, kind, obj.id, row.action)):
        raise DuplicateRbacPolicy()
    row.target_project = target
    _sync(session, kind, obj)


def remove(session: Session, kind: str, obj: Any, row: RbacPolicy) -> None:
    """Delete ``row`` (a row on ``obj``), unchecked: callers ask :func:`in_use` first."""
    session.delete(row)
    _sync(session, kind, obj)


def set_wildcard(session: Session, kind: str, obj: Any, action: str, wanted: bool) -> None:
    """Make ``obj``'s ``*`` row of ``action`` exist iff ``wanted`` (``shared: true`` is that row, as in Neutron);
    a new row belongs to the object's project."""
    found = [row for row in rows(session, kind, obj.id, action) if row.target_project == WILDCARD]
    if wanted and not found:
        add(session, kind, obj, action, WILDCARD, obj.project_id)
    elif not wanted and found:
        remove(session, kind, obj, found[0])


def remove_all(session: Session, kind: str, obj: Any, action: str) -> None:
    """Delete every ``action`` row of ``obj`` (``router:external: false`` drops all of them, as Neutron)."""
    for row in rows(session, kind, obj.id, action):
        session.delete(row)
    _sync(session, kind, obj)


def forget(session: Session, kind: str, object_id: str) -> None:
    """Delete every row of a deleted object."""
    session.execute(delete(RbacPolicy).where(RbacPolicy.object_type == kind, RbacPolicy.object_id == object_id))


def _users(kind: str, object_id: str, action: str) -> Select[Any]:
    """SELECT of the projects whose resources depend on access to the object through ``action``: ports on a
    shared network (the network's own service ports aside), routers with a gateway on an external network,
    subnets from a subnet pool, subnet pools in an address scope."""
    if kind == "network" and action == SHARED:
        return select(Port.project_id).where(Port.network_id == object_id, ~Port.device_owner.startswith("network:"))
    if kind == "network":
        gateways = select(Port.id).where(Port.network_id == object_id, Port.device_owner == ROUTER_GATEWAY)
        return select(Router.project_id).where(Router.gw_port_id.in_(gateways))
    if kind == "subnetpool":
        return select(Subnet.project_id).where(Subnet.subnetpool_id == object_id)
    return select(SubnetPool.project_id).where(SubnetPool.address_scope_id == object_id)


def external_users(session: Session, network_id: str) -> bool:
    """Whether router gateways or floating IPs use ``network_id`` (then it must stay external)."""
    stmt = select(Port.id).where(Port.network_id == network_id, Port.device_owner.in_((ROUTER_GATEWAY, FLOATINGIP)))
    return session.execute(stmt.limit(1)).first() is not None


def in_use(session: Session, kind: str, obj: Any, action: str, target: str, keep: str | None = None) -> bool:
    """Whether removing ``target``'s ``action`` access to ``obj`` would strand resources of a project that has
    no other way in (its own project always keeps access). ``keep`` is a target that gains access at the same
    time (an update moving a row from ``target`` to ``keep``)."""
    if target == obj.project_id:
        return False
    others = {row.target_project for row in rows(session, kind, obj.id, action) if row.target_project != target}
    if keep is not None:
        others.add(keep)
    if kind == "network" and action == EXTERNAL and not others:
        return external_users(session, obj.id)  # the last row: the network stops being external
    if target != WILDCARD and WILDCARD in others:
        return False
    users = set(session.scalars(_users(kind, obj.id, action).distinct())) - {obj.project_id}
    stranded = users - others if target == WILDCARD else users & {target}
    return bool(stranded)
