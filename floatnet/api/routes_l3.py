"""Routes of the L3 API: routers (with ``add_router_interface``/``remove_router_interface``) and floating IPs.

The resources use the generic helper (:mod:`floatnet.api.resource`); the two interface actions are
``PUT /v2.0/routers/{id}/add_router_interface`` and ``.../remove_router_interface`` with a bare JSON body
(``{"subnet_id": …}`` or ``{"port_id": …}``) answering the interface info, as Neutron does.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from floatnet.api import extensions, http
from floatnet.api.resource import PREFIX, ResourceSpec, list_route, resource_routes
from floatnet.core.access import policy
from floatnet.core.resources.floatingip_pools import FloatingIPPoolService
from floatnet.core.resources.floatingips import FloatingIPService
from floatnet.core.resources.router_extraroutes import ExtraRoutesService
from floatnet.core.resources.router_interfaces import RouterInterfaceService
from floatnet.core.resources.routers import RouterService

for _alias, _name, _description in (
    (
        "router",
        "Neutron L3 Router",
        "Router abstraction for basic L3 forwarding between L2 networks and gateways.",
    ),
    (
        "ext-gw-mode",
        "Neutron L3 Configurable external gateway mode",
        "Extension of the router with enable_snat.",
    ),
    ("extraroute", "Neutron Extra Route", "Extra routes configuration for L3 router."),
    (
        "extraroute-atomic",
        "Atomically add/remove extra routes",
        "Edit extra routes of a router on server side by atomically adding/removing extra routes",
    ),
    ("router_availability_zone", "Router Availability Zone", "Availability zone support for router."),
    ("l3-ha", "HA Router extension", "Adds HA capability to routers."),
    ("fip-port-details", "Floating IP Port Details Extension", "Add port_details attribute to Floating IP."),
    ("floatingip-pools", "Floating IP Pools Extension", "Provides a floating IP pools API."),
):
    extensions.register(_alias, _name, _description)


async def add_interface(request: Request) -> Response:
    ctx, core = http.context_of(request), http.core_of(request)
    body = await http.read_json(request)
    router_id = request.path_params["id"]
    result = await http.run_sync(RouterInterfaceService(core).add, ctx, router_id, body)
    return http.respond(result)


async def remove_interface(request: Request) -> Response:
    ctx, core = http.context_of(request), http.core_of(request)
    body = await http.read_json(request)
    router_id = request.path_params["id"]
    result = await http.run_sync(RouterInterfaceService(core).remove, ctx, router_id, body)
    return http.respond(result)


async def edit_routes(request: Request) -> Response:
    """``add_extraroutes`` / ``remove_extraroutes``: the whole router back, as the caller may see it."""
    ctx, core = http.context_of(request), http.core_of(request)
    body = await http.read_json(request)
    service = ExtraRoutesService(core)
    action = service.add if request.url.path.endswith("/add_extraroutes") else service.remove
    result = await http.run_sync(action, ctx, request.path_params["id"], body)
    return http.respond({"router": policy.filter_fields(ctx, "router", result)})


def routes() -> list[BaseRoute]:
    """The L3 routes."""
    return [
        Route(PREFIX + "/routers/{id}/add_router_interface", add_interface, methods=["PUT"]),
        Route(PREFIX + "/routers/{id}/remove_router_interface", remove_interface, methods=["PUT"]),
        Route(PREFIX + "/routers/{id}/add_extraroutes", edit_routes, methods=["PUT"]),
        Route(PREFIX + "/routers/{id}/remove_extraroutes", edit_routes, methods=["PUT"]),
        *resource_routes(ResourceSpec("router", "routers", RouterService)),
        *resource_routes(ResourceSpec("floatingip", "floatingips", FloatingIPService)),
        list_route("floatingip_pools", "floatingip_pool", lambda core: FloatingIPPoolService(core).list, "subnet_id"),
    ]
