"""The security part of a host's desired state: instance ports' port security, their groups' rules and the
remote-group members, parsed from the state document (docs/agent-protocol.md, ``security``).

A group whose rules the dataplane cannot render (a protocol nftables has no name for, say) is kept with
``rules=None`` and the reason: the agent must not guess, so its ports fail closed (isolated, ``ERROR``) while
every other group is enforced.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from floatnet.linux import sg_render as r
from floatnet.linux.errors import KernelError

RULE_FIELDS = ("direction", "ethertype", "protocol", "port_range_min", "port_range_max", "remote_ip_prefix",
               "remote_group_id")  # fmt: skip


@dataclass(frozen=True)
class SecurityGroup:
    """One group as the dataplane needs it: stateful or not, and its rules (None: cannot be rendered)."""

    id: str
    stateful: bool
    rules: r.GroupRules | None
    error: str = ""
    rule_ids: frozenset[str] = frozenset()  # the server's ids of its rules: a deleted rule's change names one


def _rule(obj: Mapping[str, Any]) -> r.Rule:
    values: dict[str, Any] = {key: obj.get(key) for key in RULE_FIELDS}
    values["ethertype"] = values["ethertype"] or "IPv4"
    if values["protocol"] is not None:
        values["protocol"] = str(values["protocol"])
    return r.Rule(**values)


def parse_group(obj: Mapping[str, Any]) -> SecurityGroup:
    """A group of the ``security.groups`` list; unrenderable rules give ``rules=None`` with the reason."""
    group_id = str(obj["id"])
    stateful = obj.get("stateful", True) is not False
    ids = frozenset(str(rule["id"]) for rule in obj.get("rules") or () if rule.get("id"))
    try:
        rules = r.GroupRules(group_id, tuple(_rule(rule) for rule in obj.get("rules") or ()))
    except (KernelError, TypeError, ValueError) as exc:
        why = f"security group {group_id} cannot be enforced: {exc}"
        return SecurityGroup(group_id, stateful, None, why, rule_ids=ids)
    return SecurityGroup(group_id, stateful, rules, rule_ids=ids)


def host_members(addresses: Iterable[str]) -> frozenset[str]:
    """The single addresses among a remote group's members, in canonical text (the kernel's set holds hosts;
    an allowed-address-pair CIDR is not a member address)."""
    out = set()
    for text in addresses:
        try:
            net = ipaddress.ip_network(str(text), strict=False)
        except ValueError:
            continue
        if net.num_addresses == 1:
            out.add(str(net.network_address))
    return frozenset(out)


def parse_security(obj: Mapping[str, Any] | None) -> tuple[dict[str, SecurityGroup], dict[str, frozenset[str]]]:
    """``(groups by id, remote-group members by group id)`` of a ``security`` section (absent: empty)."""
    section = obj or {}
    groups = {g.id: g for g in map(parse_group, section.get("groups") or ())}
    members = {str(k): host_members(v or ()) for k, v in (section.get("remote_groups") or {}).items()}
    return groups, members


def allowed_pairs(items: Iterable[Any]) -> tuple[tuple[str, str | None], ...]:
    """A port's ``allowed_address_pairs`` as ``(ip_or_cidr, mac or None)`` (None: the port's own MAC)."""
    pairs = {(str(p["ip_address"]), p.get("mac_address") or None) for p in items}
    return tuple(sorted(pairs, key=lambda pair: (pair[0], pair[1] or "")))
