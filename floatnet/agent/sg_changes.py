"""Security-group change rows as a trigger: refetch the groups they name, not the networks of their ports.

A rule change is logged once per network with a port in the group (docs/agent-protocol.md, "Desired state:
watch"); refetching those networks would cost the server and the agent every port of them (1,000 ports: a
74 ms answer of 0.5 MB, re-planned whole) for what is one group's two chains. Instead the agent asks
``state?security_group_id=…&security_group_rule_id=…`` — only the ``security`` section of those groups —,
merges it into its desired state and re-plans just those groups (their chains, the cuts of their removed rules
and the member sets their rules name: :func:`floatnet.agent.plan_security.plan_changed_groups`).

Which groups a batch asks for (:func:`asked`):

- a row naming a network no port of this host is on concerns other hosts: skipped;
- a ``security_group_rule`` row: the group the agent knows holds that rule (a deleted rule's group is only
  known here), else the rule's id (the server answers its group: a created rule);
- a ``security_group`` row: that group — with a network (its rules or attributes changed), or without one
  when the agent knows it or a known group's rules name it (its members moved);
- plus every known group whose rules name one of those as ``remote_group_id``: their member sets (a group
  deleted also took the rules naming it).

A group whose rules became renderable or unrenderable changes whether its ports can be filtered at all: the
networks of those ports are refetched and planned whole (:func:`flipped_networks`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from floatnet.agent.client import Client
from floatnet.agent.desired import DesiredState
from floatnet.agent.desired_security import SecurityGroup, parse_security

Row = tuple[str, str, str | None]  # (kind, id, network_id) of a security-group change row


def _owner(groups: Mapping[str, SecurityGroup], rule_id: str) -> str | None:
    return next((g.id for g in groups.values() if rule_id in g.rule_ids), None)


def naming(groups: Mapping[str, SecurityGroup], wanted: set[str]) -> set[str]:
    """The known groups whose rules name one of ``wanted`` as ``remote_group_id``."""
    return {g.id for g in groups.values() if g.rules is not None and g.rules.remote_groups() & wanted}


def asked(desired: DesiredState, rows: Iterable[Row]) -> tuple[set[str], set[str]]:
    """``(group ids, rule ids)`` to refetch for a batch of security rows (see the module docstring)."""
    local = {p.network_id for p in desired.ports.values()}
    groups: set[str] = set()
    rules: set[str] = set()
    for kind, ident, network in rows:
        if network is not None and network not in local:
            continue
        if kind == "security_group_rule":
            owner = _owner(desired.groups, ident)
            if owner is not None:
                groups.add(owner)
            elif network is not None:
                rules.add(ident)
        elif network is not None or ident in desired.groups or naming(desired.groups, {ident}):
            groups.add(ident)
    return groups | naming(desired.groups, groups), rules


def merge_groups(desired: DesiredState, doc: Mapping[str, Any]) -> DesiredState:
    """``desired`` with the groups and remote-group members of a security answer swapped in and the groups it
    lists as ``absent.security_groups`` dropped (with their members)."""
    answered, members = parse_security(doc.get("security"))
    gone = set((doc.get("absent") or {}).get("security_groups") or ())
    groups = {k: g for k, g in desired.groups.items() if k not in gone}
    groups.update(answered)
    seq = doc.get("seq")
    kept = {k: m for k, m in desired.members.items() if k not in gone}
    return replace(
        desired, seq=max(desired.seq, seq if isinstance(seq, int) else 0), groups=groups, members={**kept, **members}
    )


def flipped_networks(before: DesiredState, after: DesiredState, groups: set[str]) -> set[str]:
    """The networks of the ports in one of ``groups`` whose rules became renderable or unrenderable (their
    ports' filtering, tags and statuses change: planned whole)."""
    flipped = {
        g for g in groups
        if g in before.groups and g in after.groups
        and (before.groups[g].rules is None) != (after.groups[g].rules is None)
    }  # fmt: skip
    return {p.network_id for p in after.ports.values() if flipped & set(p.security_groups)}


Refreshed = tuple[DesiredState, set[str], set[str]]  # (desired state, groups to re-plan, networks to plan whole)


def refresh(client: Client, desired: DesiredState, rows: Iterable[Row]) -> Refreshed | None:
    """Refetch the groups a batch of security rows names (one ``state`` call): ``(desired state with them
    merged, the groups to re-plan, the networks to plan whole)``, or None when the rows concern no group here."""
    groups, rules = asked(desired, rows)
    if not (groups or rules):
        return None
    doc = client.state(groups=groups, rules=rules)
    merged = merge_groups(desired, doc)
    answered = {str(g["id"]) for g in (doc.get("security") or {}).get("groups") or () if isinstance(g, dict)}
    return merged, groups | answered, flipped_networks(desired, merged, answered)
