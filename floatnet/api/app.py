"""The ASGI application: one Starlette app mounting the core, L3 and agent routes.

``create_app(config)`` opens the database (migrating it unless told not to), builds the domain container
(:class:`floatnet.core.service.Core`, reachable from handlers as ``request.app.state.core``) and installs the
single error mapping of :mod:`floatnet.api.errors`. Every request first passes :mod:`floatnet.api.guard` (the
CSRF / DNS-rebinding refusals), then Keystone token validation when configured.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from floatnet.api import (
    errors,
    routes_access,
    routes_agent,
    routes_core,
    routes_l3,
    routes_pf,
    routes_pools,
    routes_quotas,
    routes_scheduler,
    routes_security,
)
from floatnet.api.guard import RequestGuard
from floatnet.config import Config
from floatnet.core.access import policy
from floatnet.core.agent_protocol import feed
from floatnet.core.agent_protocol.agents import down_time
from floatnet.core.agent_protocol.follow import Follower
from floatnet.core.service import Core
from floatnet.db.migrate import upgrade
from floatnet.db.session import Database


class JsonSuffix:
    """Accept Neutron's optional format suffix: ``/v2.0/networks.json`` is ``/v2.0/networks``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].endswith(".json"):
            scope = {**scope, "path": scope["path"][: -len(".json")], "raw_path": None}
        await self.app(scope, receive, send)


def all_routes() -> list[BaseRoute]:
    """Every route, the agent protocol's first: the router tries routes in order, and at a thousand agents their
    polls, fetches and reports are most of the requests (no agent path overlaps another route's)."""
    return [
        *routes_agent.routes(),
        *routes_core.routes(),
        *routes_l3.routes(),
        *routes_pf.routes(),
        *routes_security.routes(),
        *routes_pools.routes(),
        *routes_access.routes(),
        *routes_scheduler.routes(),
        *routes_quotas.routes(),
    ]


def open_database(config: Config, migrate: bool = True) -> Database:
    """The configured database (creating the state dir for the default SQLite file), migrated to head."""
    if not config.database_connection:
        config.state_dir.mkdir(parents=True, exist_ok=True)
    db = Database(config.database_url)
    if migrate:
        upgrade(db.engine)
    return db


def create_app(config: Config, database: Database | None = None, migrate: bool = True) -> Starlette:
    """The floatnet API for ``config`` (database from ``config.database_url`` unless given)."""
    engine = policy.load(config.policy_file)  # this app's rules: handed to every request's context
    db = database or open_database(config, migrate)
    middleware = [Middleware(RequestGuard, config=config)]  # outermost: refused before auth or any route
    if config.auth_strategy == "keystone":
        from floatnet.api.keystone import KeystoneAuth, KeystoneMiddleware

        middleware.append(Middleware(KeystoneMiddleware, auth=KeystoneAuth(config.keystone_authtoken, engine.is_admin)))
    app = Starlette(routes=all_routes(), middleware=[*middleware, Middleware(JsonSuffix)])
    core = Core(db=db, config=config)
    settings = feed.attach(core.db, core.notifier, down_time(config), config.dhcp_agents_per_network)
    app.state.follower = Follower(core.db, core.notifier, settings)
    app.state.core = core
    app.state.config = config
    app.state.policy = engine
    errors.install(app)
    return app
