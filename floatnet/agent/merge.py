"""Keeping the agent's full desired state current from filtered answers; which ids a batch of changes touches.

The loop plans each batch of changes against a *filtered* state (only the touched routers and networks), and
merges that answer into its copy of the complete state, which it needs for status reports, the agent's
counts and for re-planning when OVS changes under it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from floatnet.agent.desired import DesiredState

SECURITY_KINDS = ("security_group", "security_group_rule")


@dataclass
class Touched:
    """What a batch of change rows asks the agent to refetch.

    ``fips`` holds, per router touched *only* by floating-IP changes, the ids of those floating IPs: such a
    router is refetched narrowed to them (``floatingip_id=``), one element instead of the whole router.
    ``security`` holds the security-group rows as ``(kind, id, network_id)``: they are not refetched as
    networks but as the groups they name (:mod:`floatnet.agent.sg_changes`).
    """

    routers: set[str] = field(default_factory=set)
    networks: set[str] = field(default_factory=set)
    gone_ports: set[str] = field(default_factory=set)
    fips: dict[str, set[str]] = field(default_factory=dict)
    security: list[tuple[str, str, str | None]] = field(default_factory=list)

    @property
    def fips_only(self) -> bool:
        """True when every touched router can be refetched narrowed to floating IPs (and nothing else is)."""
        return bool(self.routers) and set(self.fips) == self.routers and not self.networks


def touched(changes: Iterable[Mapping[str, Any]]) -> Touched:
    """The routers, networks, deleted ports and floating IPs a batch of change rows touches."""
    out = Touched()
    whole: set[str] = set()
    for change in changes:
        kind, ident, op, router = change.get("kind"), change.get("id"), change.get("op"), change.get("router_id")
        if kind in SECURITY_KINDS:
            if isinstance(ident, str):
                out.security.append((str(kind), ident, str(change["network_id"]) if change.get("network_id") else None))
            continue
        if router:
            out.routers.add(str(router))
            if kind == "floatingip" and isinstance(ident, str):
                out.fips.setdefault(str(router), set()).add(ident)
            else:
                whole.add(str(router))
        if change.get("network_id"):
            out.networks.add(str(change["network_id"]))
        if not isinstance(ident, str):
            continue
        if kind == "router":
            out.routers.add(ident)
            whole.add(ident)
        elif kind == "network":
            out.networks.add(ident)
        elif kind == "port" and op == "delete":
            out.gone_ports.add(ident)
    out.fips = {r: ids for r, ids in out.fips.items() if r not in whole}
    return out


def complete_routers(partial: DesiredState, full: DesiredState, asked: set[str]) -> DesiredState | None:
    """Routers answered narrowed to floating IPs (``floatingips_partial``) completed from ``full``: its other
    floating IPs kept, the ``asked`` ones replaced by the answer's. None if a router is not known yet.

    O(asked) Python work plus one C-level copy of the router's floating-IP dict (no scan of the others)."""
    routers = dict(partial.routers)
    for router_id, router in partial.routers.items():
        if not router.floatingips_partial:
            continue
        known = full.routers.get(router_id)
        if known is None:
            return None
        fips = dict(known.floatingips)
        for fip_id in asked:
            fips.pop(fip_id, None)
        fips.update(router.floatingips)
        routers[router_id] = replace(router, floatingips=fips, floatingips_partial=False)
    return replace(partial, routers=routers)


def merge(full: DesiredState, partial: DesiredState, routers: set[str], networks: set[str]) -> DesiredState:
    """``full`` with the refetched routers, networks and ports of ``partial`` swapped in (and the security
    groups and remote-group members it lists: the answer has them whole).

    A requested router or network missing from the answer is gone (the server also lists it as absent); the
    ports of a refetched network are replaced by the answer's, and deleted ports dropped.
    """
    new_routers = {k: v for k, v in full.routers.items() if k not in routers}
    new_routers.update(partial.routers)
    new_networks = {k: v for k, v in full.networks.items() if k not in networks}
    new_networks.update(partial.networks)
    ports = {k: p for k, p in full.ports.items() if p.network_id not in networks and k not in partial.absent_ports}
    ports.update(partial.ports)
    return replace(
        full,
        seq=max(full.seq, partial.seq),
        routers=new_routers,
        networks=new_networks,
        ports=ports,
        groups={**full.groups, **partial.groups},
        members={**full.members, **partial.members},
        absent_routers=frozenset(),
        absent_networks=frozenset(),
        absent_ports=frozenset(),
    )


def gone_fips(
    old: DesiredState | None, new: DesiredState, routers: Iterable[str], only: set[str] | None = None
) -> set[str]:
    """Floating IPs that were on one of ``routers`` and are on no router any more: they go DOWN.
    ``only``: the floating IPs that can have changed (a narrowed batch): O(len(only)), not O(router)."""
    if old is None:
        return set()
    before: set[str] = set()
    for router_id in routers:
        known = old.routers[router_id].floatingips if router_id in old.routers else {}
        before.update(known if only is None else (i for i in only if i in known))
    return {i for i in before if not any(i in r.floatingips for r in new.routers.values())}


def only_networks(doc: dict[str, Any], asked: set[str]) -> dict[str, Any]:
    """The answer without the networks not asked for: the server adds the ones its routers use, which did not
    change (else they would have been asked for) and so need no re-planning."""
    doc["networks"] = [n for n in doc.get("networks") or () if isinstance(n, dict) and n.get("id") in asked]
    return doc
