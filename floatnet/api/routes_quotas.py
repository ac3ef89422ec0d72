"""Neutron's quota API (``quotas`` and ``quota_details`` extensions).

* ``GET /v2.0/quotas`` — administrators: the projects with stored limits, ``{"quotas": [{...}]}``;
* ``GET /v2.0/quotas/{project_id}`` — ``{"quota": {"network": 100, ...}}`` (``get_quota``: admin or the
  project's own reader);
* ``GET /v2.0/quotas/{project_id}/default`` — Neutron's defaults;
* ``GET /v2.0/quotas/{project_id}/details`` — ``{"quota": {"network": {"limit", "used", "reserved"}}}``;
* ``PUT /v2.0/quotas/{project_id}`` with ``{"quota": {...}}`` — set limits (``update_quota``: admin);
* ``DELETE /v2.0/quotas/{project_id}`` — back to the defaults, 204 (``delete_quota``: admin).

A refused ``get_quota``/``update_quota``/``delete_quota`` is a 403 ``PolicyNotAuthorized``, as in Neutron.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from floatnet.api import extensions, http
from floatnet.core.access import policy, quotas
from floatnet.core.context import Context

PREFIX = "/v2.0/quotas"


def _authorize(ctx: Context, action: str, project_id: str) -> None:
    policy.check(ctx, action, {"project_id": project_id, "tenant_id": project_id})


async def list_quotas(request: Request) -> Response:
    """``GET /v2.0/quotas``: the projects with non-default limits (administrators only)."""
    ctx, core = http.context_of(request), http.core_of(request)
    policy.check(ctx, "get_quota", {})  # no project in the target: only administrators pass

    def work() -> list[dict[str, object]]:
        with core.db.transaction(write=False) as session:
            return [
                {**quotas.get(session, pid), "project_id": pid, "tenant_id": pid}
                for pid in quotas.projects_with_overrides(session)
            ]

    return http.respond({"quotas": await http.run_sync(work)})


async def quota(request: Request) -> Response:
    """``GET``/``PUT``/``DELETE /v2.0/quotas/{project_id}``."""
    ctx, core, project_id = http.context_of(request), http.core_of(request), request.path_params["project_id"]
    if request.method == "PUT":
        _authorize(ctx, "update_quota", project_id)
        wanted = await http.read_envelope(request, "quota")
        quotas.validate(wanted)

        def update() -> dict[str, int]:
            with core.db.transaction() as session:
                return quotas.set_limits(session, project_id, wanted)

        return http.respond({"quota": await http.run_sync(update)})
    if request.method == "DELETE":
        _authorize(ctx, "delete_quota", project_id)

        def reset() -> None:
            with core.db.transaction() as session:
                quotas.reset(session, project_id)

        await http.run_sync(reset)
        return http.respond(None, 204)
    _authorize(ctx, "get_quota", project_id)

    def show() -> dict[str, int]:
        with core.db.transaction(write=False) as session:
            return quotas.get(session, project_id)

    return http.respond({"quota": await http.run_sync(show)})


async def default_quota(request: Request) -> Response:
    """``GET /v2.0/quotas/{project_id}/default``: the limits a project without overrides has."""
    _authorize(http.context_of(request), "get_quota", request.path_params["project_id"])
    return http.respond({"quota": quotas.defaults()})


async def quota_details(request: Request) -> Response:
    """``GET /v2.0/quotas/{project_id}/details``: limit, use and reservations of each resource."""
    ctx, core, project_id = http.context_of(request), http.core_of(request), request.path_params["project_id"]
    _authorize(ctx, "get_quota", project_id)

    def work() -> dict[str, dict[str, int]]:
        with core.db.transaction(write=False) as session:
            limits, used = quotas.get(session, project_id), quotas.usage(session, project_id)
        return {name: {"limit": limits[name], "used": used[name], "reserved": 0} for name in limits}

    return http.respond({"quota": await http.run_sync(work)})


def routes() -> list[BaseRoute]:
    """The quota routes; declares the ``quotas`` and ``quota_details`` extensions."""
    extensions.register("quotas", "Quota management support", "Expose functions for quotas management per project")
    extensions.register("quota_details", "Quota details management support", "Expose functions for quotas usage")
    extensions.register("quota-check-limit", "Quota engine limit check", "Check the limit against the usage")
    return [
        Route(PREFIX, list_quotas, methods=["GET"]),
        Route(PREFIX + "/{project_id}", quota, methods=["GET", "PUT", "DELETE"]),
        Route(PREFIX + "/{project_id}/default", default_quota, methods=["GET"]),
        Route(PREFIX + "/{project_id}/details", quota_details, methods=["GET"]),
    ]
