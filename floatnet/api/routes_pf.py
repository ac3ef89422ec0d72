"""Routes of floating IP port forwardings: ``/v2.0/floatingips/{floatingip_id}/port_forwardings[/{id}]``.

A sub-resource of the floating IP, as Neutron routes it: list (filters except ``internal_ip_address`` and
``internal_port``, sort, paging), create (201), show (``fields``), update, delete (204). The extensions it
implements are declared here, with Neutron's aliases (``expose-port-forwarding-in-fip``: every floating IP
shows its ``port_forwardings``).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from floatnet.api import extensions, http
from floatnet.api.resource import PREFIX, list_response, render_item
from floatnet.core.context import RequestContext
from floatnet.core.listing import ListQuery, Page
from floatnet.core.resources.port_forwardings import PortForwardingService

RESOURCE, COLLECTION = "port_forwarding", "port_forwardings"
BASE = PREFIX + "/floatingips/{floatingip_id}/port_forwardings"

for _alias, _name, _description in (
    ("floating-ip-port-forwarding", "Floating IP Port Forwarding",
     "Allow port forwarding from floating IP port to an internal port"),
    ("floating-ip-port-forwarding-description", "Floating IP Port Forwarding new attribute description",
     "Add a description field to Port Forwarding rules"),
    ("floating-ip-port-forwarding-port-ranges", "Floating IP Port Forwarding support port ranges",
     "Add support to port ranges"),
    ("expose-port-forwarding-in-fip", "Expose Floating IP port forwardings",
     "Expose port forwarding fields in floating IP response"),
):  # fmt: skip
    extensions.register(_alias, _name, _description)


def _service(request: Request) -> PortForwardingService:
    return PortForwardingService(http.core_of(request))


async def collection(request: Request) -> Response:
    """``GET``: the floating IP's forwardings; ``POST``: one more (201)."""
    service, fip_id = _service(request), request.path_params["floatingip_id"]
    if request.method == "POST":
        ctx, body = http.context_of(request), await http.read_envelope(request, RESOURCE)
        created = await http.run_sync(service.create, ctx, fip_id, body)
        return http.respond({RESOURCE: render_item(ctx, RESOURCE, created, [])}, 201)

    def lister(ctx: RequestContext, query: ListQuery) -> Page:
        return service.list(ctx, fip_id, query)

    return await list_response(request, RESOURCE, COLLECTION, lister, "id")


async def member(request: Request) -> Response:
    """``GET``/``PUT``/``DELETE`` one forwarding of the floating IP."""
    ctx, service = http.context_of(request), _service(request)
    fip_id, pf_id = request.path_params["floatingip_id"], request.path_params["id"]
    if request.method == "DELETE":
        await http.run_sync(service.delete, ctx, fip_id, pf_id)
        return http.respond(None, 204)
    if request.method == "PUT":
        body = await http.read_envelope(request, RESOURCE)
        updated = await http.run_sync(service.update, ctx, fip_id, pf_id, body)
        return http.respond({RESOURCE: render_item(ctx, RESOURCE, updated, [])})
    item = await http.run_sync(service.show, ctx, fip_id, pf_id)
    return http.respond({RESOURCE: render_item(ctx, RESOURCE, item, http.fields_param(request))})


def routes() -> list[BaseRoute]:
    return [
        Route(BASE, collection, methods=["GET", "POST"]),
        Route(BASE + "/{id}", member, methods=["GET", "PUT", "DELETE"]),
    ]
