"""``auth_strategy = keystone``: validate tokens with keystonemiddleware's ``auth_token``, as Neutron does.

keystonemiddleware is WSGI middleware and floatnet is ASGI, so the real ``AuthProtocol`` runs unchanged on a
WSGI environ built from the ASGI request's method, path and headers (the body is never needed for
authentication), in a worker thread because it blocks on HTTP calls to Keystone. ``AuthProtocol`` strips any
identity headers the client sent, validates ``X-Auth-Token`` (and ``X-Service-Token``) against Keystone, and
then either answers itself — the ``401`` with ``WWW-Authenticate: Keystone uri=...`` that Neutron returns, or
``503`` when Keystone is unreachable — or sets ``X-Identity-Status``, ``X-Project-Id``, ``X-User-Id``,
``X-Roles``… on the environ. Only those validated headers become the request's :class:`RequestContext`.

The ``[keystone_authtoken]`` section is keystonemiddleware's own (``www_authenticate_uri``, ``auth_url``,
``auth_type = password``, ``username``, ``password``, ``project_name``, ``memcached_servers``…), read into a
private oslo.config object so nothing leaks into global configuration.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from keystoneauth1 import loading
from keystonemiddleware import auth_token
from oslo_config import cfg
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from floatnet.api.auth import STATE_KEY
from floatnet.core.context import RequestContext

GROUP = "keystone_authtoken"
PUBLIC_PATHS = frozenset({"/"})  # Neutron serves its version document without a token
_PASSED = "floatnet.auth_passed"
UNAUTHORIZED = "The request you have made requires authentication."

AdminCheck = Callable[[str, str, tuple[str, ...]], bool]


def _default_is_admin(_project_id: str, _user_id: str, roles: tuple[str, ...]) -> bool:
    return "admin" in roles


def _oslo_conf(options: Mapping[str, str]) -> tuple[cfg.ConfigOpts, dict[str, Any]]:
    """A private oslo.config holding the auth plugin's options, and the middleware's own options as overrides.

    keystonemiddleware takes its own options as paste-style overrides, but the auth plugin's (``username``…)
    must be registered options of the plugin, so they are set on the private config instead.
    """
    conf = cfg.ConfigOpts()
    conf([], project="floatnet", default_config_files=[], default_config_dirs=[])
    own = {opt.dest for _, opts in auth_token.list_opts() for opt in opts}
    own |= {dep.name for _, opts in auth_token.list_opts() for opt in opts for dep in opt.deprecated_opts}
    middleware_options: dict[str, Any] = {k: v for k, v in options.items() if k in own}
    plugin = options.get("auth_type") or options.get("auth_plugin")
    if plugin:
        plugin_opts = loading.get_auth_plugin_conf_options(loading.get_plugin_loader(plugin))
        conf.register_opts(plugin_opts, group=GROUP)
        for opt in plugin_opts:
            if opt.dest in options and opt.dest not in own:
                conf.set_override(opt.dest, options[opt.dest], group=GROUP)
    middleware_options["oslo_config_config"] = conf
    return conf, middleware_options


def _environ(scope: Scope) -> dict[str, Any]:
    """A WSGI environ carrying the ASGI request's method, path, query and headers (no body)."""
    server = scope.get("server") or ("localhost", 80)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": "",
        "PATH_INFO": scope["path"],
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for raw_name, raw_value in scope.get("headers", []):
        name = raw_name.decode("latin-1").upper().replace("-", "_")
        if name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            continue
        key = f"HTTP_{name}"
        value = raw_value.decode("latin-1")
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


def _roles(value: str) -> tuple[str, ...]:
    return tuple(role.strip() for role in value.split(",") if role.strip())


class Rejection:
    """keystonemiddleware's own answer (401/503), passed to the client unchanged."""

    def __init__(self, status: str, headers: Iterable[tuple[str, str]], body: bytes) -> None:
        self.status_code = int(status.split(" ", 1)[0])
        self.headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
        self.body = body

    async def send(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body})


class KeystoneAuth:
    """keystonemiddleware's ``AuthProtocol`` on ``[keystone_authtoken]``: turns tokens into contexts."""

    def __init__(self, options: Mapping[str, str], is_admin: AdminCheck | None = None) -> None:
        self.conf, middleware_options = _oslo_conf(options)
        self.protocol = auth_token.AuthProtocol(self._reached, middleware_options)
        self.is_admin = is_admin or _default_is_admin

    @staticmethod
    def _reached(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        """The inner WSGI app: only called when the middleware let the request through."""
        environ[_PASSED] = True
        start_response("204 No Content", [])
        return [b""]

    def _unauthorized(self) -> Rejection:
        """The middleware's own 401 (body and ``WWW-Authenticate``), for requests it deferred to us."""
        body = {"error": {"code": 401, "title": "Unauthorized", "message": UNAUTHORIZED}}
        headers = [
            ("Content-Type", "application/json"),
            ("WWW-Authenticate", f'Keystone uri="{self.protocol.www_authenticate_uri}"'),
        ]
        return Rejection("401 Unauthorized", headers, json.dumps(body).encode())

    def authenticate(self, scope: Scope) -> RequestContext | Rejection:
        """Validate the request's token (blocking): its context, or the middleware's rejection."""
        environ = _environ(scope)
        answer: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
            answer.update(status=status, headers=headers)

        body = b"".join(self.protocol(environ, start_response))
        if not environ.get(_PASSED):
            return Rejection(answer["status"], answer["headers"], body)
        if environ.get("HTTP_X_IDENTITY_STATUS") != "Confirmed":  # delay_auth_decision lets it reach us
            return self._unauthorized()
        project_id = environ.get("HTTP_X_PROJECT_ID", "")
        user_id = environ.get("HTTP_X_USER_ID", "")
        roles = _roles(environ.get("HTTP_X_ROLES", ""))
        return RequestContext(
            project_id=project_id,
            user_id=user_id,
            roles=roles,
            is_admin=self.is_admin(project_id, user_id, roles),
        )


class KeystoneMiddleware:
    """ASGI middleware: every request except ``GET /`` needs a valid Keystone token; its context is stored."""

    def __init__(self, app: ASGIApp, auth: KeystoneAuth) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] in ("GET", "HEAD") and scope["path"] in PUBLIC_PATHS:
            scope[STATE_KEY] = RequestContext(project_id="", roles=(), is_admin=False)
            await self.app(scope, receive, send)
            return
        outcome = await run_in_threadpool(self.auth.authenticate, scope)
        if isinstance(outcome, Rejection):
            await outcome.send(send)
            return
        scope[STATE_KEY] = outcome
        await self.app(scope, receive, send)
