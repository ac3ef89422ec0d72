"""The security-group part of a host's state: for the ports listed, their groups' rules and the member
addresses that ``remote_group_id`` rules need (a few indexed queries, whatever the number of ports).

``groups`` holds every group a listed port is in, with its rules, and the groups a ``security_group_id`` /
``security_group_rule_id`` filter asks for (:func:`asked_groups`: a rule change is refetched as its group's
rules alone, not as every port of the networks it concerns); ``remote_groups`` holds, for every group named by
one of those rules as ``remote_group_id``, the fixed IPs and allowed-address-pair IPs of its members (on any
host: a remote group spans the cloud), so the dataplane keeps them as one set per group.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import BindParameter, bindparam, select
from sqlalchemy.orm import Session

from floatnet.db.models import (
    AllowedAddressPair,
    IPAllocation,
    SecurityGroup,
    SecurityGroupPortBinding,
    SecurityGroupRule,
)

# Built once (``ids``: an expanding list): every refetch of a port or a network runs them.
IDS: BindParameter[list[str]] = bindparam("ids", expanding=True)
_MEMBER_ADDRESSES = [
    select(SecurityGroupPortBinding.security_group_id, model.ip_address)
    .join(model, model.port_id == SecurityGroupPortBinding.port_id)
    .where(SecurityGroupPortBinding.security_group_id.in_(IDS))
    for model in (IPAllocation, AllowedAddressPair)
]
_GROUPS_OF_RULES = select(SecurityGroupRule.security_group_id).where(SecurityGroupRule.id.in_(IDS))
_PORT_GROUPS = select(SecurityGroupPortBinding.port_id, SecurityGroupPortBinding.security_group_id).where(
    SecurityGroupPortBinding.port_id.in_(IDS)
)
_PAIRS = select(AllowedAddressPair).where(AllowedAddressPair.port_id.in_(IDS))
_GROUPS = select(SecurityGroup).where(SecurityGroup.id.in_(IDS))
_RULES = select(SecurityGroupRule).where(SecurityGroupRule.security_group_id.in_(IDS)).order_by(SecurityGroupRule.id)


def _rule(rule: Any) -> dict[str, Any]:
    return {
        "id": rule.id,
        "direction": rule.direction,
        "ethertype": rule.ethertype,
        "protocol": rule.protocol,
        "port_range_min": rule.port_range_min,
        "port_range_max": rule.port_range_max,
        "remote_ip_prefix": rule.remote_ip_prefix,
        "remote_group_id": rule.remote_group_id,
    }


def _members(session: Session, group_ids: set[str]) -> dict[str, list[str]]:
    """Addresses of the members of ``group_ids``: fixed IPs and allowed-address-pair IPs/CIDRs, sorted. Two
    joins on the group bindings (a 1,000-member group as 1,000 bound ids in an ``IN`` list cost ~50 ms of
    statement compilation per answer)."""
    result: dict[str, set[str]] = defaultdict(set)
    if not group_ids:
        return {}
    for stmt in _MEMBER_ADDRESSES:
        for group_id, address in session.execute(stmt, {"ids": list(group_ids)}):
            result[group_id].add(address)
    return {group_id: sorted(result.get(group_id, set())) for group_id in sorted(group_ids)}


def asked_groups(session: Session, group_ids: Iterable[str], rule_ids: Iterable[str]) -> set[str]:
    """The groups a security filter names: ``group_ids`` and the groups of the rules ``rule_ids`` that still
    exist (a rule's change row carries the rule's id; a deleted rule's group is known to the agent that
    enforced it, which asks for that group by id)."""
    wanted = set(group_ids)
    rules = list(rule_ids)
    if rules:
        wanted.update(session.scalars(_GROUPS_OF_RULES, {"ids": rules}))
    return wanted


def attach(session: Session, ports: list[dict[str, Any]], asked: Iterable[str] = ()) -> dict[str, Any]:
    """Add ``security_groups``, ``port_security_enabled`` (already there) and ``allowed_address_pairs`` to each
    port dict in place; return the ``security`` section for their groups and the ``asked`` ones that exist
    (see the module docstring and docs/agent-protocol.md)."""
    ids = [port["id"] for port in ports]
    groups_of: dict[str, list[str]] = defaultdict(list)
    pairs_of: dict[str, list[dict[str, str]]] = defaultdict(list)
    if ids:
        for port_id, group_id in session.execute(_PORT_GROUPS, {"ids": ids}):
            groups_of[port_id].append(group_id)
        for pair in session.scalars(_PAIRS, {"ids": ids}):
            pairs_of[pair.port_id].append({"ip_address": pair.ip_address, "mac_address": pair.mac_address})
    for port in ports:
        port["security_groups"] = sorted(groups_of.get(port["id"], []))
        port["allowed_address_pairs"] = sorted(
            pairs_of.get(port["id"], []), key=lambda p: (p["ip_address"], p["mac_address"])
        )
    used = {group_id for groups in groups_of.values() for group_id in groups} | set(asked)
    rows = session.scalars(_GROUPS, {"ids": list(used)}).all() if used else []
    rules: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if used:
        for rule in session.scalars(_RULES, {"ids": list(used)}):
            rules[rule.security_group_id].append(_rule(rule))
    remote = {r["remote_group_id"] for group_rules in rules.values() for r in group_rules if r["remote_group_id"]}
    groups = [
        {"id": g.id, "stateful": g.stateful, "rules": rules.get(g.id, [])} for g in sorted(rows, key=lambda g: g.id)
    ]
    return {"groups": groups, "remote_groups": _members(session, remote)}
