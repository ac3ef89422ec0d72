"""The planner's security-group part (pure): instance ports' filters, their groups' chains, remote-group
members, conntrack cuts — diffed against the node's tables as observed (fingerprints), never re-rendered
when nothing changed (an agent restart on an up-to-date node plans zero actions).

- A port with port security gets a filter (:class:`~floatnet.linux.sg_render.PortFilter`) in a conntrack
  zone of its own: the zone the kernel holds for it, else the lowest free one (stable across restarts since
  it is read back). The filter is installed *before* the port's tag is set, in the same action group, and
  gates it: the tag is never set on an unfiltered port.
- A port that cannot be filtered fails closed (dead VLAN, ``ERROR`` with the reason): its device is plugged
  straight into OVS (no hybrid plug ``qbr``/``qvo``), or one of its groups cannot be rendered.
- A group whose rules changed has its two chains replaced (its ports untouched); the rules it no longer has
  have their established flows cut on the group's ports (the previously applied rules are the agent's
  memory, :attr:`~floatnet.agent.state.Security.applied`). A security-group change alone re-plans just the
  groups it names (:func:`plan_changed_groups`), never their ports.
- A remote group's members are set elements: one added or removed per address that moved.
- Port security switched off: the filter is removed and the port's zone cut; the tag is set.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from dataclasses import replace

from floatnet.agent import actions as A
from floatnet.agent import sg_actions as S
from floatnet.agent.desired import DesiredState, Port
from floatnet.agent.state import FilteredPort, Observed, OvsPort, Security
from floatnet.linux import sg_render as r
from floatnet.linux.errors import KernelError

HYBRID_PREFIX = "qvo"  # the OVS end of a hybrid plug (os-vif's name): the only device a filter covers
_MISSING = "-"


def filter_for(desired: DesiredState, port: Port, zone: int) -> r.PortFilter:
    """What ``port``'s filter must enforce in ``zone`` (raises KernelError for values it cannot render)."""
    groups = [desired.groups[g] for g in port.security_groups if g in desired.groups]
    return _port_filter(port, zone, all(g.stateful for g in groups))


@functools.lru_cache(maxsize=r.PORTS_CACHED)
def _port_filter(port: Port, zone: int, stateful: bool) -> r.PortFilter:
    """The filter of an unchanged port, built once (its address normalisation cost 0.1 ms a port, and every
    step compares every port of its scope; the same :class:`~floatnet.linux.sg_render.PortFilter` value also
    hits the caches of its fingerprint and elements)."""
    return r.PortFilter(
        port_id=port.id, zone=zone, mac=port.mac_address, fixed_ips=tuple(ip.ip_address for ip in port.fixed_ips),
        allowed_pairs=port.allowed_pairs, groups=port.security_groups, stateful=stateful,
    )  # fmt: skip


def filtered(desired: DesiredState, observed: Observed, port: Port) -> bool:
    """True when ``port``'s filter is installed and current (the port may be reported ``ACTIVE``)."""
    have = observed.security.ports.get(port.id)
    if have is None:
        return False
    try:
        return current(have, filter_for(desired, port, have.zone))
    except KernelError:
        return False


def current(have: FilteredPort, want: r.PortFilter) -> bool:
    """The installed filter is ``want``: same chains (fingerprint) and every element in place."""
    return have.fingerprint == want.fingerprint() and have.parts == r.port_parts(want)


def blocked(desired: DesiredState, port: Port, found: OvsPort | None) -> str | None:
    """Why a port with port security cannot be filtered (it is then isolated), or None."""
    if not port.port_security:
        return None
    if found is not None and not found.name.startswith(HYBRID_PREFIX):
        return (f"port security is on but device {found.name} is plugged straight into OVS (no hybrid plug "
                f"qbr/qvo): it cannot be filtered, so it is isolated")  # fmt: skip
    for group_id in port.security_groups:
        group = desired.groups.get(group_id)
        if group is None:
            return f"security group {group_id} of the port is missing from the desired state"
        if group.rules is None:
            return group.error
    return None


def allocate_zones(desired: DesiredState, observed: Observed) -> dict[str, int]:
    """A conntrack zone for each port with port security and no filter yet: the lowest ones free."""
    used = {p.zone for p in observed.security.ports.values()}
    free = (z for z in range(1, r.ZONE_MAX + 1) if z not in used)
    wanting = sorted(p.id for p in desired.ports.values() if p.port_security and p.id not in observed.security.ports)
    return {port_id: next(free) for port_id in wanting}


def plan_port(
    desired: DesiredState, observed: Observed, port: Port, found: OvsPort | None, zone: int | None
) -> tuple[list[A.Action], str | None]:
    """The filter actions of one port (in its group ``port:<id>``) and why it is blocked (None: the tag may be
    set). A blocked port keeps whatever filter it has: a filter only ever restricts."""
    have = observed.security.ports.get(port.id)
    group, refs = f"port:{port.id}", (("port", port.id),)
    if not port.port_security:
        return ([S.DeletePortFilter(group=group, refs=refs, port_id=port.id, zone=have.zone)] if have else []), None
    reason = blocked(desired, port, found)
    if reason is not None:
        return [], reason
    try:
        want = filter_for(desired, port, have.zone if have else zone or 0)
    except KernelError as exc:
        return [], f"port {port.id} cannot be filtered: {exc}"
    if have is not None and current(have, want):
        return [], None
    return [S.ReplacePortFilter(group=group, refs=refs, port=want)], None


def _ports_of(desired: DesiredState, group_id: str) -> list[Port]:
    return sorted((p for p in desired.ports.values() if p.port_security and group_id in p.security_groups),
                  key=lambda p: p.id)  # fmt: skip


def _installed(desired: DesiredState, observed: Observed, ports: Iterable[Port]) -> tuple[r.PortFilter, ...]:
    """The filters of ``ports`` as installed (their zones), for cutting conntrack entries."""
    out = []
    for port in ports:
        have = observed.security.ports.get(port.id)
        try:
            out += [filter_for(desired, port, have.zone)] if have else []
        except KernelError:
            continue
    return tuple(out)


def used_groups(desired: DesiredState) -> list[str]:
    """The groups the listed ports with port security are in."""
    return sorted({g for p in desired.ports.values() if p.port_security for g in p.security_groups})


def plan_groups(desired: DesiredState, observed: Observed, by_iface: Mapping[str, OvsPort]) -> list[A.Action]:
    """Chains of the groups of the ports that can be filtered whose fingerprint differs (and cuts for their
    removed rules), then the members of every remote group their rules name. ``by_iface``: OVS ports by
    port id."""
    filterable = [p for p in desired.ports.values() if blocked(desired, p, by_iface.get(p.id)) is None]
    return _plan_groups(desired, observed, {g for p in filterable if p.port_security for g in p.security_groups})


def plan_changed_groups(desired: DesiredState, observed: Observed, group_ids: Iterable[str]) -> list[A.Action]:
    """A security-group change alone: the chains (and cuts) of those of ``group_ids`` the node holds — a group
    is installed once a filterable port here uses it — and the members of the remote groups their rules
    name; their ports are not planned (a group that flips renderability has its ports' networks planned
    whole instead, :mod:`floatnet.agent.sg_changes`). ``desired``: the agent's whole state."""
    return _plan_groups(desired, observed, {g for g in group_ids if g in observed.security.groups})


def _plan_groups(desired: DesiredState, observed: Observed, group_ids: set[str]) -> list[A.Action]:
    """The renderable ones of ``group_ids`` (:func:`_replace_group`), then the member sets their rules name."""
    out: list[A.Action] = []
    remote: set[str] = set()
    for group_id in sorted(group_ids):
        group = desired.groups.get(group_id)
        if group is None or group.rules is None:
            continue
        remote |= group.rules.remote_groups()
        out += _replace_group(desired, observed, group.rules)
    for group_id in sorted(remote):
        want = desired.members.get(group_id, frozenset())
        have = observed.security.members.get(group_id, frozenset())
        if want != have:
            out.append(S.EditMembers(group=S.sg_group(group_id), group_id=group_id, add=want - have,
                                     remove=have - want))  # fmt: skip
    return out


def _replace_group(desired: DesiredState, observed: Observed, rules: r.GroupRules) -> list[A.Action]:
    """A group's chains when their fingerprint differs, and the cut of the rules it no longer has."""
    group_id = rules.group_id
    if observed.security.groups.get(group_id, _MISSING) == rules.fingerprint():
        return []
    ports = _ports_of(desired, group_id)
    refs = tuple(("port", p.id) for p in ports)
    out: list[A.Action] = [S.ReplaceGroup(group=S.sg_group(group_id), refs=refs, rules=rules)]
    old = observed.security.applied.get(group_id)
    removed = tuple(sorted(set(old.rules) - set(rules.rules), key=repr)) if old else ()
    installed = _installed(desired, observed, ports)
    if removed and installed:
        out.append(S.CutRules(group=S.sg_group(group_id), refs=refs, rules=removed, ports=installed))
    return out


def remove_filters(observed: Observed, port_ids: Iterable[str]) -> list[A.Action]:
    """Remove the filters (and cut the zones) of ports no longer bound here."""
    have = observed.security.ports
    return [S.DeletePortFilter(group=f"port:{p}", port_id=p, zone=have[p].zone) for p in sorted(port_ids) if p in have]


def sweep_filters(desired: DesiredState, observed: Observed) -> list[A.Action]:
    """With a complete desired state: the filters of ports not listed."""
    return remove_filters(observed, set(observed.security.ports) - set(desired.ports))


def groups_kept(desired: DesiredState) -> frozenset[str]:
    """The groups the ports with port security are in, and the groups their rules name as remote groups
    (another group's rules reference their member sets)."""
    keep = set(used_groups(desired))
    for group_id in list(keep):
        rules = desired.groups[group_id].rules if group_id in desired.groups else None
        keep |= rules.remote_groups() if rules is not None else set()
    return frozenset(keep)


def sweep_groups(desired: DesiredState, observed: Observed) -> list[A.Action]:
    """Delete the installed groups no port needs (planned after the port filters, which jump to them); only
    when the whole state's needs are known (complete, or a scoped state carrying ``groups_in_use``)."""
    keep = desired.groups_in_use if desired.groups_in_use is not None else groups_kept(desired)
    if desired.groups_in_use is None and not desired.complete:
        return []
    gone = sorted(set(observed.security.groups) - keep)
    return [S.DeleteGroup(group=S.sg_group(g), group_id=g) for g in gone]


def project_security(security: Security, actions: Sequence[A.Action]) -> Security:
    """The node's tables once ``actions`` succeeded (the agent's view between full observes)."""
    ports, groups = dict(security.ports), dict(security.groups)
    members, applied = dict(security.members), dict(security.applied)
    for a in actions:
        if isinstance(a, S.ReplaceGroup):
            groups[a.rules.group_id], applied[a.rules.group_id] = a.rules.fingerprint(), a.rules
            for group_id in {a.rules.group_id} | a.rules.remote_groups():
                members.setdefault(group_id, frozenset())
        elif isinstance(a, S.DeleteGroup):
            for table in (groups, applied, members):
                table.pop(a.group_id, None)
        elif isinstance(a, S.EditMembers):
            members[a.group_id] = (members.get(a.group_id, frozenset()) - a.remove) | a.add
        elif isinstance(a, S.ReplacePortFilter):
            p = a.port
            ports[p.port_id] = FilteredPort(p.zone, p.tap, p.stateful, p.fingerprint(), r.port_parts(p))
        elif isinstance(a, S.DeletePortFilter):
            ports.pop(a.port_id, None)
    return Security(ports=ports, groups=groups, members=members, applied=applied)


def remember_applied(now: Security, before: Security) -> Security:
    """``now`` (just observed) with the applied rules of ``before`` kept where the group still holds them."""
    applied = {g: rules for g, rules in before.applied.items() if now.groups.get(g) == rules.fingerprint()}
    return replace(now, applied=applied)


def record(poisoned: MutableMapping[A.Ref, str] | None, port_id: str, reason: str) -> None:
    """Report a blocked port as ``ERROR`` with the reason (when the caller collects them)."""
    if poisoned is not None:
        poisoned.setdefault(("port", port_id), reason)
