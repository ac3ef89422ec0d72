"""Which hosts a change concerns: the per-host feed's fan-out, decided in the changing transaction.

A host is told of a change when the change alters what its state answer (:mod:`host_state`) holds, so an
agent is woken, and refetches, only for its own routers, networks and ports. For one logged row:

* ``router_id`` R — the host R is placed on (:func:`placed`: its binding, else the computed choice; every
  replica's host for an HA router);
* ``kind`` port — the port's binding host (and the host it left, which its caller names: a delete, a
  re-binding), every DHCP host of its network (each one's DHCP section lists every port's addresses), and the hosts
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
from typing import Any

from sqlalchemy import BindParameter, and_, bindparam, exists, func, select, true, union
from sqlalchemy.orm import Session

from floatnet.core.agent_protocol.scheduling import DHCP, ROUTER, Candidates, alive_hosts, ha_replicas
from floatnet.core.notify import EVERY
from floatnet.db.models import (
    Agent,
    Network,
    NetworkDhcpAgentBinding,
    Port,
    RouterL3AgentBinding,
    RouterPort,
    SecurityGroupPortBinding,
    SecurityGroupRule,
    Subnet,
    table_of,
)
from floatnet.db.session import read_by_ids

SECURITY_KINDS = ("security_group", "security_group_rule")
Hosts = dict[str, set[str]]
_KNOWN = "floatnet_audience_known_ports"

# Every query below is built once: a write resolves its hosts in its own transaction, so statement building
# and SQLAlchemy's cache-key walk would otherwise be paid on every API write (most of a port create's cost).
PORTS, NETWORKS, AGENTS = table_of(Port), table_of(Network), table_of(Agent)
MEMBERS, RULES, ROUTER_PORTS = table_of(SecurityGroupPortBinding), table_of(SecurityGroupRule), table_of(RouterPort)
ON_DHCP, ON_L3 = table_of(NetworkDhcpAgentBinding), table_of(RouterL3AgentBinding)
SUBNETS = table_of(Subnet)
_IDS: BindParameter[list[str]] = bindparam("ids", expanding=True)
# an instance port: bound to a host and not owned by the network (those are in no host's ``ports`` list)
_INSTANCE = and_(PORTS.c.binding_host_id != "", ~PORTS.c.device_owner.startswith("network:"))
_PORT_HOSTS = (
    select(PORTS.c.id, PORTS.c.binding_host_id, PORTS.c.network_id, NETWORKS.c.network_type)
    .join(NETWORKS, NETWORKS.c.id == PORTS.c.network_id)
    .where(PORTS.c.id.in_(_IDS), _INSTANCE)
)
_HOSTS_ON = (
    select(PORTS.c.network_id, PORTS.c.binding_host_id).where(PORTS.c.network_id.in_(_IDS), _INSTANCE).distinct()
)
# The hosts of the members of the groups whose rules name a group as remote group, two ways: through the members
# (one row each: cheap for a small group), or through the distinct binding hosts (walked on the ports' host index,
# one step per host) asking each whether one of its ports is a member (its first port usually is, for a default
# group). Each half runs only when the group sizes (counted up to FEW on the bindings index) call for it, so a
# port create costs per host, not per member of its default group.
FEW = 32
_NAMING = select(RULES.c.security_group_id).where(RULES.c.remote_group_id.in_(_IDS))
_SIZE = select(MEMBERS.c.port_id).where(MEMBERS.c.security_group_id.in_(_NAMING)).limit(FEW).subquery()
_GATE = select((func.count() < FEW).label("few")).select_from(_SIZE).cte("gate")
_FEW_MEMBERS = select(_GATE.c.few).scalar_subquery().is_(True)
_BY_MEMBER = (
    select(RULES.c.remote_group_id, PORTS.c.binding_host_id)
    .join(MEMBERS, MEMBERS.c.security_group_id == RULES.c.security_group_id)
    .join(PORTS, PORTS.c.id == MEMBERS.c.port_id)
    .where(RULES.c.remote_group_id.in_(_IDS), _INSTANCE, _FEW_MEMBERS)
)
_NEXT = PORTS.alias("next_host")
_FIRST_HOST = select(func.min(PORTS.c.binding_host_id)).where(PORTS.c.binding_host_id > "").scalar_subquery()
_HOSTS = select(_FIRST_HOST.label("host")).where(~_FEW_MEMBERS)  # no walk when the members are few
_HOSTS_CTE = _HOSTS.cte("hosts", recursive=True)
_HOSTS_CTE = _HOSTS_CTE.union_all(
    select(select(func.min(_NEXT.c.binding_host_id)).where(_NEXT.c.binding_host_id > _HOSTS_CTE.c.host)
           .scalar_subquery())
    .where(_HOSTS_CTE.c.host.is_not(None))
)  # fmt: skip
_ON_HOST = PORTS.alias("on_host")
_MEMBER_ON_HOST = exists().where(
    _ON_HOST.c.binding_host_id == _HOSTS_CTE.c.host,
    ~_ON_HOST.c.device_owner.startswith("network:"),
    exists()
    .where(MEMBERS.c.port_id == _ON_HOST.c.id, MEMBERS.c.security_group_id == RULES.c.security_group_id)
    .correlate_except(MEMBERS),
)
_BY_HOST = (
    select(RULES.c.remote_group_id, _HOSTS_CTE.c.host)
    .select_from(RULES.join(_HOSTS_CTE, true()))  # every (rule, host) pair: the hosts are few
    .where(RULES.c.remote_group_id.in_(_IDS), _HOSTS_CTE.c.host.is_not(None), ~_FEW_MEMBERS, _MEMBER_ON_HOST)
)
_REFERRERS = union(_BY_MEMBER, _BY_HOST)
_GROUPS_OF = select(MEMBERS.c.port_id, MEMBERS.c.security_group_id).where(MEMBERS.c.port_id.in_(_IDS))
_ROUTERS_ON = (
    select(PORTS.c.network_id, ROUTER_PORTS.c.router_id)
    .join(PORTS, PORTS.c.id == ROUTER_PORTS.c.port_id)
    .where(PORTS.c.network_id.in_(_IDS))
)
# kind -> rows (resource id, its binding's id or None when unbound, the bound agent's host, placeable unbound)
_HAS_DHCP = exists().where(SUBNETS.c.network_id == NETWORKS.c.id, SUBNETS.c.enable_dhcp.is_(True))
_PLACED = {
    ROUTER: select(ON_L3.c.router_id, ON_L3.c.router_id, AGENTS.c.host, true())
    .select_from(ON_L3.outerjoin(AGENTS, AGENTS.c.id == ON_L3.c.agent_id))
    .where(ON_L3.c.router_id.in_(_IDS)),
    DHCP: select(NETWORKS.c.id, ON_DHCP.c.network_id, AGENTS.c.host, _HAS_DHCP)
    .select_from(NETWORKS.outerjoin(ON_DHCP, ON_DHCP.c.network_id == NETWORKS.c.id))
    .outerjoin(AGENTS, AGENTS.c.id == ON_DHCP.c.agent_id)
    .where(NETWORKS.c.id.in_(_IDS)),
}  # fmt: skip


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


@dataclass(frozen=True)
class PortFacts:
    """What :func:`resolve` needs of one port, as the transaction that wrote it holds it (see :func:`known`)."""

    host: str
    device_owner: str
    network_id: str
    network_type: str
    groups: frozenset[str]

    @property
    def instance(self) -> bool:
        """Bound and not network-owned: the ports a host's answer lists (as :data:`_INSTANCE`)."""
        return bool(self.host) and not self.device_owner.startswith("network:")


def known(session: Session, port_id: str, facts: PortFacts) -> None:
    """Tell :func:`resolve` the state port ``port_id`` commits with, so it is not read back: its binding host,
    owner, network (and type) and security groups. Only for a caller that has just written them all and writes
    the port no more in this transaction (the API's port create); any other port is read from the database."""
    session.info.setdefault(_KNOWN, {})[port_id] = facts


def _rows(session: Session, stmt: Any, ids: Iterable[str]) -> Any:
    """Run a prebuilt statement of this module for ``ids`` (its expanding ``ids`` parameter)."""
    return read_by_ids(session, stmt, sorted(ids))


def placed(session: Session, kind: str, ids: Iterable[str], down_time: float, per_network: int = 1) -> Hosts:
    """Where each router (``kind`` ROUTER) or network's DHCP (DHCP) of ``ids`` runs: its bindings' agent hosts
    (none for a slot the operator emptied), then the computed choice for what is unbound — an HA router's
    replica hosts; a network's missing DHCP slots (of ``per_network``, ``dhcp_agents_per_network``) only if it
    has a DHCP-enabled subnet, as :func:`floatnet.core.agent_protocol.host_state.snapshot` decides
    (:meth:`Candidates.hosts_of`). One query, and the agents (and, for routers, the HA replicas) only when
    something unbound is placed."""
    wanted = set(ids)
    if not wanted:
        return {}
    slots: dict[tuple[str, str], tuple[str | None, ...]] = {}
    placeable = set(wanted) if kind == ROUTER else set()  # a router without a binding row is placed
    for resource_id, binding, host, has_dhcp in _rows(session, _PLACED[kind], wanted):
        if binding is not None:
            slots[kind, resource_id] = (*slots.get((kind, resource_id), ()), host)
        placeable |= {resource_id} if has_dhcp else set()
    unbound = any((kind, resource_id) not in slots for resource_id in placeable)
    replicas = ha_replicas(session) if kind == ROUTER and unbound else {}
    choice = Candidates(
        bound=slots, per_network=per_network, replicas=replicas, load=lambda: alive_hosts(session, down_time, EVERY)
    )
    return {
        resource_id: set(choice.hosts_of(kind, resource_id))
        if resource_id in placeable
        else {host for host in slots.get((kind, resource_id), ()) if host}
        for resource_id in wanted
    }


def _pairs(rows: Iterable[Any]) -> Hosts:
    """``(key, value)`` rows as key -> values (empty values dropped)."""
    found: Hosts = defaultdict(set)
    for key, value in rows:
        if value:
            found[key].add(value)
    return found


def port_hosts_by_network(session: Session, network_ids: set[str]) -> Hosts:
    """Network -> the binding hosts of its instance ports."""
    return _pairs(_rows(session, _HOSTS_ON, network_ids)) if network_ids else {}


def port_hosts(session: Session, port_ids: set[str]) -> tuple[Hosts, set[str]]:
    """Port -> its binding host (instance ports only: network-owned ports are not in any ``ports`` list), and
    the vxlan networks among those bound ports' networks (every host carrying one lists all its carriers as
    VXLAN peers — :mod:`floatnet.core.agent_protocol.tunnel_peers` — so a port bound there concerns them all).
    One query: the network type comes with the port's row."""
    found: Hosts = defaultdict(set)
    tunnelled: set[str] = set()
    if port_ids:
        for port_id, host, network_id, network_type in _rows(session, _PORT_HOSTS, port_ids):
            found[port_id].add(host)
            tunnelled |= {network_id} if network_type == "vxlan" else set()
    return found, tunnelled


def remote_referrers(session: Session, group_ids: set[str]) -> Hosts:
    """Group -> the hosts of the instance ports in a group with a rule naming it as ``remote_group_id``."""
    return _pairs(_rows(session, _REFERRERS, group_ids)) if group_ids else {}


def groups_of(session: Session, port_ids: set[str]) -> Hosts:
    """Port -> its security groups."""
    return _pairs(_rows(session, _GROUPS_OF, port_ids)) if port_ids else {}


def routers_on(session: Session, network_ids: set[str]) -> Hosts:
    """Network -> the routers with an interface or gateway port on it."""
    return _pairs(_rows(session, _ROUTERS_ON, network_ids)) if network_ids else {}


def _ports(session: Session, port_ids: set[str]) -> tuple[Hosts, set[str], Hosts]:
    """:func:`port_hosts` and :func:`groups_of` of ``port_ids``: from :func:`known` facts where the
    transaction gave them, from the database for the others."""
    facts: dict[str, PortFacts] = session.info.get(_KNOWN, {})
    unknown = {port_id for port_id in port_ids if port_id not in facts}
    hosts, tunnelled = port_hosts(session, unknown)
    groups = groups_of(session, unknown)
    for port_id in port_ids - unknown:
        fact = facts[port_id]
        groups[port_id] = set(fact.groups)
        if fact.instance:
            hosts[port_id] = {fact.host}
            tunnelled |= {fact.network_id} if fact.network_type == "vxlan" else set()
    return hosts, tunnelled, groups


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
    routers_on: Hosts
    ports: Hosts
    port_groups: Hosts
    referrers: Hosts
    tunnelled: set[str]

    @classmethod
    def read(cls, session: Session, targets: list[Target], down_time: float, per_network: int) -> _Lookup:
        port_networks = {t.network_id for t in targets if t.network_id and t.kind == "port"}
        port_ids = {t.resource_id for t in targets if t.kind == "port"}
        ports, tunnelled, port_groups = _ports(session, port_ids)
        whole = _whole_networks(targets) | tunnelled
        networks = whole | port_networks
        secured = {t.network_id for t in targets if t.network_id and t.kind in SECURITY_KINDS}
        on = routers_on(session, whole)
        router_ids = {t.router_id for t in targets if t.router_id} | {r for rs in on.values() for r in rs}
        groups = {t.resource_id for t in targets if t.kind in SECURITY_KINDS and not t.network_id}
        groups |= {g for gs in port_groups.values() for g in gs}
        return cls(
            routers=placed(session, ROUTER, router_ids, down_time),
            dhcp=placed(session, DHCP, networks, down_time, per_network),
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


def resolve(session: Session, targets: list[Target], down_time: float, per_network: int = 1) -> dict[int, set[str]]:
    """Seq -> the hosts each of ``targets`` concerns, read in ``session`` (its current, flushed state);
    ``per_network``: ``dhcp_agents_per_network``."""
    live = [target for target in targets if target.op != "status"]
    lookup = _Lookup.read(session, live, down_time, per_network) if live else None
    return {target.seq: lookup.hosts(target) if lookup else set() for target in targets}
