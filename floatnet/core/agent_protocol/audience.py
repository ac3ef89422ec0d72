"""Which hosts a change concerns: the per-host feed's fan-out, decided in the changing transaction.

A host is told of a change when the change alters what its state answer (:mod:`host_state`) holds, so an
agent is woken, and refetches, only for its own routers, networks and ports. For one logged row:

* ``router_id`` R — the host R is placed on (:func:`placed`: its binding, else the computed choice; every
  replica's host for an HA router);
* ``kind`` port — the port's binding host (and the host it left, which its caller names: a delete, a
  re-binding), the DHCP hosts of its network (the DHCP section lists every port's addresses), and the hosts
  of the ports whose rules name one of its groups as remote group (their ``remote_groups`` hold its addresses);
  on a vxlan network, every host carrying that network too (their tunnel peers may move: see
  :mod:`floatnet.core.agent_protocol.tunnel_peers`);
* ``kind`` security_group / security_group_rule — with a network N: the hosts of the instance ports on N
  (only they list the group); without one (a group's member set moved): the hosts of the ports whose rules
  name the group as remote group;
* any other row with a network N (network, subnet, …) — every host whose answer lists N: N's DHCP hosts,
  the hosts of the instance ports on N and the hosts of the routers with an interface or gateway on N;
* ``floatingip`` rows name their router (above); ``op: "status"`` rows concern no host (agents ignore them).

A router or network that moved (:func:`floatnet.core.agent_protocol.placement.log_move`) and a deleted router
or network are also announced to where they were: callers name those hosts, and a delete's hosts are
resolved when it is logged, before the rows go. :data:`EVERY` ("*") stands for every host when placement
falls back to "whoever asks" (no agent registered at all).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from floatnet.core.agent_protocol.scheduling import BINDINGS, DHCP, ROUTER, candidates
from floatnet.core.notify import EVERY
from floatnet.db.models import Agent, Network, Port, RouterPort, SecurityGroupPortBinding, SecurityGroupRule, Subnet

SECURITY_KINDS = ("security_group", "security_group_rule")
Hosts = dict[str, set[str]]


@dataclass(frozen=True)
class Target:
    """One logged change waiting for its hosts (``extra``: hosts its caller named, e.g. where it was)."""

    seq: int
    kind: str
    resource_id: str
    op: str
    router_id: str | None
    network_id: str | None
    extra: tuple[str, ...] = ()


def placed(session: Session, kind: str, ids: Iterable[str], down_time: float) -> Hosts:
    """Where each router (``kind`` ROUTER) or network's DHCP (DHCP) of ``ids`` runs: its binding's agent host
    (none when the operator unbound it), else the computed choice — an HA router's replica hosts; for a network
    only if it has a DHCP-enabled subnet, as :func:`floatnet.core.agent_protocol.host_state.snapshot` decides."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    model, column = BINDINGS[kind]
    rows = session.execute(
        select(column, Agent.host).select_from(model).outerjoin(Agent, Agent.id == model.agent_id)
        .where(column.in_(wanted))
    )  # fmt: skip
    found: Hosts = {resource_id: set() for resource_id in wanted}
    unbound = set(wanted)
    for resource_id, host in rows:
        unbound.discard(resource_id)
        if host:
            found[resource_id].add(host)
    if unbound and kind == DHCP:
        with_dhcp = select(Subnet.network_id).where(Subnet.network_id.in_(unbound), Subnet.enable_dhcp.is_(True))
        unbound &= set(session.scalars(with_dhcp))
    if unbound:
        choice = candidates(session, down_time, EVERY, with_bindings=False)
        for resource_id in unbound:  # an HA router (never bound) runs on every one of its replicas' hosts
            found[resource_id] |= set(choice.hosts_of(kind, resource_id))
    return found


def _pairs(session: Session, stmt: object) -> Hosts:
    """``(key, host)`` rows as key -> hosts (empty hosts dropped)."""
    found: Hosts = defaultdict(set)
    for key, host in session.execute(stmt):  # type: ignore[call-overload]
        if host:
            found[key].add(host)
    return found


def _instance(stmt: object) -> object:
    return stmt.where(Port.binding_host_id != "", ~Port.device_owner.startswith("network:"))  # type: ignore[attr-defined]


def port_hosts_by_network(session: Session, network_ids: set[str]) -> Hosts:
    """Network -> the binding hosts of its instance ports."""
    if not network_ids:
        return {}
    stmt = select(Port.network_id, Port.binding_host_id).where(Port.network_id.in_(network_ids)).distinct()
    return _pairs(session, _instance(stmt))


def port_hosts(session: Session, port_ids: set[str]) -> tuple[Hosts, set[str]]:
    """Port -> its binding host (instance ports only: network-owned ports are not in any ``ports`` list), and
    the vxlan networks among those bound ports' networks (every host carrying one lists all its carriers as
    VXLAN peers — :mod:`floatnet.core.agent_protocol.tunnel_peers` — so a port bound there concerns them all).
    One query: the network type comes with the port's row."""
    found: Hosts = defaultdict(set)
    tunnelled: set[str] = set()
    if port_ids:
        stmt = select(Port.id, Port.binding_host_id, Port.network_id, Network.network_type).join(
            Network, Network.id == Port.network_id
        )
        rows = session.execute(_instance(stmt.where(Port.id.in_(port_ids))))  # type: ignore[call-overload]
        for port_id, host, network_id, network_type in rows:
            found[port_id].add(host)
            tunnelled |= {network_id} if network_type == "vxlan" else set()
    return found, tunnelled


def remote_referrers(session: Session, group_ids: set[str]) -> Hosts:
    """Group -> the hosts of the instance ports in a group with a rule naming it as ``remote_group_id``."""
    if not group_ids:
        return {}
    binding = SecurityGroupPortBinding
    stmt = (
        select(SecurityGroupRule.remote_group_id, Port.binding_host_id)
        .join(binding, binding.security_group_id == SecurityGroupRule.security_group_id)
        .join(Port, Port.id == binding.port_id)
        .where(SecurityGroupRule.remote_group_id.in_(group_ids))
        .distinct()
    )
    return _pairs(session, _instance(stmt))


def groups_of(session: Session, port_ids: set[str]) -> dict[str, set[str]]:
    """Port -> its security groups."""
    found: dict[str, set[str]] = defaultdict(set)
    if port_ids:
        binding = SecurityGroupPortBinding
        stmt = select(binding.port_id, binding.security_group_id).where(binding.port_id.in_(port_ids))
        for port_id, group_id in session.execute(stmt):
            found[port_id].add(group_id)
    return found


def routers_on(session: Session, network_ids: set[str]) -> dict[str, set[str]]:
    """Network -> the routers with an interface or gateway port on it."""
    found: dict[str, set[str]] = defaultdict(set)
    if network_ids:
        stmt = select(Port.network_id, RouterPort.router_id).join(Port, Port.id == RouterPort.port_id)
        for network_id, router_id in session.execute(stmt.where(Port.network_id.in_(network_ids))):
            found[network_id].add(router_id)
    return found


def _whole_networks(targets: list[Target]) -> set[str]:
    """The networks whose every host is concerned (rows that are neither port, security nor status rows)."""
    return {
        t.network_id for t in targets
        if t.network_id and t.kind != "port" and t.kind not in SECURITY_KINDS
    }  # fmt: skip


@dataclass
class _Lookup:
    """Everything :func:`resolve` needs about a batch of targets, read with a few set-based queries."""

    routers: Hosts
    dhcp: Hosts
    ports_on: Hosts
    routers_on: dict[str, set[str]]
    ports: Hosts
    port_groups: dict[str, set[str]]
    referrers: Hosts
    tunnelled: set[str]

    @classmethod
    def read(cls, session: Session, targets: list[Target], down_time: float) -> _Lookup:
        port_networks = {t.network_id for t in targets if t.network_id and t.kind == "port"}
        port_ids = {t.resource_id for t in targets if t.kind == "port"}
        ports, tunnelled = port_hosts(session, port_ids)
        whole = _whole_networks(targets) | tunnelled
        networks = whole | port_networks
        secured = {t.network_id for t in targets if t.network_id and t.kind in SECURITY_KINDS}
        on = routers_on(session, whole)
        router_ids = {t.router_id for t in targets if t.router_id} | {r for rs in on.values() for r in rs}
        port_groups = groups_of(session, port_ids)
        groups = {t.resource_id for t in targets if t.kind in SECURITY_KINDS and not t.network_id}
        groups |= {g for gs in port_groups.values() for g in gs}
        return cls(
            routers=placed(session, ROUTER, router_ids, down_time),
            dhcp=placed(session, DHCP, networks, down_time),
            ports_on=port_hosts_by_network(session, whole | secured),
            routers_on=on,
            ports=ports,
            port_groups=port_groups,
            referrers=remote_referrers(session, groups),
            tunnelled=tunnelled,
        )

    def _carriers(self, network_id: str) -> set[str]:
        """Every host whose answer lists the network: its DHCP hosts, its ports' hosts, its routers' hosts."""
        found = self.dhcp.get(network_id, set()) | self.ports_on.get(network_id, set())
        for router_id in self.routers_on.get(network_id, ()):
            found |= self.routers.get(router_id, set())
        return found

    def hosts(self, target: Target) -> set[str]:
        """The hosts of one target (see the module docstring)."""
        if target.op == "status":
            return set()
        found = set(target.extra)
        if target.router_id:
            found |= self.routers.get(target.router_id, set())
        net = target.network_id
        if target.kind == "port":
            found |= self.ports.get(target.resource_id, set()) | self.dhcp.get(net or "", set())
            for group in self.port_groups.get(target.resource_id, ()):
                found |= self.referrers.get(group, set())
            if net in self.tunnelled:  # a bound port may make its host a new carrier: every carrier's peers move
                found |= self._carriers(net)
        elif target.kind in SECURITY_KINDS:
            found |= self.ports_on.get(net, set()) if net else self.referrers.get(target.resource_id, set())
        elif net:
            found |= self._carriers(net)
        return {EVERY} if EVERY in found else found


def resolve(session: Session, targets: list[Target], down_time: float) -> dict[int, set[str]]:
    """Seq -> the hosts each of ``targets`` concerns, read in ``session`` (its current, flushed state)."""
    live = [target for target in targets if target.op != "status"]
    lookup = _Lookup.read(session, live, down_time) if live else None
    return {target.seq: lookup.hosts(target) if lookup else set() for target in targets}
