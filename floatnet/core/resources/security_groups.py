"""Security groups (``/v2.0/security-groups``): Neutron's attributes, each project's ``default`` group and
the change-feed rows that wake the hosts a group's change concerns.

Each project gets its ``default`` group on first need (:func:`ensure_default`: listing groups or rules,
creating a group or a port), with Neutron's default rules: egress to anywhere (IPv4 and IPv6) and ingress from
the group's own members (IPv4 and IPv6). The ``default_security_groups`` primary key makes a second default
impossible: concurrent first requests race on it and the loser's transaction is retried, finding the winner's.
A new group of any other name gets the two egress rules. Groups are never shared (RBAC is not implemented:
``shared`` is always false).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import String, bindparam, delete, insert, select
from sqlalchemy.orm import Session

from floatnet.core.access import policy, quotas
from floatnet.core.agent_protocol import changes
from floatnet.core.context import RequestContext
from floatnet.core.listing import ListQuery, Page, apply, sql_filters
from floatnet.core.resources import security_group_rendering as rendering
from floatnet.core.resources import tags
from floatnet.core.service import Core, check_revision, owner_project
from floatnet.core.sg_errors import (
    SecurityGroupCannotRemoveDefault,
    SecurityGroupCannotUpdateDefault,
    SecurityGroupDefaultAlreadyExists,
    SecurityGroupInUse,
    SecurityGroupNotFound,
)
from floatnet.core.validation import Attr, list_of, project_id, string, to_bool, validate
from floatnet.db.models import (
    DefaultSecurityGroup,
    Port,
    SecurityGroup,
    SecurityGroupPortBinding,
    SecurityGroupRule,
    Tag,
    new_id,
    table_of,
    utcnow,
)

DEFAULTS = table_of(DefaultSecurityGroup)
DEFAULT_OF = select(DEFAULTS.c.security_group_id).where(DEFAULTS.c.project_id == bindparam("project"))
BINDINGS = table_of(SecurityGroupPortBinding)
INSERT_BINDING = insert(BINDINGS)
# a new port bound to its project's default group, naming the group, in one statement (built once: every
# port create without ``security_groups`` runs it)
BIND_DEFAULT = (
    insert(BINDINGS)
    .from_select(["security_group_id", "port_id"], DEFAULT_OF.add_columns(bindparam("port", type_=String)))
    .returning(BINDINGS.c.security_group_id)
)
DEFAULT_NAME = "default"
DEFAULT_DESCRIPTION = "Default security group"
EGRESS_RULES = ({"direction": "egress", "ethertype": "IPv4"}, {"direction": "egress", "ethertype": "IPv6"})
INGRESS_FROM_SELF = ({"direction": "ingress", "ethertype": "IPv4"}, {"direction": "ingress", "ethertype": "IPv6"})


def name_not_default(value: Any) -> str:
    """Neutron's ``type:name_not_default``: a name of at most 255 characters other than ``default`` (409)."""
    text = string(255)(value)
    if text.lower() == DEFAULT_NAME:
        raise SecurityGroupDefaultAlreadyExists()
    return text


SPEC: dict[str, Attr] = {
    "name": Attr(name_not_default, default=""),
    "description": Attr(string(255), default=""),
    "stateful": Attr(to_bool, default=True),
    "project_id": Attr(project_id, put=False),
    "tenant_id": Attr(project_id, put=False),
    "tags": Attr(list_of(string(60)), put=False),
}
COLUMNS = {"id", "name", "project_id", "description"}


def get_group(session: Session, ctx: RequestContext, group_id: str) -> SecurityGroup:
    """The group if ``ctx`` may see it (its project's, or any for an admin); 404 otherwise."""
    group = session.get(SecurityGroup, group_id)
    if group is None or not ctx.owns(group.project_id):
        raise SecurityGroupNotFound(id=group_id)
    return group


def _add_rules(session: Session, group: SecurityGroup, templates: Iterable[dict[str, Any]], remote: bool) -> None:
    now = utcnow()
    for template in templates:
        session.add(
            SecurityGroupRule(
                id=new_id(),
                project_id=group.project_id,
                security_group_id=group.id,
                remote_group_id=group.id if remote else None,
                created_at=now,
                updated_at=now,
                **template,
            )
        )


def _new_group(session: Session, project: str, attrs: dict[str, Any], default: bool) -> SecurityGroup:
    now = utcnow()
    group = SecurityGroup(
        id=new_id(),
        project_id=project,
        name=DEFAULT_NAME if default else attrs.get("name", ""),
        description=DEFAULT_DESCRIPTION if default else attrs.get("description", ""),
        stateful=attrs.get("stateful", True),
        status="ACTIVE",
        revision_number=0,
        created_at=now,
        updated_at=now,
    )
    session.add(group)
    session.flush()
    _add_rules(session, group, EGRESS_RULES, remote=False)
    if default:
        _add_rules(session, group, INGRESS_FROM_SELF, remote=True)
        session.add(DefaultSecurityGroup(project_id=project, security_group_id=group.id))
    session.flush()
    changes.created(session, "security_group", group.id)
    return group


def default_group_id(session: Session, project: str) -> str | None:
    """The id of ``project``'s default group, if it has one (a prebuilt statement: every port create asks)."""
    found = session.connection().execute(DEFAULT_OF, {"project": project}).scalar()
    return None if found is None else str(found)


def ensure_default(session: Session, project: str) -> str:
    """``project``'s default group id, created now (with its rules) if it has none; in ``session``'s write
    transaction. A concurrent creator makes this insert fail on the primary key: the transaction is retried
    by :meth:`floatnet.db.session.Database.run` and then finds the other's group."""
    found = default_group_id(session, project)
    return found if found is not None else _new_group(session, project, {}, default=True).id


def bind_default(session: Session, port_id: str, project: str) -> str:
    """Bind the new port ``port_id`` to ``project``'s default group (created first, as :func:`ensure_default`
    does, when the project has none) and return the group's id.

    When the group exists (every port create but a project's first) this is one ``INSERT … SELECT … RETURNING``
    instead of a lookup and an insert: the default binding is on the hot path of port creation."""
    conn = session.connection()
    found = conn.execute(BIND_DEFAULT, {"port": port_id, "project": project}).scalar()
    if found is not None:
        return str(found)
    group_id = _new_group(session, project, {}, default=True).id
    conn.execute(INSERT_BINDING, {"port_id": port_id, "security_group_id": group_id})
    return group_id


def ensure_default_for(core: Core, ctx: RequestContext) -> None:
    """Neutron's ``_ensure_default_security_group`` before a list, for the caller's own project; a write
    transaction only when the group is missing. (Neutron also creates it for a project an admin's
    ``project_id`` filter names; floatnet does not, so a query string never writes rows for arbitrary text.)"""
    project = ctx.project_id
    if not project:
        return
    if core.db.run(lambda s: default_group_id(s, project), write=False) is None:
        core.db.run(lambda s: ensure_default(s, project))


def member_networks(session: Session, group_ids: Sequence[str]) -> set[str]:
    """The networks of the ports in ``group_ids`` and of the ports whose rules name them as remote group:
    the networks whose hosts must refetch when the groups' rules or members change."""
    if not group_ids:
        return set()
    referring = select(SecurityGroupRule.security_group_id).where(SecurityGroupRule.remote_group_id.in_(group_ids))
    groups = select(SecurityGroup.id).where(SecurityGroup.id.in_(group_ids) | SecurityGroup.id.in_(referring))
    stmt = (
        select(Port.network_id)
        .join(SecurityGroupPortBinding, SecurityGroupPortBinding.port_id == Port.id)
        .where(SecurityGroupPortBinding.security_group_id.in_(groups))
        .distinct()
    )
    return set(session.scalars(stmt))


def record_change(
    session: Session, kind: str, resource_id: str, op: str, group_ids: Sequence[str], woken: str | None = None
) -> None:
    """Log a change of a group or rule: one row per network it concerns (so exactly those hosts refetch),
    or one row without a network when no port uses the groups. ``woken``: a network the caller's own change
    row already names (no second row for it)."""
    networks: list[str | None] = [*sorted(member_networks(session, group_ids) - {woken})]
    if woken is not None and not networks:
        return
    changes.fanned_out(session, kind, resource_id, op, networks or [None])


class SecurityGroupService:
    """The ``security_groups`` resource."""

    def __init__(self, core: Core) -> None:
        self.core = core

    def _list(self, session: Session, ctx: RequestContext, query: ListQuery) -> list[dict[str, Any]]:
        stmt = select(SecurityGroup)
        if not ctx.is_admin:
            stmt = stmt.where(SecurityGroup.project_id == ctx.project_id)
        stmt = stmt.where(*sql_filters(query, {name: getattr(SecurityGroup, name) for name in COLUMNS}))
        return rendering.render_groups(session, session.scalars(stmt).all())

    def list(self, ctx: RequestContext, query: ListQuery) -> Page:
        ensure_default_for(self.core, ctx)
        return apply(self.core.db.run(lambda s: self._list(s, ctx, query), write=False), query)

    def show(self, ctx: RequestContext, resource_id: str) -> dict[str, Any]:
        return self.core.db.run(lambda s: rendering.render_groups(s, [get_group(s, ctx, resource_id)])[0], write=False)

    def create(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        attrs = validate("security_group", SPEC, body, creating=True)
        project = owner_project(ctx, attrs)
        target = {"project_id": project}
        policy.check(ctx, "create_security_group", target)
        policy.check_attributes(ctx, "create", "security_group", [k for k in attrs if k in body], target)

        def work(session: Session) -> dict[str, Any]:
            ensure_default(session, project)
            quotas.check(session, self.core.config, ctx, "security_group", project_id=project)
            quotas.check(
                session, self.core.config, ctx, "security_group_rule", count=len(EGRESS_RULES), project_id=project
            )
            group = _new_group(session, project, attrs, default=False)
            tags.set_requested(session, "security_group", group.id, attrs)
            return rendering.render_groups(session, [group])[0]

        return self.core.db.run(work)

    def update(
        self, ctx: RequestContext, resource_id: str, body: dict[str, Any], revision: int | None
    ) -> dict[str, Any]:
        attrs = validate("security_group", SPEC, body, creating=False)
        return self.core.db.run(lambda s: self._update(s, ctx, resource_id, attrs, revision))

    def _update(
        self, session: Session, ctx: RequestContext, group_id: str, attrs: dict[str, Any], revision: int | None
    ) -> dict[str, Any]:
        group = get_group(session, ctx, group_id)
        policy.check(ctx, "update_security_group", {"project_id": group.project_id})
        check_revision(group.revision_number, revision)
        if "stateful" in attrs and attrs["stateful"] != group.stateful and _has_ports(session, group.id):
            raise SecurityGroupInUse(id=group.id)
        if "name" in attrs and group.name == DEFAULT_NAME:
            raise SecurityGroupCannotUpdateDefault()
        for key in ("name", "description", "stateful"):
            if key in attrs:
                setattr(group, key, attrs[key])
        changes.bump(group)
        session.flush()
        record_change(session, "security_group", group.id, "update", [group.id])
        return rendering.render_groups(session, [group])[0]

    def delete(self, ctx: RequestContext, resource_id: str) -> None:
        self.core.db.run(lambda s: self._delete(s, ctx, resource_id))

    def _delete(self, session: Session, ctx: RequestContext, group_id: str) -> None:
        group = get_group(session, ctx, group_id)
        policy.check(ctx, "delete_security_group", {"project_id": group.project_id})
        if _has_ports(session, group.id):
            raise SecurityGroupInUse(id=group.id)
        if group.name == DEFAULT_NAME and not ctx.is_admin:
            raise SecurityGroupCannotRemoveDefault()
        record_change(session, "security_group", group.id, "delete", [group.id])
        session.execute(delete(Tag).where(Tag.resource_type == "security_group", Tag.resource_id == group.id))
        rule_ids = select(SecurityGroupRule.id).where(SecurityGroupRule.security_group_id == group.id)
        session.execute(delete(Tag).where(Tag.resource_type == "security_group_rule", Tag.resource_id.in_(rule_ids)))
        session.delete(group)
        session.flush()


def _has_ports(session: Session, group_id: str) -> bool:
    found = session.scalar(
        select(SecurityGroupPortBinding.port_id).where(SecurityGroupPortBinding.security_group_id == group_id).limit(1)
    )
    return found is not None


def groups_by_id(session: Session, ids: Iterable[str]) -> dict[str, SecurityGroup]:
    """The groups among ``ids`` that exist (one query)."""
    wanted = list(ids)
    rows = session.scalars(select(SecurityGroup).where(SecurityGroup.id.in_(wanted))).all() if wanted else []
    return {row.id: row for row in rows}
