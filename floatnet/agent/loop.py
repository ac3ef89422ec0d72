"""The reconcile loop: list, then watch; every trigger ends in the same observe → plan → apply step
(docs/architecture.md, "Reconcile loop").

1. Full sync (at start, after a 410, after a server or unexpected failure, and every ``full_interval``, 60 s):
   register, fetch the complete state, observe every owned kernel object, plan, apply, report statuses, and
   follow the change feed from the snapshot's ``seq``. Drift it finds is logged as repaired.
2. Feed changes: refetch only the touched routers/networks (``state?router_id=…``), plan them against the
   in-memory view of the kernel, apply, report. A batch of floating-IP changes only is fetched narrowed to them
   and, when their routers are built and otherwise unchanged, planned and projected from the changed floating
   IPs alone (:mod:`floatnet.agent.plan_fips`): the work per change does not grow with the router's size.
3. Local triggers, every tick (nothing is polled: file descriptors and change counters): namespaces the
   kernel reports changed under the agent (:mod:`floatnet.agent.kernel_watch`), namespaces whose actions
   failed (retried after 1 s … 30 s), and OVS ports changed by a hypervisor all go through :meth:`Agent.reconcile`:
   re-observe what is dirty, plan, apply, report, and log drift once with what changed.

A router or network the planner cannot handle is ``ERROR`` (permanent: not retried until it changes) and never
stops the others. The in-memory view is the projection of what was applied (``project``); a namespace whose
actions failed is re-observed from the kernel. Nothing is ever flushed: a restart on an up-to-date kernel plans
zero actions.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

from floatnet.agent import drift, plan_fips
from floatnet.agent import status as S
from floatnet.agent.actions import Action, Ref
from floatnet.agent.apply import ApplyResult
from floatnet.agent.client import Client, ServerError
from floatnet.agent.desired import DesiredState, DesiredStateError, parse_state
from floatnet.agent.kernel import Kernel
from floatnet.agent.kernel_watch import EVERYTHING
from floatnet.agent.merge import Touched, complete_routers, merge, touched
from floatnet.agent.plan import plan
from floatnet.agent.plan_common import PlanContext
from floatnet.agent.projection import project
from floatnet.agent.state import Observed, OvsPort
from floatnet.agent.watch import RELIST, Heartbeat, Watcher
from floatnet.linux import names

log = logging.getLogger(__name__)

TICK = 0.05
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
        self.ovs_planned: Mapping[str, OvsPort] = {}  # the OVS ports last planned against the whole state
        self.errors: dict[Ref, str] = {}
        self.reported: dict[tuple[str, str], str] = {}
        self.resync_at: float | None = 0.0
        self.backoff = 1.0
        self.syncs = 0
        self.step_ok = True
        self.full_interval = full_interval  # the periodic full observe: catches what kernel events missed
        self.last_full = 0.0
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
            "repairs": [
                {"kind": k, "id": i, "at": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(at)), "what": what}
                for (k, i), (at, what) in sorted(repairs.items())
            ],
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

    # -- the loop --------------------------------------------------------------------------------------------

    def run(self) -> None:
        """Full sync, then react to feed changes, kernel and OVS events, retries and the periodic full observe
        until stopped."""
        self.heartbeat.start()
        self.watcher.start()
        while not self.stop.is_set():
            if self.resync_at is None and time.monotonic() - self.last_full >= self.full_interval:
                self.resync_at = time.monotonic()
            if self.resync_at is not None and time.monotonic() >= self.resync_at:
                self._guarded(self.full_sync)
                continue
            batch = self._next_batch()
            if batch is RELIST:
                self.resync_at = time.monotonic()
            elif batch:
                self._guarded(functools.partial(self.incremental, batch))
            if self.desired is not None and self.step_ok:  # paused while the server/OVS is unreachable
                self._guarded(self.check_ovs)
                self._guarded(self.check_kernel)

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

    def _guarded(self, step: Callable[[], None]) -> None:
        """Run one step; any failure schedules a full resync with exponential backoff."""
        self.step_ok = False
        try:
            step()
        except (ServerError, DesiredStateError) as exc:
            self._schedule_resync(f"{exc}")
        except Exception as exc:  # a bug or kernel surprise must not kill the agent: resync from scratch
            log.exception("reconcile step failed")
            self._schedule_resync(f"{type(exc).__name__}: {exc}")
        else:
            self.step_ok = True

    def _schedule_resync(self, why: str) -> None:
        log.warning("full resync in %.1f s: %s", self.backoff, why)
        self.resync_at = time.monotonic() + self.backoff
        self.backoff = min(self.backoff * 2, MAX_BACKOFF)

    def full_sync(self) -> None:
        """List and observe everything, plan, apply, report; then follow the feed from the snapshot."""
        while not self.events.empty():
            self.events.get_nowait()
        self.client.register(self.configurations(), start_flag=self.syncs == 0)
        desired = parse_state(self.client.state(), complete=True)
        started = time.monotonic()
        observed = self.kernel.observe(project(desired, self.ctx, {}).namespaces)
        poisoned: dict[Ref, str] = {}
        actions = plan(desired, observed, self.ctx, poisoned)
        result = self.kernel.apply(actions)
        self.observed = self._after(observed, desired, actions, result)
        _add_permanent(result, poisoned)
        self.ovs_planned = self.observed.ovs_ports
        with self.lock:
            gone = self._gone_fips(self.desired, desired, set(desired.routers))
            self.desired, self.errors = desired, dict(result.errors)
        self.watcher.reset(desired.seq)
        self.syncs += 1
        self.last_full = time.monotonic()
        if self.syncs > 1 and actions:
            self._record_repair(actions, "found by the periodic full observe")
        log.info("full sync #%d at seq %d: %d actions, %d errors, %.3f s", self.syncs, desired.seq,
                 len(actions), len(result.errors), time.monotonic() - started)  # fmt: skip
        self.reported.update(S.known(desired))
        self._report(S.compute(desired, self.observed, result.errors, gone))
        self._settle(result)

    def _settle(self, result: ApplyResult) -> None:
        """Back to watching (failures are retried, see :meth:`_retry_failed`)."""
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

    def incremental(self, changes: list[dict[str, Any]]) -> None:
        """Refetch the routers/networks the changes touch, plan against the cached view, apply, report."""
        batch = touched(changes)
        if not (batch.routers or batch.networks or batch.gone_ports):
            return
        started = time.monotonic()
        partial, answer, asked = self._fetch(batch)
        fetched = time.monotonic()
        if asked is not None and self._narrowable(answer):
            actions, result = self._converge_fips(answer, asked)
        else:
            actions, result = self._converge(partial, refresh_ovs=True)
        applied = time.monotonic()
        with self.lock:
            previous = self.desired
            assert previous is not None
            self.desired = merge(previous, partial, batch.routers, batch.networks)
            gone = self._gone_fips(previous, self.desired, batch.routers, asked)
            self._update_errors(answer, result)
        # statuses of what the server sent (narrowed: only the floating IPs that changed, not all 10,000)
        self.reported.update(S.known(answer))
        self._report(S.compute(answer, self.observed, result.errors, gone))
        log.info(
            "changes %s: %d actions (%s), %d errors; ms: fetch %.1f, apply %.1f (kernel %.1f), report %.1f",
            sorted(batch.routers | batch.networks), len(actions), ", ".join(type(a).__name__ for a in actions[:6]),
            len(result.errors), (fetched - started) * 1000, (applied - fetched) * 1000, result.seconds * 1000,
            (time.monotonic() - applied) * 1000,
        )  # fmt: skip
        self._retry_failed(result)

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
            answer = parse_state(_only_networks(doc, set()), complete=False, absent_ports=batch.gone_ports)
            completed = complete_routers(answer, self.desired, asked)
            if completed is not None:
                return completed, answer, asked
        doc = self.client.state(batch.routers, batch.networks)
        answer = parse_state(_only_networks(doc, batch.networks), complete=False, absent_ports=batch.gone_ports)
        return answer, answer, None

    def _narrowable(self, answer: DesiredState) -> bool:
        """True when a narrowed answer can be applied as floating-IP deltas: the last step left nothing to
        retry, and every router is known, up, built (namespace, NAT table, gateway device) and unchanged but for
        its floating IPs."""
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

    def _converge_fips(self, answer: DesiredState, asked: set[str]) -> tuple[list[Action], ApplyResult]:
        """Plan and apply only the changed floating IPs, then update the cached view of their routers:
        O(changed) Python work however many floating IPs the routers hold."""
        assert self.desired is not None
        diffs = {}
        actions: list[Action] = []
        for router in answer.routers.values():
            known = self.desired.routers[router.id].floatingips
            before = {i: known[i] for i in asked if i in known}
            diffs[router.id] = plan_fips.delta(router, before, router.floatingips)
            actions += plan_fips.plan_fip_delta(router, diffs[router.id])
        result = self.kernel.apply(actions)
        namespaces = dict(self.observed.namespaces)
        for router_id, diff in diffs.items():
            ns = names.router_ns(router_id)
            now = (
                self.kernel.observe_namespace(ns)
                if ns in result.failed_groups
                else plan_fips.project_fip_delta(namespaces[ns], answer.routers[router_id], diff)
            )
            if now is None:
                namespaces.pop(ns, None)
            else:
                namespaces[ns] = now
        self.observed = replace(self.observed, namespaces=namespaces)
        return actions, result

    def check_ovs(self) -> None:
        """React to OVS ports appearing/disappearing (hypervisor plugs) without waiting for the server."""
        if self.kernel.observe_ovs() != self.ovs_planned:
            self.reconcile(set(), ovs=True)

    def check_kernel(self) -> None:
        """Repair the owned namespaces the kernel reports changed under the agent, and retry the failed ones
        (both spaced out by backoff)."""
        due = self.repair_backoff.due(self.kernel.changed(), time.monotonic())
        if due:
            self.reconcile(due)

    def reconcile(self, dirty: set[str], ovs: bool = False) -> None:
        """The step for local triggers: re-observe the ``dirty`` namespaces (``"*"``: all) — and with ``ovs`` the
        OVS ports —, plan what they implement (with ``ovs``: the whole desired state, as any device may be
        concerned) against the desired state, apply, update the view, report, and log once what had changed.
        Kernel drift, failure retries and hypervisor plugs all go through here."""
        assert self.desired is not None
        retried, self.retrying = dirty & self.retrying, self.retrying - dirty
        if EVERYTHING in dirty:
            dirty = set(self.observed.namespaces) | set(project(self.desired, self.ctx, {}).namespaces)
        found = self._reobserve(dirty)
        if ovs:
            current = replace(self.desired, complete=False, absent_routers=frozenset(), absent_networks=frozenset())
        else:
            current = drift.restrict(self.desired, dirty)
        actions, result = self._converge(current, refresh_ovs=False)
        if ovs:
            self.ovs_planned = self.observed.ovs_ports
        with self.lock:
            self._update_errors(current, result)
        self._report(S.compute(current, self.observed, result.errors))
        self._retry_failed(result)
        self._log_step(actions, result, found, retried, ovs)

    def _reobserve(self, dirty: set[str]) -> list[str]:
        """Read the ``dirty`` namespaces (their dnsmasq too) and the OVS ports into the view; what differed."""
        namespaces, found = dict(self.observed.namespaces), []
        for ns in sorted(dirty):
            now = self.kernel.observe_namespace(ns)
            what = drift.describe(namespaces.get(ns), now)
            found += [f"{ns}: {what}"] if what else []
            if now is None:
                namespaces.pop(ns, None)
            else:
                namespaces[ns] = now
        dhcp = self.observed.dhcp
        if any(ns.startswith(names.DHCP_NS_PREFIX) for ns in dirty):
            dhcp = self.kernel.observe_dhcp()
            found += [f"dnsmasq of network {n} not running" for n in sorted(set(self.observed.dhcp) - set(dhcp))]
        self.observed = Observed(namespaces=namespaces, ovs_ports=self.kernel.observe_ovs(), dhcp=dhcp)
        return found

    def _log_step(
        self, actions: list[Action], result: ApplyResult, found: list[str], retried: set[str], ovs: bool
    ) -> None:
        """One line per local step that did something: drift repaired (warning, recorded), retry, OVS change."""
        kinds = ", ".join(sorted({type(a).__name__ for a in actions}))
        if found or (actions and not retried and not ovs):
            what = "; ".join(found) or "changed under the agent"
            self._record_repair(actions, what)
            log.warning("drift repaired: %s — %d actions (%s), %d errors", what, len(actions), kinds,
                        len(result.errors))  # fmt: skip
        elif retried:
            log.info("retried %s: %d actions (%s), %d errors", sorted(retried), len(actions), kinds, len(result.errors))
        elif actions:
            log.info("OVS change: %d actions (%s), %d errors", len(actions), kinds, len(result.errors))

    def _record_repair(self, actions: list[Action], what: str) -> None:
        """Remember when each router/network (one entry per namespace, however many floating IPs it holds) or
        instance port was last repaired, and why: the agent reports it, diagnose shows it."""
        now, mono = time.time(), time.monotonic()
        refs: set[Ref] = set()
        for group in {a.group for a in actions}:
            self.repair_backoff.repaired(group, mono)
            router, network = names.router_id_of(group), names.network_id_of(group)
            if router or network:
                refs.add(("router", router) if router else ("network", str(network)))
            elif group.startswith("port:"):
                refs.add(("port", group[len("port:") :]))
        with self.lock:
            self.repairs.update((ref, (now, what)) for ref in refs)

    def _converge(self, desired: DesiredState, refresh_ovs: bool) -> tuple[list[Action], ApplyResult]:
        """Plan ``desired`` against the cached view (OVS re-read first if asked), apply, update the view."""
        if refresh_ovs:
            self.observed = replace(self.observed, ovs_ports=self.kernel.observe_ovs())
        poisoned: dict[Ref, str] = {}
        actions = plan(desired, self.observed, self.ctx, poisoned)
        result = self.kernel.apply(actions)
        self.observed = self._after(self.observed, desired, actions, result)
        _add_permanent(result, poisoned)
        return actions, result

    # -- bookkeeping -----------------------------------------------------------------------------------------

    def _after(self, before: Observed, desired: DesiredState, actions: list[Action], result: ApplyResult) -> Observed:
        """The kernel view after applying: projections for what succeeded, real observation for failures."""
        projected = project(desired, self.ctx, {})
        namespaces = dict(before.namespaces)
        groups = {a.group for a in actions if not a.group.startswith(("port:", "ovs"))}
        for ns in groups | set(projected.namespaces):
            now = self.kernel.observe_namespace(ns) if ns in result.failed_groups else projected.namespaces.get(ns)
            if now is None:
                namespaces.pop(ns, None)
            else:
                namespaces[ns] = now
        dhcp = dict(before.dhcp)
        if result.failed_groups or any(ns.startswith("qdhcp-") for ns in groups):
            dhcp = self.kernel.observe_dhcp()
        dhcp.update((n, fp) for n, fp in projected.dhcp.items() if f"qdhcp-{n}" not in result.failed_groups)
        ovs_ports = self.kernel.observe_ovs() if actions else before.ovs_ports
        return Observed(namespaces=namespaces, ovs_ports=ovs_ports, dhcp=dhcp)

    def _update_errors(self, partial: DesiredState, result: ApplyResult) -> None:
        """Clear the errors of the resources just (re)applied, then record the new ones."""
        refs = S.refs(S.compute(partial, self.observed, {}))
        refs |= {("router", r) for r in partial.routers} | {("network", n) for n in partial.networks}
        self.errors = {ref: why for ref, why in self.errors.items() if ref not in refs}
        self.errors.update(result.errors)

    @staticmethod
    def _gone_fips(
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


def _add_permanent(result: ApplyResult, poisoned: Mapping[Ref, str]) -> None:
    """Record the resources the planner could not handle as errors of this step (reported ``ERROR`` with the
    reason), without marking a group failed: retrying the same input would fail the same way."""
    for ref, reason in poisoned.items():
        result.errors.setdefault(ref, reason)


def _only_networks(doc: dict[str, Any], asked: set[str]) -> dict[str, Any]:
    """The answer without the networks not asked for: the server adds the ones its routers use, which did not
    change (else they would have been asked for) and so need no re-planning."""
    doc["networks"] = [n for n in doc.get("networks") or () if isinstance(n, dict) and n.get("id") in asked]
    return doc
