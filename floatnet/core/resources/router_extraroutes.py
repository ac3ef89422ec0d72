"""``add_extraroutes`` / ``remove_extraroutes`` (extraroute-atomic): change a router's routes in one step.

``PUT /v2.0/routers/{id}/add_extraroutes`` with ``{"router": {"routes": [...]}}`` makes the routes the union
of the router's and the given ones (a route is its destination and nexthop; an exact duplicate is kept
once, other routes to the same destination are kept too); ``remove_extraroutes`` the difference (removing
a route the router does not have is no error: the end state is what counts). Both run in one transaction
on the current routes, so concurrent edits never lose each other's routes (what ``openstack router add
route`` relies on, instead of a read-modify-write of ``routes``), and the resulting set is validated as a
``routes`` update is (nexthops on the router's subnets and not its own addresses, at most the route limit).
Both answer the whole router (the API wraps it in ``{"router": ...}``), as Neutron does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from floatnet.core.agent_protocol import changes
from floatnet.core.context import RequestContext
from floatnet.core.resources import extra_routes
from floatnet.core.resources.routers import get_router, render_one
from floatnet.core.resources.scoped_rows import require_owner
from floatnet.core.service import Core
from floatnet.core.validation import Attr, validate
from floatnet.db.models import RouterRoute

Routes = list[dict[str, str]]
BODY = {"routes": Attr(extra_routes.convert, required=True)}


def union(old: Routes, given: Routes) -> Routes:
    """The routes of ``old`` and of ``given``, each exact route once."""
    return old + [route for route in given if route not in old]


def difference(old: Routes, given: Routes) -> Routes:
    """The routes of ``old`` that ``given`` does not name."""
    return [route for route in old if route not in given]


def _requested(body: Any) -> Routes:
    """The ``routes`` of a ``{"router": {"routes": [...]}}`` body, validated as a router's ``routes``."""
    inner = body.get("router") if isinstance(body, dict) else None
    routes: Routes = validate("router", BODY, inner, creating=True)["routes"]
    return routes


def _current(session: Session, router_id: str) -> Routes:
    rows = session.execute(
        select(RouterRoute.destination, RouterRoute.nexthop)
        .where(RouterRoute.router_id == router_id)
        .order_by(RouterRoute.destination, RouterRoute.nexthop)
    )
    return [{"destination": destination, "nexthop": nexthop} for destination, nexthop in rows]


class ExtraRoutesService:
    """The two extraroute-atomic actions, each one retried transaction."""

    def __init__(self, core: Core) -> None:
        self.core = core

    def add(self, ctx: RequestContext, router_id: str, body: Any) -> dict[str, Any]:
        """Add ``body``'s routes to the router's (see the module docstring)."""
        return self._edit(ctx, router_id, body, "add_extraroutes", union)

    def remove(self, ctx: RequestContext, router_id: str, body: Any) -> dict[str, Any]:
        """Remove ``body``'s routes from the router's (see the module docstring)."""
        return self._edit(ctx, router_id, body, "remove_extraroutes", difference)

    def _edit(
        self, ctx: RequestContext, router_id: str, body: Any, action: str, combine: Callable[[Routes, Routes], Routes]
    ) -> dict[str, Any]:
        given = _requested(body)

        def work(session: Session) -> dict[str, Any]:
            router = get_router(session, ctx, router_id)
            require_owner(ctx, action, router)
            extra_routes.replace(session, router, combine(_current(session, router.id), given))
            changes.updated(session, "router", router, router_id=router.id)
            session.flush()
            return render_one(session, self.core.config, router)

        return self.core.db.run(work)
