"""RBAC policies (``/v2.0/rbac-policies``; neutron-lib ``rbac-policies``, ``rbac-address-scope``,
``rbac-subnetpool``): share a network, address scope or subnet pool with one project or everyone
(``access_as_shared``), or make a network external for one project or everyone (``access_as_external``).

Neutron's rules (``neutron/db/rbac_db_mixin.py`` and its callbacks):

* A policy belongs to the project that created it; only that project (or an admin) sees and changes it
  (``RbacPolicyNotFound`` 404 otherwise). Only the object's owner or an admin may grant access to it, and a
  missing or invisible object is refused like every failure of Neutron's ``BEFORE_CREATE`` callbacks: 400
  ``InvalidInput`` carrying the object's not-found message (so a policy reveals nothing either).
* ``target_tenant`` (alias ``target_project``) is a project id (UUID-like) or ``*``; ``*`` needs admin by
  policy (``create_rbac_policy:target_tenant``). Actions valid per type (``InvalidActionForType``); the same
  grant twice is ``DuplicateRbacPolicy`` (409).
* Removing access (delete, or an update moving the target) while the losing project still uses the object
  through it is ``RbacPolicyInUse`` (409): see :func:`floatnet.core.resources.rbac_rows.in_use`.
* Each change bumps the object's revision and logs its change (Neutron: ``revises_on_change``).
* A project may create ``[quotas] quota_rbac_policy`` policies (Neutron's 10); the ``*`` rows written for
  ``shared``/``router:external`` count but are not refused, as in Neutron.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from floatnet.core.access import policy, quotas, sharing
from floatnet.core.agent_protocol import changes
from floatnet.core.context import RequestContext
from floatnet.core.errors import HTTPBadRequest, InvalidInput, NetworkNotFound, NotFound
from floatnet.core.listing import ListQuery, Page, apply, sql_filters
from floatnet.core.pool_errors import AddressScopeNotFound, SubnetPoolNotFound
from floatnet.core.rbac_errors import InvalidActionForType, RbacPolicyInUse, RbacPolicyNotFound
from floatnet.core.resources import rbac_rows
from floatnet.core.resources.address_scopes import page_in_sql
from floatnet.core.service import Core, owner_project
from floatnet.core.validation import Attr, project_id, string, to_uuid, validate
from floatnet.db.models import AddressScope, Network, RbacPolicy, SubnetPool

KIND = "rbac_policy"
# object_type -> (model, its not-found error and that error's key, the actions valid on it)
OBJECTS: dict[str, tuple[Any, type[NotFound], str, tuple[str, ...]]] = {
    "network": (Network, NetworkNotFound, "net_id", (sharing.SHARED, sharing.EXTERNAL)),
    "address_scope": (AddressScope, AddressScopeNotFound, "address_scope_id", (sharing.SHARED,)),
    "subnetpool": (SubnetPool, SubnetPoolNotFound, "subnetpool_id", (sharing.SHARED,)),
}
COLUMNS = {
    "id": RbacPolicy.id,
    "project_id": RbacPolicy.project_id,
    "object_type": RbacPolicy.object_type,
    "object_id": RbacPolicy.object_id,
    "action": RbacPolicy.action,
    "target_tenant": RbacPolicy.target_project,
    "target_project": RbacPolicy.target_project,
}
IN_USE_DETAILS = {
    sharing.SHARED: "Projects are using the object through this policy",
    sharing.EXTERNAL: "There are routers attached to this network that depend on this policy for access.",
}


def _object_type(value: Any) -> str:
    """Neutron's ``convert_valid_object_type``: a known type, case and blanks ignored (400 ``InvalidInput``)."""
    normalized = value.strip().lower() if isinstance(value, str) else value
    if normalized not in OBJECTS:
        raise InvalidInput(error_message=f"'{value}' is not a valid RBAC object type")
    return str(normalized)


def _target(value: Any) -> str:
    """Neutron's ``valid_target_project``: ``*`` or a UUID-like project id (400 ``InvalidInput``)."""
    if value == sharing.WILDCARD:
        return value
    if isinstance(value, str):
        try:
            if uuid.UUID(value).hex == value.replace("-", "").lower():
                return value
        except ValueError:
            pass
    raise InvalidInput(error_message=f"'{value}' is not a valid target project ID; expected a UUID or '*'")


SPEC: dict[str, Attr] = {
    "object_type": Attr(_object_type, put=False, required=True),
    "object_id": Attr(to_uuid, put=False, required=True),
    "action": Attr(string(255), put=False, required=True),
    "target_tenant": Attr(_target),
    "target_project": Attr(_target),
    "project_id": Attr(project_id, put=False),
    "tenant_id": Attr(project_id, put=False),
}


def render(row: Any) -> dict[str, Any]:
    """A policy as Neutron shows it (``target_tenant`` and ``tenant_id`` are the old names, still sent)."""
    return {
        "id": row.id,
        "project_id": row.project_id,
        "tenant_id": row.project_id,
        "object_type": row.object_type,
        "object_id": row.object_id,
        "action": row.action,
        "target_tenant": row.target_project,
        "target_project": row.target_project,
    }


def _requested_target(attrs: dict[str, Any], creating: bool) -> str | None:
    """The target of a request (``target_tenant`` or ``target_project``, equal when both are given)."""
    tenant, project = attrs.pop("target_tenant", None), attrs.pop("target_project", None)
    if tenant is not None and project is not None and tenant != project:
        raise HTTPBadRequest(msg="'target_tenant' and 'target_project' do not match")
    target = tenant or project
    if target is None and creating:
        raise HTTPBadRequest(msg="Failed to parse request. Required attribute 'target_tenant' not specified")
    return target


def _owned_object(session: Session, ctx: RequestContext, kind: str, object_id: str) -> Any:
    """The object a policy names, locked, if ``ctx`` may see it and owns it (else 400 ``InvalidInput``, see the
    module docstring)."""
    model, missing, key, _actions = OBJECTS[kind]
    obj = session.get(model, object_id, with_for_update=True)
    if obj is None or not (obj.shared or sharing.may_see(session, ctx, kind, obj)):
        raise InvalidInput(error_message=missing(**{key: object_id}).message)
    if not ctx.owns(obj.project_id):
        noun = "networks" if kind == "network" else "objects"
        raise InvalidInput(error_message=f"Only admins can manipulate policies on {noun} they do not own")
    return obj


def _touch(session: Session, kind: str, obj: Any) -> None:
    """Bump the object whose access changed and log it (a network's agents refetch nothing new, but clients
    following revisions see the change, as in Neutron)."""
    changes.updated(session, kind, obj, network_id=obj.id if kind == "network" else None)


def _get(session: Session, ctx: RequestContext, policy_id: str) -> RbacPolicy:
    """The policy if ``ctx`` may see it: its project's or any (admin); 404 otherwise."""
    row = session.get(RbacPolicy, policy_id)
    if row is None or not ctx.owns(row.project_id):
        raise RbacPolicyNotFound(id=policy_id, object_type="unknown")
    return row


class RbacPolicyService:
    """The ``rbac_policies`` resource."""

    def __init__(self, core: Core) -> None:
        self.core = core

    def _list(self, session: Session, ctx: RequestContext, query: ListQuery) -> list[dict[str, Any]]:
        stmt = select(RbacPolicy.__table__)
        if not ctx.is_admin:
            stmt = stmt.where(RbacPolicy.project_id == ctx.project_id)
        stmt = stmt.where(*sql_filters(query, COLUMNS, exact=True))
        return [render(row) for row in session.execute(page_in_sql(stmt, RbacPolicy.id, query))]

    def list(self, ctx: RequestContext, query: ListQuery) -> Page:
        return apply(self.core.db.run(lambda s: self._list(s, ctx, query), write=False), query)

    def show(self, ctx: RequestContext, resource_id: str) -> dict[str, Any]:
        return self.core.db.run(lambda s: render(_get(s, ctx, resource_id)), write=False)

    def create(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        attrs = validate(KIND, SPEC, body, creating=True)
        target_project = _requested_target(attrs, creating=True)
        project = owner_project(ctx, attrs)
        target = {"project_id": project, "target_tenant": target_project, "target_project": target_project}
        policy.check(ctx, "create_rbac_policy", target)
        policy.check_attributes(ctx, "create", KIND, ["target_tenant", "target_project"], target, target)
        kind, action = attrs["object_type"], attrs["action"]
        valid = OBJECTS[kind][3]
        if action not in valid:
            raise InvalidActionForType(action=action, object_type=kind, valid_actions=valid)

        def work(session: Session) -> dict[str, Any]:
            obj = _owned_object(session, ctx, kind, attrs["object_id"])
            quotas.check(session, self.core.config, ctx, KIND, project_id=project)
            row = rbac_rows.add(session, kind, obj, action, str(target_project), project)
            _touch(session, kind, obj)
            return render(row)

        return self.core.db.run(work)

    def update(
        self, ctx: RequestContext, resource_id: str, body: dict[str, Any], revision: int | None
    ) -> dict[str, Any]:
        attrs = validate(KIND, SPEC, body, creating=False)
        new_target = _requested_target(attrs, creating=False)
        return self.core.db.run(lambda s: self._update(s, ctx, resource_id, new_target))

    def _update(self, session: Session, ctx: RequestContext, policy_id: str, new_target: str | None) -> dict[str, Any]:
        row = _get(session, ctx, policy_id)
        target = {"project_id": row.project_id, "target_tenant": new_target, "target_project": new_target}
        policy.check(ctx, "update_rbac_policy", target)
        if new_target is None or new_target == row.target_project:
            return render(row)
        policy.check_attributes(ctx, "update", KIND, ["target_tenant", "target_project"], target, target)
        kind = row.object_type
        obj = _owned_object(session, ctx, kind, row.object_id)
        if rbac_rows.in_use(session, kind, obj, row.action, row.target_project, keep=new_target):
            raise RbacPolicyInUse(object_id=obj.id, details=IN_USE_DETAILS[row.action])
        rbac_rows.retarget(session, kind, obj, row, new_target)
        _touch(session, kind, obj)
        return render(row)

    def delete(self, ctx: RequestContext, resource_id: str) -> None:
        self.core.db.run(lambda s: self._delete(s, ctx, resource_id))

    def _delete(self, session: Session, ctx: RequestContext, policy_id: str) -> None:
        row = _get(session, ctx, policy_id)
        policy.check(ctx, "delete_rbac_policy", {"project_id": row.project_id})
        kind = row.object_type
        obj: Any = session.get(OBJECTS[kind][0], row.object_id, with_for_update=True)  # its rows go with it
        if rbac_rows.in_use(session, kind, obj, row.action, row.target_project):
            raise RbacPolicyInUse(object_id=obj.id, details=IN_USE_DETAILS[row.action])
        rbac_rows.remove(session, kind, obj, row)
        _touch(session, kind, obj)
