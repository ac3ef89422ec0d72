"""The kernel side of the security-group actions, through :mod:`floatnet.linux.port_filter`, in the namespace
where OVS and the instances' taps live (``Dataplane.ovs_netns``; None: the agent's own)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from floatnet.agent import sg_actions as S
from floatnet.agent.observe import Dataplane
from floatnet.linux import port_filter


def _replace_group(dp: Dataplane, a: S.ReplaceGroup) -> None:
    port_filter.replace_group(dp.ovs_netns, a.rules)


def _delete_group(dp: Dataplane, a: S.DeleteGroup) -> None:
    port_filter.delete_group(dp.ovs_netns, a.group_id)


def _edit_members(dp: Dataplane, a: S.EditMembers) -> None:
    port_filter.remove_members(dp.ovs_netns, a.group_id, sorted(a.remove))
    port_filter.add_members(dp.ovs_netns, a.group_id, sorted(a.add))


def _cut_rules(dp: Dataplane, a: S.CutRules) -> None:
    port_filter.cut_rules(dp.ovs_netns, a.rules, a.ports)


def _replace_port(dp: Dataplane, a: S.ReplacePortFilter) -> None:
    port_filter.replace_port(dp.ovs_netns, a.port)


def _delete_port(dp: Dataplane, a: S.DeletePortFilter) -> None:
    """Filter first (no new flow is admitted by it any more), then the zone's established flows."""
    port_filter.delete_port(dp.ovs_netns, a.port_id)
    port_filter.cut_zone(dp.ovs_netns, a.zone)


SG_HANDLERS: dict[type, Callable[[Dataplane, Any], None]] = {
    S.ReplaceGroup: _replace_group,
    S.DeleteGroup: _delete_group,
    S.EditMembers: _edit_members,
    S.CutRules: _cut_rules,
    S.ReplacePortFilter: _replace_port,
    S.DeletePortFilter: _delete_port,
}
