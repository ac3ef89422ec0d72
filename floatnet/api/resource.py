"""Turn a domain service into Neutron-shaped routes.

``resource_routes(ResourceSpec("network", "networks", NetworkService))`` gives:

* ``GET/POST /v2.0/networks`` — list (filters, ``fields``, sort, ``limit``/``marker`` with ``networks_links``)
  and create (``{"network": {...}}`` → 201 ``{"network": {...}}``);
* ``GET/PUT/DELETE /v2.0/networks/{id}`` — show (``fields``), update (``If-Match``), delete;
* ``/v2.0/networks/{id}/tags[/{tag}]`` — standard-attr-tag (when ``tags``).

Attributes the caller may not see are removed by :func:`floatnet.core.access.policy.filter_fields`, and filters
and sort keys cannot see them either (:mod:`floatnet.api.listing`). All database
work runs in the threadpool.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from floatnet.api import http, listing
from floatnet.core.access import policy
from floatnet.core.context import RequestContext
from floatnet.core.listing import ListQuery, Page
from floatnet.core.resources.tags import Tags
from floatnet.core.service import Core, ResourceService, create_all, delete_checked

PREFIX = "/v2.0"
COLLECTIONS: dict[str, str] = {}  # collection -> resource, of every resource routed (for GET /v2.0)


@dataclass(frozen=True)
class ResourceSpec:
    """A resource's names and the factory of its service (called with the app's :class:`Core`).

    ``path`` is the collection's URL segment when it differs from its JSON key (``security-groups`` for
    ``security_groups``)."""

    resource: str
    collection: str
    service: Callable[[Core], ResourceService]
    tags: bool = True
    path: str = ""


def render_item(ctx: RequestContext, resource: str, item: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """One item as the caller may see it, cut to ``fields``."""
    return http.select_fields(policy.filter_fields(ctx, resource, item), fields)



def render(ctx: RequestContext, spec: ResourceSpec, item: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """One item of ``spec``'s resource as the caller may see it, cut to ``fields``."""
    return render_item(ctx, spec.resource, item, fields)


def _link(request: Request, rel: str, marker: str | None, reverse: bool) -> dict[str, str]:
    params = [(k, v) for k, v in request.query_params.multi_items() if k not in ("marker", "page_reverse")]
    if marker is not None:
        params.append(("marker", marker))
    if reverse:
        params.append(("page_reverse", "True"))
    return {"rel": rel, "href": f"{str(request.url).split('?', 1)[0]}?{urlencode(params)}"}


def page_links(request: Request, page: Page, query: ListQuery) -> list[dict[str, str]]:
    """``<collection>_links`` by Neutron's rules (``api_common.get_pagination_links``), which look only at the
    page's size: a full page always has ``next`` (even when it is the last) and ``previous`` (even when it is
    the first); a short page lacks the link in the direction it was read (``next`` going forward, ``previous``
    with ``page_reverse``). The ``next`` marker is the page's last id and the ``previous`` marker its first; an
    empty page links without a marker."""
    if query.limit is None:
        return []
    items, short, links, key = page.items, len(page.items) < query.limit, [], query.key
    if not (short and not query.page_reverse):
        links.append(_link(request, "next", items[-1][key] if items else None, False))
    if not (short and query.page_reverse):
        links.append(_link(request, "previous", items[0][key] if items else None, True))
    return links


async def list_response(
    request: Request, resource: str, collection: str, lister: Callable[[RequestContext, ListQuery], Page], key: str
) -> Response:
    """``GET /v2.0/<collection>``: the caller's filters, sorting and paging (markers name ``key``), every item
    as the caller may see it and cut to ``fields``, and ``<collection>_links``."""
    ctx = http.context_of(request)
    query = listing.list_query(request, ctx, resource)
    query.key = key
    page = await http.run_sync(lister, ctx, query)
    keep = policy.field_filter(ctx, resource)
    result: dict[str, Any] = {collection: [http.select_fields(keep(item), query.fields) for item in page.items]}
    links = page_links(request, page, query)
    if links:
        result[f"{collection}_links"] = links
    return http.respond(result)


def list_route(path: str, resource: str, lister: Callable[[Core], Callable[..., Page]], key: str = "id") -> Route:
    """The route of a collection that is only listed (``GET /v2.0/<path>``, e.g. ``floatingip_pools``)."""
    collection = path.replace("-", "_")
    COLLECTIONS[path] = resource

    async def endpoint(request: Request) -> Response:
        return await list_response(request, resource, collection, lister(http.core_of(request)), key)

    return Route(f"{PREFIX}/{path}", endpoint, methods=["GET"])


def show_route(path: str, resource: str, shower: Callable[[Core], Callable[[RequestContext, str], Any]]) -> Route:
    """``GET /v2.0/<path>/{id}`` of a read-only resource: ``{"<resource>": {...}}`` cut to ``fields``."""

    async def endpoint(request: Request) -> Response:
        ctx = http.context_of(request)
        item = await http.run_sync(shower(http.core_of(request)), ctx, request.path_params["id"])
        return http.respond({resource: render_item(ctx, resource, item, http.fields_param(request))})

    return Route(f"{PREFIX}/{path}/{{id}}", endpoint, methods=["GET"])


class _Endpoints:
    """The handlers of one resource (bound to its spec)."""

    def __init__(self, spec: ResourceSpec) -> None:
        self.spec = spec

    def _service(self, request: Request) -> ResourceService:
        return self.spec.service(http.core_of(request))

    async def collection(self, request: Request) -> Response:
        service, spec = self._service(request), self.spec
        if request.method == "POST":
            return await self._create(request, http.context_of(request), service)
        return await list_response(request, spec.resource, spec.collection, service.list, "id")

    async def _create(self, request: Request, ctx: RequestContext, service: ResourceService) -> Response:
        """One resource, or (``{"<collection>": [...]}``) several in one all-or-nothing transaction."""
        spec = self.spec
        body = await http.read_json(request)
        if isinstance(body, dict) and isinstance(body.get(spec.collection), list) and len(body) == 1:
            items = [http.unwrap({spec.resource: item}, spec.resource) for item in body[spec.collection]]
            created = await http.run_sync(create_all, http.core_of(request), service, ctx, items)
            return http.respond({spec.collection: [render(ctx, spec, item, []) for item in created]}, 201)
        one = await http.run_sync(service.create, ctx, http.unwrap(body, spec.resource))
        return http.respond({spec.resource: render(ctx, spec, one, [])}, 201)

    async def member(self, request: Request) -> Response:
        ctx, service, spec = http.context_of(request), self._service(request), self.spec
        resource_id = request.path_params["id"]
        if request.method == "DELETE":
            core, revision = http.core_of(request), http.if_match_revision(request)
            await http.run_sync(delete_checked, core, service, ctx, resource_id, revision)
            return http.respond(None, 204)
        if request.method == "PUT":
            body = await http.read_envelope(request, spec.resource)
            revision = http.if_match_revision(request)
            updated = await http.run_sync(service.update, ctx, resource_id, body, revision)
            return http.respond({spec.resource: render(ctx, spec, updated, [])})
        item = await http.run_sync(service.show, ctx, resource_id)
        return http.respond({spec.resource: render(ctx, spec, item, http.fields_param(request))})

    def _tags(self, request: Request) -> Tags:
        return Tags(http.core_of(request), self.spec.resource, self._service(request).show)

    async def tags(self, request: Request) -> Response:
        ctx, tags, resource_id = http.context_of(request), self._tags(request), request.path_params["id"]
        if request.method == "PUT":
            body = await http.read_json(request)
            wanted = body.get("tags") if isinstance(body, dict) else None
            return http.respond({"tags": await http.run_sync(tags.replace, ctx, resource_id, wanted)})
        if request.method == "DELETE":
            await http.run_sync(tags.remove, ctx, resource_id, None)
            return http.respond(None, 204)
        return http.respond({"tags": await http.run_sync(tags.get, ctx, resource_id)})

    async def tag(self, request: Request) -> Response:
        ctx, tags = http.context_of(request), self._tags(request)
        resource_id, tag = request.path_params["id"], request.path_params["tag"]
        if request.method == "PUT":
            await http.run_sync(tags.add, ctx, resource_id, tag)
            return Response(status_code=201)
        if request.method == "DELETE":
            await http.run_sync(tags.remove, ctx, resource_id, tag)
        else:
            await http.run_sync(tags.has, ctx, resource_id, tag)
        return http.respond(None, 204)


def resource_routes(spec: ResourceSpec) -> list[BaseRoute]:
    """The routes of one resource (see the module docstring)."""
    ends = _Endpoints(spec)
    COLLECTIONS[spec.path or spec.collection] = spec.resource
    base = f"{PREFIX}/{spec.path or spec.collection}"
    routes: list[BaseRoute] = [
        Route(base, ends.collection, methods=["GET", "POST"]),
        Route(base + "/{id}", ends.member, methods=["GET", "PUT", "DELETE"]),
    ]
    if spec.tags:
        routes += [
            Route(base + "/{id}/tags", ends.tags, methods=["GET", "PUT", "DELETE"]),
            Route(base + "/{id}/tags/{tag}", ends.tag, methods=["GET", "PUT", "DELETE"]),
        ]
    return routes
