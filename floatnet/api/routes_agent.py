"""Routes of the agent protocol (``/v2.0/floatnet/...``, see docs/agent-protocol.md) and ``/v2.0/agents``.

* ``POST /v2.0/floatnet/agents`` — registration / heartbeat (one request per node's report);
* ``GET /v2.0/floatnet/hosts/{host}/state`` — the host's desired state with its feed ``seq``;
* ``GET /v2.0/floatnet/hosts/{host}/changes?after=&timeout=`` — long poll on the host's change feed: answers
  at once when there are changes concerning the host, else waits on the notifier for that host (woken right
  after a commit here, or by the follower for another server process's commits);
* ``PUT /v2.0/floatnet/hosts/{host}/status`` — statuses back from the dataplane.

All of them are admin-only (the agent runs with the operator's credentials; noauth callers are admins).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from floatnet.api import extensions, http
from floatnet.api.resource import PREFIX, ResourceSpec, resource_routes
from floatnet.core.agent_protocol import feed, host_state
from floatnet.core.agent_protocol.agents import AgentService
from floatnet.core.agent_protocol.follow import Follower
from floatnet.core.agent_protocol.hosts import HostService
from floatnet.core.context import RequestContext
from floatnet.core.errors import HTTPBadRequest
from floatnet.core.numbers import BIGINT_MAX, bounded_int
from floatnet.core.resources import dhcp_port, router_ha_replicas

T = TypeVar("T")
MAX_TIMEOUT = 60.0
DEFAULT_TIMEOUT = 30.0

extensions.register("agent", "agent", "The agent management extension.")


def _admin(request: Request, action: str) -> RequestContext:
    ctx = http.context_of(request)
    HostService.authorize(ctx, action)
    return ctx


def _number(request: Request, name: str, default: float, low: float, high: float) -> float:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise HTTPBadRequest(msg=f"Invalid input for {name}. Reason: '{raw}' is not a number.") from None
    if not low <= value <= high:
        raise HTTPBadRequest(msg=f"Invalid input for {name}. Reason: '{raw}' is not in {low}..{high}.")
    return value


FEED_THREADS = 8
EXPIRY_THREADS = 2
TIMEOUT_JITTER = 0.1


async def _read(request: Request, func: Callable[..., T], *args: Any, pool: str = "feed_threads") -> T:
    """Run an agent's read (a feed poll, a state fetch) on the app's own small thread pool: writers queued on
    the database's write lock fill the shared pool under load, and a woken poll must not wait behind them.
    ``pool="expiry_threads"`` is the pool of the polls' empty answers at their timeout (see :func:`_long_poll`)."""
    limiter = getattr(request.app.state, pool, None)
    if limiter is None:
        size = EXPIRY_THREADS if pool == "expiry_threads" else FEED_THREADS
        limiter = anyio.CapacityLimiter(size)
        setattr(request.app.state, pool, limiter)
    return await anyio.to_thread.run_sync(partial(func, *args), limiter=limiter)


async def report(request: Request) -> Response:
    """An agent's report: ``{"agents": [...]}`` (one node's rows, answered as ``{"agents": [...]}``) or one row
    ``{"agent": {...}}``, one write transaction; then the HA routers short of replicas get them on the agents
    now alive (l3-ha's auto-scheduling: a read finds none short in the common case; a write transaction of its
    own otherwise, idempotent, so a failure there never loses the heartbeat)."""
    ctx = _admin(request, "report_agent")
    body = http.body_json(await request.body())
    core = http.core_of(request)
    batch = isinstance(body, dict) and "agents" in body
    if batch and not isinstance(body["agents"], list):
        raise HTTPBadRequest(msg="Invalid format for 'agents': expected a list")
    bodies = body["agents"] if batch else [http.unwrap(body, "agent")]
    follow = partial(dhcp_port.sync_networks, core=core)  # the DHCP ports follow the bindings settled
    agents = await http.run_sync(AgentService(core).report, ctx, bodies, follow)
    await http.run_sync(router_ha_replicas.settle, core)
    return http.respond({"agents": agents} if batch else {"agent": agents[0]})


async def state(request: Request) -> Response:
    ctx, params = http.context_of(request), request.query_params
    filters = host_state.Filters(
        router_ids=params.getlist("router_id"),
        network_ids=params.getlist("network_id"),
        port_ids=params.getlist("port_id"),
        floatingip_ids=params.getlist("floatingip_id"),
        security_group_ids=params.getlist("security_group_id"),
        security_group_rule_ids=params.getlist("security_group_rule_id"),
    )
    service = HostService(http.core_of(request))
    return http.respond(await _read(request, service.state, ctx, request.path_params["host"], filters))


def _given_cursor(request: Request) -> int | None:
    """``after`` from the query (a sequence number); None when omitted (the caller waits from the newest)."""
    raw = request.query_params.get("after")
    return None if raw is None else bounded_int("after", raw, 0, BIGINT_MAX)


def _known_params(request: Request, known: tuple[str, ...]) -> None:
    """Refuse query parameters the endpoint does not take (``since=`` is not ``after=``: silently ignoring a
    misspelt cursor would make an agent wait from the newest change and miss the ones in between)."""
    unknown = sorted(set(request.query_params) - set(known))
    if unknown:
        raise HTTPBadRequest(msg=f"Unrecognized query parameter(s) '{', '.join(unknown)}'")


async def changes(request: Request) -> Response:
    _admin(request, "get_host_changes")
    _known_params(request, ("after", "timeout"))
    timeout = _number(request, "timeout", DEFAULT_TIMEOUT, 0, MAX_TIMEOUT)
    service, host = HostService(http.core_of(request)), request.path_params["host"]
    after = _given_cursor(request)
    if after is None:
        after = await _read(request, service.latest_seq)
    if timeout <= 0:
        return _batch(await _read(request, service.read_changes, host, after))
    follower: Follower = request.app.state.follower
    if not follower.try_acquire():
        await http.run_sync(follower.acquire)
    try:
        return await _long_poll(request, service, host, after, timeout)
    finally:
        follower.release()


class QuietCursors:
    """Per host, the last answer's ``(stamp, seq)`` when it held every change of the host up to ``seq``: a
    poll that comes back with that cursor while the host's stamp has not moved since has nothing to read (a
    change concerning the host committed since would have moved the stamp: it is read *before* the database),
    so it waits at once instead of reading the log again — one read per answer instead of two."""

    LIMIT = 100_000  # hosts remembered; beyond, forgotten at once (a forgotten host only reads once more)

    def __init__(self) -> None:
        self._seen: dict[str, tuple[int, int]] = {}

    def quiet(self, host: str, stamp: int, after: int) -> bool:
        """Whether ``host`` has no change after ``after`` as of ``stamp``."""
        return self._seen.get(host) == (stamp, after)

    def answered(self, host: str, stamp: int, batch: feed.Batch) -> None:
        """Remember an answer read after ``stamp`` was taken (a full batch leaves changes behind: forgotten)."""
        if len(batch.changes) >= feed.MAX_BATCH:
            self._seen.pop(host, None)
            return
        if len(self._seen) >= self.LIMIT:
            self._seen.clear()
        self._seen[host] = (stamp, batch.seq)


def _quiet_cursors(request: Request) -> QuietCursors:
    cursors = getattr(request.app.state, "quiet_cursors", None)
    if cursors is None:
        cursors = request.app.state.quiet_cursors = QuietCursors()
    return cursors


async def _long_poll(request: Request, service: HostService, host: str, after: int, timeout: float) -> Response:
    """Read the host's changes; while there are none, wait on its stamp (no thread, no connection held)
    until a change concerning it commits — here, or in another server process (the follower) — or the
    timeout passes. A poll at the cursor of the host's last answer, with the stamp unmoved, waits without
    reading (:class:`QuietCursors`); the answer at the timeout is always read (it moves an idle cursor).

    Polls that began together (every agent after a server restart, a simulator's fleet) would also expire
    together, a thousand reads at once ahead of the woken polls' — the wake-up tail of issue 16. So the
    empty answer comes at a random moment of the timeout's last ``TIMEOUT_JITTER`` (the herd drifts apart
    within a few rounds), and its read runs on a pool of its own (``EXPIRY_THREADS``): a burst of expiries
    queues there, never in front of a woken poll."""
    notifier, cursors = service.core.notifier, _quiet_cursors(request)
    deadline = time.monotonic() + timeout * (1 - random.uniform(0, TIMEOUT_JITTER))
    while True:
        stamp = notifier.stamp(host)
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not cursors.quiet(host, stamp, after):
            pool = "expiry_threads" if remaining <= 0 else "feed_threads"
            batch = await _read(request, service.read_changes, host, after, pool=pool)
            cursors.answered(host, stamp, batch)
            remaining = deadline - time.monotonic()
            if batch.changes or remaining <= 0:
                return _batch(batch)
        await notifier.wait(stamp, remaining, host)


def _batch(batch: feed.Batch) -> Response:
    return http.respond({"seq": batch.seq, "changes": batch.changes})


async def report_status(request: Request) -> Response:
    ctx, raw = http.context_of(request), await request.body()
    service = HostService(http.core_of(request))
    host = request.path_params["host"]
    counts = await http.run_sync(service.report_status, ctx, host, partial(http.body_json, raw))
    return http.respond({"changed": counts})


def routes() -> list[BaseRoute]:
    """The agent routes."""
    base = f"{PREFIX}/floatnet"
    return [
        *resource_routes(ResourceSpec("agent", "agents", AgentService, tags=False)),
        Route(f"{base}/agents", report, methods=["POST"]),
        Route(base + "/hosts/{host}/state", state, methods=["GET"]),
        Route(base + "/hosts/{host}/changes", changes, methods=["GET"]),
        Route(base + "/hosts/{host}/status", report_status, methods=["PUT"]),
    ]
