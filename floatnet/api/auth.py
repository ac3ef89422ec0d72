"""Who is calling: the request context, built in exactly one place.

``noauth`` (Neutron's): ``X-Project-Id`` (or ``X-Tenant-Id``) names the project, ``X-Roles`` the roles
(comma separated), ``X-User-Id`` the user; a request without ``X-Project-Id`` is an admin of the default
project. ``admin`` in the roles makes the caller an admin (the app's ``context_is_admin`` rule); with Keystone
the middleware stores the token's context. Either way the context carries the app's policy engine
(``request.app.state.policy``), by which the domain judges the request.
"""

from __future__ import annotations

from dataclasses import replace

from starlette.requests import Request

from floatnet.core.context import DEFAULT_PROJECT, RequestContext

STATE_KEY = "floatnet_context"


def noauth_context(request: Request) -> RequestContext:
    """The context the noauth headers describe (without its policy engine: see :func:`request_context`)."""
    headers, engine = request.headers, request.app.state.policy
    project = headers.get("x-project-id") or headers.get("x-tenant-id")
    request_id = headers.get("x-openstack-request-id")
    if not project:
        ctx = RequestContext.admin(DEFAULT_PROJECT)
    else:
        roles = tuple(role.strip() for role in headers.get("x-roles", "").split(",") if role.strip())
        ctx = RequestContext(
            project_id=project,
            user_id=headers.get("x-user-id", ""),
            roles=roles,
            is_admin=engine.is_admin(project, headers.get("x-user-id", ""), roles),
        )
    if request_id:
        ctx = RequestContext(ctx.project_id, ctx.user_id, ctx.roles, ctx.is_admin, request_id)
    return ctx


def request_context(request: Request) -> RequestContext:
    """The request's context (Keystone's, else noauth's) with the app's policy engine, computed once and cached
    on the request."""
    ctx = request.scope.get(STATE_KEY)
    if ctx is None or ctx.policy is None:
        ctx = replace(ctx or noauth_context(request), policy=request.app.state.policy)
        request.scope[STATE_KEY] = ctx
    return ctx
