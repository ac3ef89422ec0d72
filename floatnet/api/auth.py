"""Who is calling: the request context, built in exactly one place.

``noauth`` (Neutron's): ``X-Project-Id`` (or ``X-Tenant-Id``) names the project, ``X-Roles`` the roles
(comma separated), ``X-User-Id`` the user; a request without ``X-Project-Id`` is an admin of the default
project. ``admin`` in the roles makes the caller an admin. Keystone validation will plug in here.
"""

from __future__ import annotations

from starlette.requests import Request

from floatnet.core.access import policy
from floatnet.core.context import DEFAULT_PROJECT, Context

STATE_KEY = "floatnet_context"


def noauth_context(request: Request) -> Context:
    """The context the noauth headers describe."""
    headers = request.headers
    project = headers.get("x-project-id") or headers.get("x-tenant-id")
    request_id = headers.get("x-openstack-request-id")
    if not project:
        ctx = Context.admin(DEFAULT_PROJECT)
    else:
        roles = tuple(role.strip() for role in headers.get("x-roles", "").split(",") if role.strip())
        ctx = Context(
            project_id=project,
            user_id=headers.get("x-user-id", ""),
            roles=roles,
            is_admin=policy.engine().is_admin(project, headers.get("x-user-id", ""), roles),
        )
    if request_id:
        ctx = Context(ctx.project_id, ctx.user_id, ctx.roles, ctx.is_admin, request_id)
    return ctx


def request_context(request: Request) -> Context:
    """The request's context, computed once and cached on the request."""
    ctx = request.scope.get(STATE_KEY)
    if ctx is None:
        ctx = noauth_context(request)
        request.scope[STATE_KEY] = ctx
    return ctx
