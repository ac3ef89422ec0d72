"""The reconcile loop: every trigger marks resources dirty, one step reconciles them (docs/architecture.md).

Each tick (:meth:`Agent.step`) coalesces what is due into one :class:`~floatnet.agent.dirty.Dirty` set:

- the change feed (:meth:`Agent.on_changes`): the touched routers/networks are refetched (``state?router_id=…``)
  and merged into the desired state; their namespaces are dirty — or, for floating-IP-only changes on built
  routers, just those floating IPs (the fast path, :mod:`floatnet.agent.plan_fips`: O(changed) work); security
  group rows refetch and re-plan only the groups they name (:mod:`floatnet.agent.sg_changes`);
- the kernel (:meth:`Agent.on_kernel`): owned namespaces changed under the agent
  (:mod:`floatnet.agent.kernel_watch`) and namespaces due for a retry after a failure (1 s … 30 s) are stale
  (re-read from the kernel); OVS ports changed by a hypervisor mark every resource for planning;
- the full resync (at start, every ``full_interval`` — the periodic full observe, which waits for a second
  without feed changes so it never holds up a burst of them —, after a 410, after a server or unexpected
  failure, with backoff): everything.

:meth:`Agent.reconcile` is the one step: observe the dirty resources, plan them (pure), apply, update the view
(the projection of what was applied; a re-observation where something failed), report, and log drift once with
what changed. A router or network the planner cannot handle is ``ERROR`` (permanent: not retried until it
changes) and never stops the others. Nothing is flushed: a restart on an up-to-date kernel plans no action.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from floatnet.agent import drift, plan_fips, sg_changes, sg_view, tunnel_view
from floatnet.agent import status as S
from floatnet.agent.actions import Action, Ref
from floatnet.agent.apply import ApplyResult
from floatnet.agent.client import Client, ServerError
from floatnet.agent.desired import DesiredState, DesiredStateError, FloatingIp, parse_state
from floatnet.agent.dirty import Dirty, changed_fips, scope
from floatnet.agent.kernel import Kernel
from floatnet.agent.kernel_watch import EVERYTHING, SECURITY
from floatnet.agent.merge import Touched, complete_routers, gone_fips, merge, only_networks, touched
from floatnet.agent.plan import plan
from floatnet.agent.plan_common import PlanContext
from floatnet.agent.plan_security import plan_changed_groups, remember_applied, used_groups
from floatnet.agent.plan_tunnels import local_tags, localize
from floatnet.agent.projection import carry_vrrp, project
from floatnet.agent.state import Observed, OvsPort
from floatnet.agent.watch import RELIST, Heartbeat, Watcher
from floatnet.linux import names

log = logging.getLogger(__name__)

TICK = 0.05
QUIET = 1.0  # seconds without feed changes before a due periodic full observe runs (see Agent._periodic_due)
MAX_BACKOFF = 30.0


class Agent:
    """One node's reconcile loop; ``run()`` blocks until ``stop`` is set (SIGTERM/SIGINT)."""

    def __init__(self, make_client: Callable[[], Client], kernel: Kernel, ctx: PlanContext,
                 report_interval: float, base_config: dict[str, Any], full_interval: float = 60.0) -> None:  # fmt: skip
        self.make_client = make_client
        self.client = make_client()
        self.kernel = kernel
        self.ctx = ctx
        self.base_config = base_config
        self.stop = threading.Event()
        self.events: queue.Queue[Any] = queue.Queue()
        self.watcher = Watcher(make_client, self.events, self.stop)
        self.heartbeat = Heartbeat(make_client, self.configurations, report_interval, self.stop)
        self.lock = threading.Lock()
        self.desired: DesiredState | None = None
        self.observed = Observed()
        self.ovs_planned: Mapping[str, OvsPort] = {}  # the OVS ports the last OVS step planned against
        self.errors: dict[Ref, str] = {}
        self.reported: dict[tuple[str, str], str] = {}
        self.resync_at: float | None = 0.0
        self.backoff = 1.0
        self.syncs = 0
        self.step_ok = True
        self.full_interval = full_interval  # the periodic full observe: catches what kernel events missed
        self.last_full = 0.0
        self.last_change = 0.0  # when the feed last brought changes (the periodic full observe waits for quiet)
        self.repair_backoff = drift.Backoff()
        self.repairs: dict[Ref, tuple[float, str]] = {}  # resource -> (wall time, what) of its last repair
        self.retrying: set[str] = set()  # namespaces whose last actions failed, waiting for their retry

    # -- reporting -------------------------------------------------------------------------------------------

    def configurations(self) -> dict[str, Any]:
        """The agent's ``configurations`` (bridge mappings, counts, current errors, last repairs) for the agents
        API (sent with every heartbeat)."""
        with self.lock:
            desired, errors, repairs = self.desired, dict(self.errors), dict(self.repairs)
        return {
            **self.base_config,
            "routers": len(desired.routers) if desired else 0,
            "networks": len(desired.networks) if desired else 0,
            "ports": len(desired.ports) if desired else 0,
            "errors": [{"kind": k, "id": i, "reason": r} for (k, i), r in sorted(errors.items())],
            "repairs": drift.listing(repairs),
        }

    def _report(self, statuses: S.Statuses) -> None:
        delta = S.changed(statuses, self.reported)
        if not any(delta.values()):
            return
        try:
            self.client.report_status(delta)
        except ServerError as exc:
            log.warning("status report failed (will retry): %s", exc)
            return
        self.reported.update(((kind, i), s) for kind, values in delta.items() for i, s in values.items())

    # -- the triggers ----------------------------------------------------------------------------------------

    def run(self) -> None:
        """Until stopped: gather each tick's triggers into one dirty set and reconcile it (:meth:`step`)."""
        self.heartbeat.start()
        self.watcher.start()
        while not self.stop.is_set():
            self._guarded(self.step)

    def step(self) -> None:
        """One tick: wait up to :data:`TICK` for the feed, coalesce every trigger, run one reconcile step."""
        dirty = self.triggers()
        if dirty:
            self.reconcile(dirty)

    def triggers(self) -> Dirty:
        """Everything due now, as one dirty set: the full resync (the periodic full observe, a 410, a failure
        backoff) — which covers all the rest —, else the feed's changes plus the local triggers
        (:meth:`on_kernel`; they wait while the server or OVS is unreachable)."""
        batch = self._next_batch()
        if batch:
            self.last_change = time.monotonic()
        if batch is RELIST or (self.resync_at is None and self._periodic_due()):
            self.resync_at = time.monotonic()
        if self.resync_at is not None and time.monotonic() >= self.resync_at:
            return Dirty(everything=True)
        dirty = self.on_changes(batch) if batch else Dirty()
        if self.desired is not None and self.step_ok:
            dirty.add(self.on_kernel())
        return dirty

    def _periodic_due(self) -> bool:
        """The periodic full observe (a safety net: it relists and re-plans everything, 0.1–0.5 s at a thousand
        floating IPs) is the lowest-priority work: once due it waits for :data:`QUIET` without feed changes, so
        no change of a burst waits for it; a feed never quiet for another ``full_interval`` cannot starve it."""
        now = time.monotonic()
        late = now - self.last_full - self.full_interval
        return late >= 0 and (now - self.last_change >= QUIET or late >= self.full_interval)

    def _next_batch(self) -> Any:
        """Changes queued by the watcher (merged), RELIST, or None after a tick without any."""
        try:
            first = self.events.get(timeout=TICK)
        except queue.Empty:
            return None
        batch: list[dict[str, Any]] = []
        item = first
        while True:
            if item == RELIST:
                return RELIST
            batch += item
            try:
                item = self.events.get_nowait()
            except queue.Empty:
                return batch

    def on_changes(self, changes: list[dict[str, Any]]) -> Dirty:
        """The feed as a trigger: refetch the routers/networks the changes touch, merge them into the desired
        state and mark their namespaces dirty — or, for floating-IP-only changes on built routers that did not
        change otherwise, just those floating IPs (the fast path: O(changed) work per change). Security-group
        rows refetch and mark only the groups they name (:meth:`_on_security`)."""
        batch = touched(changes)
        secured = self._on_security(batch)
        if not (batch.routers or batch.networks or batch.gone_ports):
            return secured
        partial, answer, asked = self._fetch(batch)
        fast = asked is not None and self._narrowable(answer)
        with self.lock:
            previous = self.desired
            assert previous is not None
            self.desired = merge(previous, partial, batch.routers, batch.networks)
            gone = gone_fips(previous, self.desired, batch.routers, asked)
        self.reported.update(S.known(answer))  # what the server holds: only differences are reported
        dirty = Dirty(
            gone_ports=set(batch.gone_ports), gone_fips=gone, feed=batch.routers | batch.networks,
            absent_routers=set(answer.absent_routers), absent_networks=set(answer.absent_networks),
        )  # fmt: skip
        if fast and asked is not None:
            for router_id in answer.routers:
                known = previous.routers[router_id].floatingips
                dirty.fips[router_id] = {i: known.get(i) for i in asked}
        else:
            dirty.namespaces = {names.router_ns(r) for r in batch.routers} | {names.dhcp_ns(n) for n in batch.networks}
        dirty.add(secured)
        return dirty

    def _on_security(self, batch: Touched) -> Dirty:
        """Security-group rows: refetch the groups they name (``state?security_group_id=…``), merge them and
        mark them for re-planning; the networks of ports whose group flipped renderability join ``batch``."""
        found = sg_changes.refresh(self.client, self.desired, batch.security) if self.desired is not None else None
        if found is None:
            return Dirty()
        with self.lock:
            self.desired, groups, networks = found
        batch.networks |= networks
        return Dirty(groups=groups, feed={f"sg:{g}" for g in groups})

    def on_kernel(self) -> Dirty:
        """The local triggers: owned namespaces the kernel reports changed under the agent and failed ones due
        for their retry (both spaced out by backoff) are stale; OVS ports that differ from those the last OVS step
        planned with (a hypervisor plugging a port; never the view read back after applying, where a port plugged
        meanwhile would count as planned) set ``ovs``. Nothing here polls the kernel (descriptors and counters)."""
        due = self.repair_backoff.due(self.kernel.changed(), time.monotonic())
        if EVERYTHING in due:  # an OVS daemon was restarted: every namespace is re-planned (ports re-plugged)
            assert self.desired is not None
            due |= set(self.observed.namespaces) | set(project(self.desired, self.ctx, {}).namespaces)
            due.discard(EVERYTHING)
        security = SECURITY in due
        due.discard(SECURITY)
        return Dirty(stale=due, ovs=self.kernel.observe_ovs() != self.ovs_planned, security=security)

    def _fetch(self, batch: Touched) -> tuple[DesiredState, DesiredState, set[str] | None]:
        """The filtered desired state for a batch, the server's answer as sent (for the statuses it holds), and
        the floating-IP ids the answer was narrowed to (None: routers fetched whole).

        When only floating IPs changed, the routers are fetched narrowed to them and completed from the
        cached state: one element per change instead of the router's thousands.
        """
        if not (batch.routers or batch.networks):
            empty = parse_state({"seq": 0}, complete=False, absent_ports=batch.gone_ports)
            return empty, empty, None
        if batch.fips_only and self.desired is not None:
            asked = set().union(*batch.fips.values())
            doc = self.client.state(batch.routers, (), asked)
            answer = parse_state(only_networks(doc, set()), complete=False, absent_ports=batch.gone_ports)
            completed = complete_routers(answer, self.desired, asked)
            if completed is not None:
                return completed, answer, asked
        doc = self.client.state(batch.routers, batch.networks)
        answer = parse_state(only_networks(doc, batch.networks), complete=False, absent_ports=batch.gone_ports)
        return answer, answer, None

    def _narrowable(self, answer: DesiredState) -> bool:
        """True when a narrowed answer can be applied as floating-IP deltas: no full resync pending, and every
        router is known, up, built (namespace, NAT table, gateway device) and unchanged but for its floating
        IPs."""
        if self.resync_at is not None or self.desired is None or answer.absent_routers or not answer.routers:
            return False
        for router in answer.routers.values():
            known = self.desired.routers.get(router.id)
            nsobs = self.observed.namespaces.get(names.router_ns(router.id))
            if known is None or not router.floatingips_partial or not router.admin_state_up:
                return False
            if not plan_fips.built(router, nsobs) or not plan_fips.same_structure(known, router):
                return False
        return True

    # -- the step --------------------------------------------------------------------------------------------

    def reconcile(self, dirty: Dirty) -> None:
        """The one step, for every trigger: observe what is dirty, plan it (pure), apply, update the view,
        report, log. ``everything`` is the full resync: relist the server, observe every owned object, plan
        all of it and sweep what the server no longer lists. Otherwise only the dirty routers/networks/ports
        (stale namespaces re-read from the kernel first) and the marked floating IPs, never anything else."""
        started = time.monotonic()
        retried, self.retrying = dirty.stale & self.retrying, self.retrying - dirty.stale
        found: list[str] = []
        if dirty.everything:
            current, gone, started = self._relist()
        else:
            assert self.desired is not None
            found = self._reobserve(dirty.stale, bool(dirty.whole() or dirty.ovs), dirty.security, dirty.ovs)
            current, gone = scope(self.desired, dirty), dirty.gone_fips
        current = localize(current, local_tags(current, self.observed))  # vxlan networks' tags on br-int
        fast = self._fast(dirty, current)
        planned_ovs = self.observed.ovs_ports  # see on_kernel; the agent's own changes make one more (empty) step
        actions, fast_actions, result = self._plan_apply(current, fast, dirty.groups)
        if dirty.ovs or dirty.everything:
            self.ovs_planned = planned_ovs
        reported = plan_fips.narrowed(current, self.desired, fast)
        with self.lock:
            if dirty.everything:
                self.errors = {}
            self._update_errors(reported, result)
        self._report(S.compute(reported, self.observed, result.errors, gone))
        if dirty.everything:
            self._resynced(current, actions, result, started)
        else:
            self._retry_failed(result)
            self._log_step(dirty, actions + fast_actions, result, found, retried, started)
        self.step_ok = True

    def _relist(self) -> tuple[DesiredState, set[str], float]:
        """The full resync's observe: register, list the complete desired state, observe every owned object
        (the feed's queued changes are covered by the listing; the feed restarts from its ``seq``). Returns the
        state, the floating IPs gone from their routers, and when the listing was in (the full sync's logged
        time is the agent's work from there: observe, plan, apply, report)."""
        while not self.events.empty():
            self.events.get_nowait()
        self.client.register(self.configurations(), start_flag=self.syncs == 0)
        desired = parse_state(self.client.state(), complete=True)
        listed = time.monotonic()
        observed = self.kernel.observe(project(desired, self.ctx, {}).namespaces)
        self.observed = replace(observed, security=remember_applied(observed.security, self.observed.security))
        with self.lock:
            gone = gone_fips(self.desired, desired, set(desired.routers))
            self.desired = desired
        self.reported.update(S.known(desired))
        return desired, gone, listed

    def _reobserve(self, stale: set[str], refresh_ovs: bool, security: bool = False, vxlan: bool = False) -> list[str]:
        """Read the ``stale`` namespaces (their dnsmasq too) and, if asked, the OVS ports, the security-group
        tables and the vxlan devices into the view; returns what differed from the view (drift)."""
        namespaces, found = dict(self.observed.namespaces), []
        for ns in sorted(stale):
            now = self.kernel.observe_namespace(ns)
            what = drift.describe(namespaces.get(ns), now)
            found += [f"{ns}: {what}"] if what else []
            if now is None:
                namespaces.pop(ns, None)
            else:
                namespaces[ns] = now
        dhcp = self.observed.dhcp
        if any(ns.startswith(names.DHCP_NS_PREFIX) for ns in stale):
            dhcp = self.kernel.observe_dhcp()
            found += [f"dnsmasq of network {n} not running" for n in sorted(set(self.observed.dhcp) - set(dhcp))]
        ovs_ports = self.kernel.observe_ovs() if refresh_ovs or stale else self.observed.ovs_ports
        sg = sg_view.reobserve(self.kernel, self.observed.security) if security else self.observed.security
        found += ["security-group tables changed"] if sg != self.observed.security else []
        tunnels = tunnel_view.reobserve(self.kernel, self.observed.tunnels, vxlan)
        self.observed = Observed(namespaces=namespaces, ovs_ports=ovs_ports, dhcp=dhcp, security=sg, tunnels=tunnels)
        return found

    def _fast(self, dirty: Dirty, current: DesiredState) -> plan_fips.Fast:
        """The fast path's diffs: per marked router not planned whole, from the cached value of each marked
        floating IP (what the kernel holds) to the desired one — O(marked) however big the router."""
        assert self.desired is not None
        out: dict[str, tuple[dict[str, FloatingIp], plan_fips.FipDiff]] = {}
        for router_id, before in dirty.fips.items():
            router = self.desired.routers.get(router_id)
            if router is None or router_id in current.routers:
                continue
            after = changed_fips(self.desired, router_id, before)
            was = {i: f for i, f in before.items() if f is not None}
            out[router_id] = (after, plan_fips.delta(router, was, after))
        return out

    def _plan_apply(
        self, current: DesiredState, fast: plan_fips.Fast, groups: set[str]
    ) -> tuple[list[Action], list[Action], ApplyResult]:
        """Plan ``current`` whole, the changed security ``groups`` its ports do not cover (without their ports)
        and the fast path's floating IPs against the view, apply them in one go, update the view (projections;
        re-observation where something failed). Returns both plans and the result, with the resources the
        planner could not handle as (permanent) errors."""
        assert self.desired is not None
        poisoned: dict[Ref, str] = {}
        alone = plan_changed_groups(self.desired, self.observed, groups - set(used_groups(current)))
        actions = alone + plan(current, self.observed, self.ctx, poisoned)
        routers = self.desired.routers
        fast_actions = [a for r, (_, diff) in fast.items() for a in plan_fips.plan_fip_delta(routers[r], diff)]
        result = self.kernel.apply(actions + fast_actions)
        self.observed = self._after(self.observed, current, actions, result)
        self._project_fast(fast, result)
        result.add_permanent(poisoned)
        return actions, fast_actions, result

    def _project_fast(self, fast: plan_fips.Fast, result: ApplyResult) -> None:
        """The view of the fast path's routers once their floating-IP actions ran: projected (C-level copies,
        no work per other floating IP), or re-observed where something failed."""
        assert self.desired is not None
        namespaces = dict(self.observed.namespaces)
        for router_id, (_, diff) in fast.items():
            ns = names.router_ns(router_id)
            nsobs = namespaces.get(ns)
            if ns in result.failed_groups or nsobs is None:
                now = self.kernel.observe_namespace(ns)
            else:
                now = plan_fips.project_fip_delta(nsobs, self.desired.routers[router_id], diff)
            if now is None:
                namespaces.pop(ns, None)
            else:
                namespaces[ns] = now
        self.observed = replace(self.observed, namespaces=namespaces)

    def _resynced(self, desired: DesiredState, actions: list[Action], result: ApplyResult, started: float) -> None:
        """After a full resync: follow the feed from the snapshot, log, and back to watching (failures are
        retried, see :meth:`_retry_failed`)."""
        self.watcher.reset(desired.seq)
        self.syncs += 1
        self.last_full = time.monotonic()
        if self.syncs > 1 and actions:
            self._record_repair(actions, "found by the periodic full observe")
        log.info("full sync #%d at seq %d: %d actions, %d errors, %.3f s", self.syncs, desired.seq,
                 len(actions), len(result.errors), time.monotonic() - started)  # fmt: skip
        if not self._retry_failed(result):
            self.resync_at = None
            self.backoff = 1.0

    def _retry_failed(self, result: ApplyResult) -> bool:
        """Temporary failures: a namespace whose actions failed is marked dirty again and retried by the same
        step after 1 s, 2 s … 30 s; any other failed group (an instance port, OVS) by a full resync after the
        backoff (True then). Resources the planner cannot handle (permanent) stay ERROR until they change."""
        now = time.monotonic()
        for group in result.failed_groups:
            if group.startswith(names.OWNED_NS_PREFIXES):
                self.repair_backoff.retry(group, now)
                self.retrying.add(group)
        others = sorted(g for g in result.failed_groups if not g.startswith(names.OWNED_NS_PREFIXES))
        if others:
            self._schedule_resync(f"failed: {', '.join(others)}")
        return bool(others)

    def _guarded(self, step: Callable[[], None]) -> None:
        """Run one step; any failure schedules a full resync with exponential backoff (and pauses the local
        triggers until a step succeeds)."""
        try:
            step()
        except (ServerError, DesiredStateError) as exc:
            self.step_ok = False
            self._schedule_resync(f"{exc}")
        except Exception as exc:  # a bug or kernel surprise must not kill the agent: resync from scratch
            log.exception("reconcile step failed")
            self.step_ok = False
            self._schedule_resync(f"{type(exc).__name__}: {exc}")

    def _schedule_resync(self, why: str) -> None:
        log.warning("full resync in %.1f s: %s", self.backoff, why)
        self.resync_at = time.monotonic() + self.backoff
        self.backoff = min(self.backoff * 2, MAX_BACKOFF)

    def _log_step(
        self, dirty: Dirty, actions: list[Action], result: ApplyResult, found: list[str], retried: set[str],
        started: float,
    ) -> None:  # fmt: skip
        """One line per step that did something; drift (a stale namespace that differed from the view or
        needed actions, not a retry) is logged as a warning once, with what changed, and recorded."""
        kinds = ", ".join(sorted({type(a).__name__ for a in actions}))
        drifted = dirty.stale - retried
        repairs = [a for a in actions if a.group in drifted or dirty.security and isinstance(a, sg_view.SG_ACTIONS)]
        if found or repairs:
            what = "; ".join(found) or "changed under the agent"
            self._record_repair(repairs, what)
            log.warning("drift repaired: %s — %d actions (%s), %d errors", what, len(repairs), kinds,
                        len(result.errors))  # fmt: skip
        if actions or result.errors:
            log.info(
                "step (feed %s, fips %d, stale %s, retried %s, ovs %s): %d actions (%s), %d errors; ms: apply %.1f "
                "(kernel %.1f)", sorted(dirty.feed), sum(len(f) for f in dirty.fips.values()), sorted(dirty.stale),
                sorted(retried), dirty.ovs, len(actions), kinds, len(result.errors),
                (time.monotonic() - started) * 1000, result.seconds * 1000,
            )  # fmt: skip

    def _record_repair(self, actions: list[Action], what: str) -> None:
        """Remember when each router/network (one entry per namespace, however many floating IPs it holds) or
        instance port was last repaired, and why: the agent reports it, diagnose shows it."""
        now, mono = time.time(), time.monotonic()
        groups = {a.group for a in actions}
        for group in groups:
            self.repair_backoff.repaired(group, mono)
        refs = drift.resources_of(groups)
        with self.lock:
            self.repairs.update((ref, (now, what)) for ref in refs)

    # -- bookkeeping -----------------------------------------------------------------------------------------

    def _after(self, before: Observed, desired: DesiredState, actions: list[Action], result: ApplyResult) -> Observed:
        """The kernel view after applying: projections for what succeeded, real observation for failures."""
        projected = project(desired, self.ctx, {})
        namespaces = dict(before.namespaces)
        groups = {a.group for a in actions if not a.group.startswith(("port:", "ovs"))}
        for ns in groups | set(projected.namespaces):
            now = self.kernel.observe_namespace(ns) if ns in result.failed_groups else projected.namespaces.get(ns)
            now = now if ns in result.failed_groups else carry_vrrp(before.namespaces.get(ns), now, desired)
            if now is None:
                namespaces.pop(ns, None)
            else:
                namespaces[ns] = now
        dhcp = dict(before.dhcp)
        if result.failed_groups or any(ns.startswith("qdhcp-") for ns in groups):
            dhcp = self.kernel.observe_dhcp()
        dhcp.update((n, fp) for n, fp in projected.dhcp.items() if f"qdhcp-{n}" not in result.failed_groups)
        touched_ovs = any(not isinstance(a, sg_view.SG_ACTIONS) for a in actions)  # nft/conntrack only: OVS as it was
        ovs_ports = self.kernel.observe_ovs() if touched_ovs else before.ovs_ports
        security = sg_view.after_apply(self.kernel, before.security, actions, result)
        tunnels = tunnel_view.after_apply(self.kernel, before.tunnels, actions)
        return Observed(namespaces=namespaces, ovs_ports=ovs_ports, dhcp=dhcp, security=security, tunnels=tunnels)

    def _update_errors(self, partial: DesiredState, result: ApplyResult) -> None:
        """Clear the errors of the resources just (re)applied, then record the new ones."""
        refs = S.refs(S.compute(partial, self.observed, {}))
        refs |= {("router", r) for r in partial.routers} | {("network", n) for n in partial.networks}
        self.errors = {ref: why for ref, why in self.errors.items() if ref not in refs}
        self.errors.update(result.errors)

