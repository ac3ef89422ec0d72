"""What one reconcile step must look at: the dirty set every trigger marks, and the part of the desired state
it covers. Pure (no I/O).

Every trigger of the loop (:mod:`floatnet.agent.loop`) marks resources dirty in a :class:`Dirty`; the triggers
of one tick are coalesced (:meth:`Dirty.add`) and one step observes, plans, applies and reports them:

- a feed change marks the namespace of each router/network it touches (planned whole against the view), or —
  a floating-IP-only change on a built, otherwise unchanged router — just those floating IPs (``fips``: the
  O(changed) fast path), plus instance ports deleted;
- a kernel event and a failure retry mark a namespace ``stale``: it is re-read from the kernel, then planned;
- an OVS change (a hypervisor plug) sets ``ovs``: every router/network/port is planned against the view;
- a security-group change row marks the groups it names (``groups``, after refetching them): their chains,
  the cuts of their removed rules and the member sets their rules name are re-planned, not their ports;
- a change of the security-group tables under the agent sets ``security``: they are re-read, and every
  instance port is planned;
- the periodic full observe, a 410 from the feed and a failure backoff set ``everything``: relist the server,
  observe every owned object, plan all of it and sweep what the server no longer lists (the full resync).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from floatnet.agent.desired import DesiredState, FloatingIp
from floatnet.agent.plan_security import groups_kept
from floatnet.linux import names


@dataclass
class Dirty:
    """The resources one step reconciles (see the module docstring); empty (falsy): nothing to do."""

    everything: bool = False
    namespaces: set[str] = field(default_factory=set)  # planned whole against the view
    stale: set[str] = field(default_factory=set)  # re-observed from the kernel first, then planned whole
    fips: dict[str, dict[str, FloatingIp | None]] = field(default_factory=dict)  # router -> {id: as cached before}
    ovs: bool = False
    security: bool = False  # the security-group tables changed under the agent: re-read, plan every port
    groups: set[str] = field(default_factory=set)  # security groups re-planned without their ports
    absent_routers: set[str] = field(default_factory=set)
    absent_networks: set[str] = field(default_factory=set)
    gone_ports: set[str] = field(default_factory=set)
    gone_fips: set[str] = field(default_factory=set)  # floating IPs no longer on any router: reported DOWN
    feed: set[str] = field(default_factory=set)  # router/network ids the feed changed (for the step's log line)

    def __bool__(self) -> bool:
        return bool(
            self.everything or self.namespaces or self.stale or self.fips or self.ovs or self.security
            or self.groups or self.absent_routers
            or self.absent_networks or self.gone_ports or self.gone_fips
        )  # fmt: skip

    def add(self, other: Dirty) -> None:
        """Coalesce ``other`` into this set: the union; for a floating IP marked twice, the oldest cached value
        (the kernel still holds what the first change saw)."""
        self.everything |= other.everything
        self.ovs |= other.ovs
        self.security |= other.security
        for mine, theirs in (
            (self.namespaces, other.namespaces), (self.stale, other.stale), (self.feed, other.feed),
            (self.groups, other.groups),
            (self.absent_routers, other.absent_routers), (self.absent_networks, other.absent_networks),
            (self.gone_ports, other.gone_ports), (self.gone_fips, other.gone_fips),
        ):  # fmt: skip
            mine |= theirs
        for router_id, before in other.fips.items():
            known = self.fips.setdefault(router_id, {})
            for fip_id, fip in before.items():
                known.setdefault(fip_id, fip)

    def whole(self) -> set[str]:
        """The namespaces planned whole (fed or stale, and the ones of absent routers/networks)."""
        gone = {names.router_ns(r) for r in self.absent_routers} | {names.dhcp_ns(n) for n in self.absent_networks}
        return self.namespaces | self.stale | gone


def scope(desired: DesiredState, dirty: Dirty) -> DesiredState:
    """The part of ``desired`` a (non-full) step plans whole: the routers/networks of the dirty namespaces,
    the instance ports of the dirty networks, and what the feed said is gone — or, with ``ovs``, every router,
    network and port (with ``security``, every port). Partial: nothing outside it is ever deleted."""
    wanted = dirty.whole()
    every = dirty.ovs
    return replace(
        desired,
        complete=False,
        routers={i: r for i, r in desired.routers.items() if every or names.router_ns(i) in wanted},
        networks={i: n for i, n in desired.networks.items() if every or names.dhcp_ns(i) in wanted},
        ports={
            i: p for i, p in desired.ports.items() if every or dirty.security or names.dhcp_ns(p.network_id) in wanted
        },  # fmt: skip
        absent_routers=frozenset(dirty.absent_routers - set(desired.routers)),
        absent_networks=frozenset(dirty.absent_networks - set(desired.networks)),
        absent_ports=frozenset(dirty.gone_ports - set(desired.ports)),
        groups_in_use=groups_kept(desired),
    )


def changed_fips(
    desired: DesiredState, router_id: str, before: Mapping[str, FloatingIp | None]
) -> dict[str, FloatingIp]:
    """The fast path's "after": the marked floating IPs ``router_id`` holds now (O(marked))."""
    fips = desired.routers[router_id].floatingips
    return {i: fips[i] for i in before if i in fips}
