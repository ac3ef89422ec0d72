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

from functools import partial

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from floatnet.api import extensions, http
from floatnet.core.access.quota_service import QuotaService

PREFIX = "/v2.0/quotas"


async def list_quotas(request: Request) -> Response:
    """``GET /v2.0/quotas``: the projects with non-default limits (administrators only)."""
    service = QuotaService(http.core_of(request))
    return http.respond({"quotas": await http.run_sync(service.list, http.context_of(request))})


async def quota(request: Request) -> Response:
    """``GET``/``PUT``/``DELETE /v2.0/quotas/{project_id}``."""
    ctx, project_id = http.context_of(request), request.path_params["project_id"]
    service = QuotaService(http.core_of(request))
    if request.method == "PUT":
        wanted = partial(http.envelope_of, await request.body(), "quota")  # parsed after the policy check
        return http.respond({"quota": await http.run_sync(service.update, ctx, project_id, wanted)})
    if request.method == "DELETE":
        await http.run_sync(service.reset, ctx, project_id)
        return http.respond(None, 204)
    return http.respond({"quota": await http.run_sync(service.show, ctx, project_id)})


async def default_quota(request: Request) -> Response:
    """``GET /v2.0/quotas/{project_id}/default``: the limits a project without overrides has."""
    service = QuotaService(http.core_of(request))
    return http.respond({"quota": service.defaults(http.context_of(request), request.path_params["project_id"])})


async def quota_details(request: Request) -> Response:
    """``GET /v2.0/quotas/{project_id}/details``: limit, use and reservations of each resource."""
    ctx, project_id = http.context_of(request), request.path_params["project_id"]
    service = QuotaService(http.core_of(request))
    return http.respond({"quota": await http.run_sync(service.details, ctx, project_id)})


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
