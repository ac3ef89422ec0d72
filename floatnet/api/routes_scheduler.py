"""Routes of the agent scheduler APIs (``l3_agent_scheduler``, ``dhcp_agent_scheduler``), over
:mod:`floatnet.core.resources.agent_scheduler`:

* ``GET/POST /v2.0/agents/{agent_id}/l3-routers`` (``{"routers": [...]}``; POST ``{"router_id": id}`` → 201
  ``null``, as Neutron), ``DELETE /v2.0/agents/{agent_id}/l3-routers/{id}`` (204),
  ``GET /v2.0/routers/{id}/l3-agents`` (``{"agents": [...]}``);
* the same with ``dhcp-networks`` (``{"network_id": id}``, ``{"networks": [...]}``) and
  ``GET /v2.0/networks/{id}/dhcp-agents``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from floatnet.api import extensions, http
from floatnet.api.resource import PREFIX
from floatnet.core.resources.agent_scheduler import NETWORKS, ROUTERS, AgentSchedulerService, Kind

extensions.register("l3_agent_scheduler", "L3 Agent Scheduler", "Schedule routers among l3 agents")
extensions.register("dhcp_agent_scheduler", "DHCP Agent Scheduler", "Schedule networks among dhcp agents")

Endpoint = Callable[[Request], Awaitable[Response]]


def _hosted(kind: Kind, collection: str) -> Endpoint:
    """``GET`` (list) and ``POST`` (add) on ``/agents/{agent_id}/<hosted>``."""

    async def endpoint(request: Request) -> Response:
        ctx, service = http.context_of(request), AgentSchedulerService(http.core_of(request))
        agent_id = request.path_params["agent_id"]
        if request.method == "POST":
            body = await http.read_json(request)
            await http.run_sync(service.add, ctx, kind, agent_id, body)
            return http.respond(None, 201)
        items = await http.run_sync(service.hosted_by, ctx, kind, agent_id)
        return http.respond({collection: [http.select_fields(item, http.fields_param(request)) for item in items]})

    return endpoint


def _unhost(kind: Kind) -> Endpoint:
    """``DELETE /agents/{agent_id}/<hosted>/{id}``."""

    async def endpoint(request: Request) -> Response:
        service = AgentSchedulerService(http.core_of(request))
        params = request.path_params
        await http.run_sync(service.remove, http.context_of(request), kind, params["agent_id"], params["id"])
        return http.respond(None, 204)

    return endpoint


def _hosting(kind: Kind) -> Endpoint:
    """``GET /<resources>/{id}/<agents>``."""

    async def endpoint(request: Request) -> Response:
        service = AgentSchedulerService(http.core_of(request))
        agents = await http.run_sync(service.agents_hosting, http.context_of(request), kind, request.path_params["id"])
        return http.respond({"agents": [http.select_fields(agent, http.fields_param(request)) for agent in agents]})

    return endpoint


def routes() -> list[BaseRoute]:
    """The scheduler routes (mounted by :func:`floatnet.api.app.create_app`, before the resources' own)."""
    found: list[BaseRoute] = []
    for kind, hosted, collection, parent, hosting in (
        (ROUTERS, "l3-routers", "routers", "routers", "l3-agents"),
        (NETWORKS, "dhcp-networks", "networks", "networks", "dhcp-agents"),
    ):
        found += [
            Route(f"{PREFIX}/agents/{{agent_id}}/{hosted}", _hosted(kind, collection), methods=["GET", "POST"]),
            Route(f"{PREFIX}/agents/{{agent_id}}/{hosted}/{{id}}", _unhost(kind), methods=["DELETE"]),
            Route(f"{PREFIX}/{parent}/{{id}}/{hosting}", _hosting(kind), methods=["GET"]),
        ]
    return found
