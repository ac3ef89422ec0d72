"""Keeping the agent's full desired state current from filtered answers; which ids a batch of changes touches.

The loop plans each batch of changes against a *filtered* state (only the touched routers and networks), and
merges that answer into its copy of the complete state, which it needs for status reports, the agent's
counts and for re-planning when OVS changes under it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from floatnet.agent.desired import DesiredState


def touched(changes: Iterable[Mapping[str, Any]]) -> tuple[set[str], set[str], set[str]]:
    """``(router ids, network ids, deleted port ids)`` a batch of change rows asks the agent to refetch."""
    routers: set[str] = set()
    networks: set[str] = set()
    gone_ports: set[str] = set()
    for change in changes:
        kind, ident, op = change.get("kind"), change.get("id"), change.get("op")
        if change.get("router_id"):
            routers.add(str(change["router_id"]))
        if change.get("network_id"):
            networks.add(str(change["network_id"]))
        if not isinstance(ident, str):
            continue
        if kind == "router":
            routers.add(ident)
        elif kind == "network":
            networks.add(ident)
        elif kind == "port" and op == "delete":
            gone_ports.add(ident)
    return routers, networks, gone_ports


def merge(full: DesiredState, partial: DesiredState, routers: set[str], networks: set[str]) -> DesiredState:
    """``full`` with the refetched routers, networks and ports of ``partial`` swapped in.

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
        absent_routers=frozenset(),
        absent_networks=frozenset(),
        absent_ports=frozenset(),
    )
