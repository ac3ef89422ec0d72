"""Security groups and their rules as Neutron shows them (groups embed their rules), loaded in bulk."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from floatnet.core.resources.sg_rule_values import normalized_cidr
from floatnet.core.service import fmt_time, load_tags
from floatnet.db.models import DefaultSecurityGroup, SecurityGroup, SecurityGroupRule


def _times(row: Any, tag_list: list[str]) -> dict[str, Any]:
    return {
        "revision_number": row.revision_number,
        "created_at": fmt_time(row.created_at),
        "updated_at": fmt_time(row.updated_at),
        "tags": tag_list,
    }


def render_rule(rule: Any, default_groups: set[str], tag_list: list[str]) -> dict[str, Any]:
    """One rule (``belongs_to_default_sg``: whether its group is a project's default group)."""
    return {
        "id": rule.id,
        "project_id": rule.project_id,
        "tenant_id": rule.project_id,
        "security_group_id": rule.security_group_id,
        "ethertype": rule.ethertype,
        "direction": rule.direction,
        "protocol": rule.protocol,
        "port_range_min": rule.port_range_min,
        "port_range_max": rule.port_range_max,
        "remote_ip_prefix": rule.remote_ip_prefix,
        "remote_address_group_id": None,
        "normalized_cidr": normalized_cidr(rule.remote_ip_prefix),
        "remote_group_id": rule.remote_group_id,
        "belongs_to_default_sg": rule.security_group_id in default_groups,
        "description": rule.description,
        **_times(rule, tag_list),
    }


def default_groups(session: Session, group_ids: Iterable[str]) -> set[str]:
    """Which of ``group_ids`` are a project's default group."""
    wanted = list(set(group_ids))
    if not wanted:
        return set()
    stmt = select(DefaultSecurityGroup.security_group_id).where(DefaultSecurityGroup.security_group_id.in_(wanted))
    return set(session.scalars(stmt))


def render_rules(session: Session, rules: Sequence[Any]) -> list[dict[str, Any]]:
    """Many rules with their tags and default-group flags (two queries)."""
    defaults = default_groups(session, (rule.security_group_id for rule in rules))
    tag_map = load_tags(session, "security_group_rule", [rule.id for rule in rules])
    return [render_rule(rule, defaults, tag_map.get(rule.id, [])) for rule in rules]


def render_groups(session: Session, groups: Sequence[SecurityGroup]) -> list[dict[str, Any]]:
    """Many groups, each with its rules (a fixed number of queries whatever the count)."""
    ids = [group.id for group in groups]
    by_group: dict[str, list[SecurityGroupRule]] = defaultdict(list)
    if ids:
        stmt = select(SecurityGroupRule).where(SecurityGroupRule.security_group_id.in_(ids))
        for rule in session.scalars(stmt.order_by(SecurityGroupRule.created_at, SecurityGroupRule.id)):
            by_group[rule.security_group_id].append(rule)
    rendered = render_rules(session, [rule for group_id in ids for rule in by_group[group_id]])
    rules_of: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in rendered:
        rules_of[item["security_group_id"]].append(item)
    tag_map = load_tags(session, "security_group", ids)
    return [
        {
            "id": group.id,
            "name": group.name,
            "description": group.description,
            "project_id": group.project_id,
            "tenant_id": group.project_id,
            "stateful": group.stateful,
            "shared": False,
            "security_group_rules": rules_of[group.id],
            **_times(group, tag_map.get(group.id, [])),
        }
        for group in groups
    ]
