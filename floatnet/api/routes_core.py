"""Routes of the core API: version documents, extensions, networks, subnets and ports."""

from __future__ import annotations

import os

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from floatnet.api import extensions, http, resource
from floatnet.api.resource import ResourceSpec, list_route, resource_routes, show_route
from floatnet.core.errors import ExtensionNotFound
from floatnet.core.resources.ip_availability import NetworkIPAvailabilityService
from floatnet.core.resources.networks import NetworkService
from floatnet.core.resources.ports import PortService
from floatnet.core.resources.subnets import SubnetService

CORE_RESOURCES = (
    ResourceSpec("network", "networks", NetworkService),
    ResourceSpec("subnet", "subnets", SubnetService),
    ResourceSpec("port", "ports", PortService),
)


def _base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


SERVER_PID_HEADER = "X-Floatnet-Server-Pid"


async def versions(request: Request) -> Response:
    """``GET /``: the version document (one version, v2.0, CURRENT).

    It also names this server's process id in ``X-Floatnet-Server-Pid``: ``floatnet up`` polls this document
    until its own child answers, and must tell it apart from another server already listening there.
    """
    response = http.respond(
        {
            "versions": [
                {
                    "id": "v2.0",
                    "status": "CURRENT",
                    "links": [{"href": f"{_base_url(request)}/v2.0/", "rel": "self"}],
                }
            ]
        }
    )
    response.headers[SERVER_PID_HEADER] = str(os.getpid())
    return response


async def v2_index(request: Request) -> Response:
    """``GET /v2.0``: links to the resource collections."""
    base = _base_url(request)
    resources = [
        {
            "name": name,
            "collection": collection,
            "links": [{"href": f"{base}/v2.0/{collection}", "rel": "self"}],
        }
        for collection, name in resource.COLLECTIONS.items()
    ]
    return http.respond({"resources": resources})


async def list_extensions(_request: Request) -> Response:
    """``GET /v2.0/extensions``."""
    return http.respond({"extensions": extensions.EXTENSIONS})


async def show_extension(request: Request) -> Response:
    """``GET /v2.0/extensions/{alias}`` (404 when not implemented)."""
    alias = request.path_params["alias"]
    found = extensions.find(alias)
    if found is None:
        raise ExtensionNotFound(extension_alias=alias)
    return http.respond({"extension": found})


def routes() -> list[BaseRoute]:
    """The core routes (mounted by :func:`floatnet.api.app.create_app`)."""
    result: list[BaseRoute] = [
        Route("/", versions, methods=["GET"]),
        Route("/v2.0", v2_index, methods=["GET"]),
        Route("/v2.0/", v2_index, methods=["GET"]),
        Route("/v2.0/extensions", list_extensions, methods=["GET"]),
        Route("/v2.0/extensions/{alias}", show_extension, methods=["GET"]),
    ]
    for spec in CORE_RESOURCES:
        result += resource_routes(spec)
    path, name = "network-ip-availabilities", "network_ip_availability"
    result.append(list_route(path, name, lambda core: NetworkIPAvailabilityService(core).list, "network_id"))
    result.append(show_route(path, name, lambda core: NetworkIPAvailabilityService(core).show))
    return result
