"""Routes of the agent protocol (``/v2.0/floatnet/...``, see docs/agent-protocol.md) and ``/v2.0/agents``.

* ``POST /v2.0/floatnet/agents`` — registration / heartbeat;
* ``GET /v2.0/floatnet/hosts/{host}/state`` — the host's desired state with its feed ``seq``;
* ``GET /v2.0/floatnet/hosts/{host}/changes?after=&timeout=`` — long poll on the change feed: answers at once
  when there are changes, else waits for the in-process notifier (woken right after a commit) while re-reading
  the database every second (changes made through another server process);
* ``PUT /v2.0/floatnet/hosts/{host}/status`` — statuses back from the dataplane.

All of them are admin-only (the agent runs with the operator's credentials; noauth callers are admins).
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from floatnet.api import extensions, http
from floatnet.api.resource import PREFIX, ResourceSpec, resource_routes
from floatnet.core.agent_protocol import feed, host_state, status
from floatnet.core.agent_protocol.agents import AgentService, down_time
from floatnet.core.context import Context
from floatnet.core.errors import HTTPBadRequest, PolicyNotAuthorized
from floatnet.core.numbers import BIGINT_MAX, bounded_int
from floatnet.core.service import Core

MAX_TIMEOUT = 60.0
DEFAULT_TIMEOUT = 30.0
PRUNER = feed.Pruner()

extensions.register("agent", "agent", "The agent management extension.")


def _admin(request: Request, action: str) -> Context:
    ctx = http.context_of(request)
    if not ctx.is_admin:
        raise PolicyNotAuthorized(action=action)
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


async def report(request: Request) -> Response:
    ctx = _admin(request, "report_agent")
    body = await http.read_envelope(request, "agent")
    service = AgentService(http.core_of(request))
    return http.respond({"agent": await http.run_sync(service.report, ctx, body)})


def _state(core: Core, host: str, filters: host_state.Filters) -> dict[str, Any]:
    return core.db.run(lambda s: host_state.snapshot(s, core.config, host, filters, down_time(core)), write=False)


async def state(request: Request) -> Response:
    _admin(request, "get_host_state")
    params = request.query_params
    filters = host_state.Filters(
        router_ids=params.getlist("router_id"),
        network_ids=params.getlist("network_id"),
        port_ids=params.getlist("port_id"),
        floatingip_ids=params.getlist("floatingip_id"),
    )
    core = http.core_of(request)
    return http.respond(await http.run_sync(_state, core, request.path_params["host"], filters))


def _read(core: Core, after: int) -> feed.Batch:
    if PRUNER.due():
        core.db.run(feed.prune)
    return core.db.run(lambda s: feed.read_changes(s, after), write=False)


def _cursor(request: Request, core: Core) -> int:
    """``after`` from the query (a sequence number); omitted: the newest, i.e. wait for what comes next."""
    raw = request.query_params.get("after")
    if raw is None:
        return int(core.db.run(feed.latest_seq, write=False))
    return bounded_int("after", raw, 0, BIGINT_MAX)


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
    core = http.core_of(request)
    after = await http.run_sync(_cursor, request, core)
    deadline = time.monotonic() + timeout
    while True:
        version = feed.NOTIFIER.version
        batch = await http.run_sync(_read, core, after)
        remaining = deadline - time.monotonic()
        if batch.changes or remaining <= 0:
            return http.respond({"seq": batch.seq, "changes": batch.changes})
        await feed.NOTIFIER.wait(version, min(remaining, feed.RECHECK))


async def report_status(request: Request) -> Response:
    _admin(request, "update_host_status")
    reported = status.parse(await http.read_json(request))
    core = http.core_of(request)
    counts = await http.run_sync(core.db.run, lambda s: status.apply(s, reported))
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
