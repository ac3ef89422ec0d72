"""Floating-IP changes of one router: the diff of its NAT map, its actions, and the O(changed) fast path.

:func:`floatnet.agent.plan.plan_router` diffs a whole router's map (a full sync, a router refetched whole).
A batch of floating-IP changes on a router whose structure did not change is planned by
:func:`plan_fip_delta` from the changed floating IPs alone — before (the agent's cache) and after (the server's
narrowed answer) — and the cached kernel view is updated by :func:`project_fip_delta`: no Python work
proportional to the router's other floating IPs. Both paths build their actions with :class:`FipDiff`, so they
produce the same actions for the same change (unit-tested). A floating IP shared by port forwardings has no
fixed IP: it contributes its forwardings' map elements (``pf_added``/``pf_removed``) and its /32, not a
floating-IP pair. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from floatnet.agent import actions as A
from floatnet.agent.desired import DesiredState, FloatingIp, Router
from floatnet.agent.state import Namespace
from floatnet.linux import names
from floatnet.linux.nat_pf import PfElement


@dataclass(frozen=True)
class FipDiff:
    """How a NAT map ``{floating IP: fixed IP}`` changes; ``ids`` maps the desired addresses to their ids."""

    old: Mapping[str, str]
    new: Mapping[str, str]
    ids: Mapping[str, str]
    added: tuple[str, ...]
    moved: tuple[str, ...]
    removed: tuple[str, ...]
    pf_added: frozenset[PfElement] = frozenset()
    pf_removed: frozenset[PfElement] = frozenset()

    addr_added: frozenset[str] = frozenset()  # /32s the gateway device gains and loses (the fast path's)
    addr_removed: frozenset[str] = frozenset()

    @classmethod
    def between(
        cls,
        old: Mapping[str, str],
        new: Mapping[str, str],
        ids: Mapping[str, str],
        pf_old: frozenset[PfElement] = frozenset(),
        pf_new: frozenset[PfElement] = frozenset(),
    ) -> FipDiff:
        return cls(
            old=old,
            new=new,
            ids=ids,
            added=tuple(sorted(ip for ip in new if ip not in old)),
            moved=tuple(sorted(ip for ip in new if ip in old and old[ip] != new[ip])),
            removed=tuple(sorted(ip for ip in old if ip not in new)),
            pf_added=pf_new - pf_old,
            pf_removed=pf_old - pf_new,
        )

    def refs(self, ips: tuple[str, ...]) -> tuple[A.Ref, ...]:
        """The floating IPs (as resources) behind ``ips``; a removed one has none (it is no longer wanted)."""
        return tuple(("floatingip", self.ids[ip]) for ip in ips if ip in self.ids)

    @property
    def arriving(self) -> tuple[str, ...]:
        """Addresses that get a (new) mapping: added or moved."""
        return self.added + self.moved

    def _pf_refs(self, elements: frozenset[PfElement]) -> tuple[A.Ref, ...]:
        return self.refs(tuple(sorted({e.fip for e in elements})))

    def unmap(self, ns: str) -> list[A.Action]:
        """Remove the pairs of removed and moved addresses (first: a moved fixed IP must be free), and the
        forwardings' elements that go (first: a changed forwarding's new element may overlap its old one)."""
        out: list[A.Action] = [
            A.DelFipMapping(group=ns, refs=self.refs((ip,)), ns=ns, fip=ip, fixed=self.old[ip])
            for ip in self.removed + self.moved
        ]
        if self.pf_removed:
            out.append(A.DelForwarding(group=ns, refs=self._pf_refs(self.pf_removed), ns=ns, elements=self.pf_removed))
        return out

    def map(self, ns: str) -> list[A.Action]:
        out: list[A.Action] = [
            A.AddFipMapping(group=ns, refs=self.refs((ip,)), ns=ns, fip=ip, fixed=self.new[ip]) for ip in self.arriving
        ]
        if self.pf_added:
            out.append(A.AddForwarding(group=ns, refs=self._pf_refs(self.pf_added), ns=ns, elements=self.pf_added))
        return out

    def announce(self, ns: str, gateway_dev: str | None) -> list[A.Action]:
        """Gratuitous ARP for arriving addresses (never blocks), then the conntrack flush of departed or moved
        ones (a kernel round trip per address: last, after every element is in place)."""
        out: list[A.Action] = []
        if self.arriving and gateway_dev is not None:
            out.append(A.Garp(group=ns, ns=ns, dev=gateway_dev, ips=self.arriving))
        if self.removed or self.moved:
            out.append(A.FlushConntrack(group=ns, ns=ns, ips=self.removed + self.moved))
        return out


Fast = Mapping[str, tuple[dict[str, FloatingIp], FipDiff]]  # router -> (marked fips now, their diff)


def fip_map(fips: Mapping[str, FloatingIp]) -> dict[str, str]:
    """``{floating IP address: fixed IP}`` of some floating IPs (those with a fixed IP)."""
    return {f.floating_ip_address: f.fixed_ip_address for f in fips.values() if f.fixed_ip_address}


def pf_elements(fips: Mapping[str, FloatingIp]) -> frozenset[PfElement]:
    """The port forwardings' map elements of some floating IPs."""
    return frozenset().union(*(f.forwardings for f in fips.values()))


def held(fips: Mapping[str, FloatingIp]) -> frozenset[str]:
    """The addresses the router holds as /32s on its gateway device: every floating IP it translates."""
    return frozenset(f.floating_ip_address for f in fips.values())


def same_structure(known: Router, answered: Router) -> bool:
    """True when the two differ at most in their floating IPs (the fast path's precondition)."""
    return replace(known, floatingips={}, floatingips_partial=False) == replace(
        answered, floatingips={}, floatingips_partial=False
    )


def built(router: Router, nsobs: Namespace | None) -> bool:
    """True when the cached namespace holds the router's NAT table and gateway device (the fast path edits
    them; anything missing is the whole-router planner's job)."""
    if nsobs is None or nsobs.nat is None or router.ha is not None:  # an HA router's /32s are keepalived's
        return False
    return router.gateway is None or names.qg_dev(router.gateway.port_id) in nsobs.links


def delta(router: Router, before: Mapping[str, FloatingIp], after: Mapping[str, FloatingIp]) -> FipDiff:
    """The diff from the changed floating IPs ``before`` (as cached) to ``after`` (as answered), by id."""
    if router.gateway is None:  # no gateway: no floating IP is mapped either way
        return FipDiff.between({}, {}, {})
    ids = {f.floating_ip_address: f.id for f in after.values()}
    diff = FipDiff.between(fip_map(before), fip_map(after), ids, pf_elements(before), pf_elements(after))
    was, now = held(before), held(after)
    return replace(diff, addr_added=_slash32(tuple(now - was)), addr_removed=_slash32(tuple(was - now)))


def plan_fip_delta(router: Router, diff: FipDiff) -> list[A.Action]:
    """The actions of a floating-IP-only change on a router whose namespace, devices and table are in place:
    unmap, /32 edits on ``qg-``, map, gratuitous ARP, conntrack flush — O(changed)."""
    gw = router.gateway
    if gw is None:
        return []
    ns, dev = names.router_ns(router.id), names.qg_dev(gw.port_id)
    out = diff.unmap(ns)
    add, remove = diff.addr_added, diff.addr_removed
    if add or remove:
        refs = (("router", router.id), ("port", gw.port_id), *diff.refs(diff.arriving))
        out.append(A.EditAddresses(group=ns, refs=refs, ns=ns, dev=dev, add=add, remove=remove))
    return out + diff.map(ns) + diff.announce(ns, dev)


def project_fip_delta(nsobs: Namespace, router: Router, diff: FipDiff) -> Namespace:
    """The router's cached namespace once :func:`plan_fip_delta`'s actions succeeded (C-level copies only)."""
    gw = router.gateway
    if gw is None or nsobs.nat is None:
        return nsobs
    fips = dict(nsobs.nat.fips)
    for ip in diff.removed:
        fips.pop(ip, None)
    fips.update((ip, diff.new[ip]) for ip in diff.arriving)
    forwardings = (nsobs.nat.forwardings - diff.pf_removed) | diff.pf_added
    dev = names.qg_dev(gw.port_id)
    links = dict(nsobs.links)
    link = links.get(dev)
    if link is not None:
        links[dev] = replace(link, addresses=(link.addresses - diff.addr_removed) | diff.addr_added)
    return replace(nsobs, links=links, nat=replace(nsobs.nat, fips=fips, forwardings=forwardings))


def _slash32(ips: tuple[str, ...]) -> frozenset[str]:
    return frozenset(f"{ip}/32" for ip in ips)


def narrowed(current: DesiredState, desired: DesiredState | None, fast: Fast) -> DesiredState:
    """What a step reports on (the loop's status report): ``current`` plus the fast path's routers narrowed
    to their marked floating IPs (the statuses of the changed ones only, not all 10,000)."""
    if not fast or desired is None:
        return current
    routers = dict(current.routers)
    routers.update((r, replace(desired.routers[r], floatingips=after)) for r, (after, _) in fast.items())
    return replace(current, routers=routers)

