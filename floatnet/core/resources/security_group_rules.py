"""Security group rules (``/v2.0/security-group-rules``): create, show, list, delete (rules are immutable:
an update is Neutron's 400 for every attribute but ``description``).

Validation is :mod:`floatnet.core.resources.sg_rule_values` (Neutron's converters and cross-attribute
checks); a rule equal to one of its group's (:func:`sg_rule_values.rule_key`) is a 409
``SecurityGroupRuleExists``. The parent group decides visibility and policy (``security_group:project_id``).
Every change is logged for the networks whose ports use the group (or name it as remote group).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from floatnet.core.access import policy, quotas
from floatnet.core.agent_protocol import changes
from floatnet.core.context import RequestContext
from floatnet.core.listing import ListQuery, Page, apply, sql_filters
from floatnet.core.resources import security_group_rendering as rendering
from floatnet.core.resources import security_groups, sg_rule_values, tags
from floatnet.core.service import Core, check_revision, owner_project
from floatnet.core.sg_errors import SecurityGroupNotFound, SecurityGroupRuleExists, SecurityGroupRuleNotFound
from floatnet.core.validation import Attr, choice, list_of, nullable, project_id, string, to_uuid, validate
from floatnet.db.models import SecurityGroup, SecurityGroupRule, Tag, new_id, utcnow

SPEC: dict[str, Attr] = {
    "security_group_id": Attr(to_uuid, put=False, required=True),
    "remote_group_id": Attr(nullable(to_uuid), put=False, default=None),
    "direction": Attr(choice(*sg_rule_values.DIRECTIONS), put=False, required=True),
    "protocol": Attr(sg_rule_values.protocol, put=False, default=None),
    "port_range_min": Attr(sg_rule_values.port, put=False, default=None),
    "port_range_max": Attr(sg_rule_values.port, put=False, default=None),
    "ethertype": Attr(sg_rule_values.ethertype, put=False, default="IPv4"),
    "remote_ip_prefix": Attr(sg_rule_values.ip_prefix, put=False, default=None),
    "remote_address_group_id": Attr(lambda value: _no_address_groups(value), put=False, default=None),
    "description": Attr(string(255), default=""),
    "project_id": Attr(project_id, put=False),
    "tenant_id": Attr(project_id, put=False),
    "tags": Attr(list_of(string(60)), put=False),
}
COLUMNS = {"id", "security_group_id", "remote_group_id", "direction", "ethertype", "protocol", "project_id"}
COLUMNS |= {"remote_ip_prefix", "description"}
RULE_FIELDS: tuple[str, ...] = ("security_group_id", "remote_group_id", "direction", "protocol", "port_range_min")
RULE_FIELDS += ("port_range_max", "ethertype", "remote_ip_prefix")


def _no_address_groups(value: Any) -> None:
    """``remote_address_group_id``: address groups are not implemented, so only null is accepted."""
    if value is not None:
        raise ValueError("address groups are not supported by floatnet")


def _target(group: SecurityGroup, owner: str) -> dict[str, Any]:
    """A rule's policy target: its owner and its group's (``security_group:project_id``)."""
    return {
        "project_id": owner,
        "security_group:project_id": group.project_id,
        "security_group:tenant_id": group.project_id,
    }


def _visible(session: Session, ctx: RequestContext, rule_id: str) -> tuple[SecurityGroupRule, SecurityGroup]:
    rule = session.get(SecurityGroupRule, rule_id)
    group = session.get(SecurityGroup, rule.security_group_id) if rule is not None else None
    if rule is None or group is None or not (ctx.owns(rule.project_id) or ctx.owns(group.project_id)):
        raise SecurityGroupRuleNotFound(id=rule_id)
    if not policy.allowed(ctx, "get_security_group_rule", _target(group, rule.project_id)):
        raise SecurityGroupRuleNotFound(id=rule_id)
    return rule, group


def _check_duplicate(session: Session, rule: dict[str, Any]) -> None:
    key = sg_rule_values.rule_key(rule)
    existing = session.scalars(
        select(SecurityGroupRule).where(SecurityGroupRule.security_group_id == rule["security_group_id"])
    )
    for other in existing:
        if sg_rule_values.rule_key({name: getattr(other, name) for name in RULE_FIELDS}) == key:
            raise SecurityGroupRuleExists(rule_id=other.id)


class SecurityGroupRuleService:
    """The ``security_group_rules`` resource."""

    def __init__(self, core: Core) -> None:
        self.core = core

    def _list(self, session: Session, ctx: RequestContext, query: ListQuery) -> list[dict[str, Any]]:
        stmt = select(SecurityGroupRule)
        if not ctx.is_admin:
            own_groups = select(SecurityGroup.id).where(SecurityGroup.project_id == ctx.project_id)
            stmt = stmt.where(
                (SecurityGroupRule.project_id == ctx.project_id) | SecurityGroupRule.security_group_id.in_(own_groups)
            )
        stmt = stmt.where(*sql_filters(query, {name: getattr(SecurityGroupRule, name) for name in COLUMNS}))
        return rendering.render_rules(session, session.scalars(stmt).all())

    def list(self, ctx: RequestContext, query: ListQuery) -> Page:
        security_groups.ensure_default_for(self.core, ctx)
        return apply(self.core.db.run(lambda s: self._list(s, ctx, query), write=False), query)

    def show(self, ctx: RequestContext, resource_id: str) -> dict[str, Any]:
        return self.core.db.run(lambda s: rendering.render_rules(s, [_visible(s, ctx, resource_id)[0]])[0], write=False)

    def create(self, ctx: RequestContext, body: dict[str, Any]) -> dict[str, Any]:
        attrs = validate("security_group_rule", SPEC, body, creating=True)
        project = owner_project(ctx, attrs)
        sg_rule_values.normalize(attrs)
        return self.core.db.run(lambda s: self._create(s, ctx, project, attrs))

    def _group(self, session: Session, ctx: RequestContext, group_id: str, project: str) -> SecurityGroup:
        """A group the rule may name: visible to the caller, and the owner's when an admin writes for a project
        (Neutron looks groups up as the rule's project)."""
        group = security_groups.get_group(session, ctx, group_id)
        if ctx.is_admin and project != ctx.project_id and group.project_id != project:
            raise SecurityGroupNotFound(id=group_id)
        return group

    def _create(self, session: Session, ctx: RequestContext, project: str, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["remote_group_id"]:
            self._group(session, ctx, attrs["remote_group_id"], project)
        group = self._group(session, ctx, attrs["security_group_id"], project)
        target = _target(group, project)
        policy.check(ctx, "create_security_group_rule", target)
        _check_duplicate(session, attrs)
        quotas.check(session, self.core.config, ctx, "security_group_rule", project_id=project)
        now = utcnow()
        rule = SecurityGroupRule(
            id=new_id(),
            project_id=project,
            description=attrs["description"],
            created_at=now,
            updated_at=now,
            **{name: attrs[name] for name in RULE_FIELDS},
        )
        session.add(rule)
        session.flush()
        tags.set_requested(session, "security_group_rule", rule.id, attrs)
        security_groups.record_change(session, "security_group_rule", rule.id, "create", [group.id])
        return rendering.render_rules(session, [rule])[0]

    def update(
        self, ctx: RequestContext, resource_id: str, body: dict[str, Any], revision: int | None
    ) -> dict[str, Any]:
        attrs = validate("security_group_rule", SPEC, body, creating=False)

        def work(session: Session) -> dict[str, Any]:
            rule, group = _visible(session, ctx, resource_id)
            policy.check(ctx, "update_security_group_rule", _target(group, rule.project_id))
            check_revision(rule.revision_number, revision)
            if "description" in attrs:
                rule.description = attrs["description"]
            changes.bump(rule)
            session.flush()
            return rendering.render_rules(session, [rule])[0]

        return self.core.db.run(work)

    def delete(self, ctx: RequestContext, resource_id: str) -> None:
        def work(session: Session) -> None:
            rule, group = _visible(session, ctx, resource_id)
            policy.check(ctx, "delete_security_group_rule", _target(group, rule.project_id))
            security_groups.record_change(session, "security_group_rule", rule.id, "delete", [group.id])
            session.execute(delete(Tag).where(Tag.resource_type == "security_group_rule", Tag.resource_id == rule.id))
            session.delete(rule)

        self.core.db.run(work)
