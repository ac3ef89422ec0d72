"""Routes of subnet pools and address scopes (``/v2.0/subnetpools``, ``/v2.0/address-scopes``) and the
subnetpool-prefix-ops actions ``PUT /v2.0/subnetpools/{id}/add_prefixes`` and ``.../remove_prefixes`` (a bare
``{"prefixes": [...]}`` body answered with the pool's prefixes after the change, as Neutron does).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from floatnet.api import extensions, http
from floatnet.api.resource import PREFIX, ResourceSpec, resource_routes
from floatnet.core.resources.address_scopes import AddressScopeService
from floatnet.core.resources.subnet_pools import SubnetPoolService

for _alias, _name, _description in (
    ("subnet_allocation", "Subnet Allocation", "Enables allocation of subnets from a subnet pool"),
    ("default-subnetpools", "Default Subnetpools", "Provides ability to mark and use a subnetpool as the default."),
    (
        "subnetpool-prefix-ops",
        "Subnet Pool Prefix Operations",
        "Provides support for adjusting the prefix list of subnet pools",
    ),
    ("address-scope", "Address scope", "Address scopes extension."),
):
    extensions.register(_alias, _name, _description)

POOL_RESOURCES = (
    ResourceSpec("subnetpool", "subnetpools", SubnetPoolService),
    ResourceSpec("address_scope", "address_scopes", AddressScopeService, path="address-scopes"),
)


def _prefix_action(adding: bool) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        ctx, core = http.context_of(request), http.core_of(request)
        body = await http.read_json(request)
        service = SubnetPoolService(core)
        result = await http.run_sync(service.change_prefixes, ctx, request.path_params["id"], body, adding)
        return http.respond(result)

    return endpoint


def routes() -> list[BaseRoute]:
    """The subnet pool and address scope routes (mounted by :func:`floatnet.api.app.create_app`)."""
    return [
        Route(PREFIX + "/subnetpools/{id}/add_prefixes", _prefix_action(True), methods=["PUT"]),
        Route(PREFIX + "/subnetpools/{id}/remove_prefixes", _prefix_action(False), methods=["PUT"]),
        *[route for spec in POOL_RESOURCES for route in resource_routes(spec)],
    ]
