"""Refuse the requests a web page could forge: the CSRF and DNS-rebinding guard in front of every route.

A browser lets any page send "simple" cross-site requests (``text/plain`` or form bodies, no preflight) and,
after a DNS rebinding, even same-origin-looking ones to ``127.0.0.1``. With ``auth_strategy = noauth`` such a
request is an administrator's. No real client (openstacksdk, the ``openstack`` CLI, floatnet's CLI, agent and
lab) sends what a browser must send there, so :class:`RequestGuard` refuses, before any route or auth runs:

* a write (POST/PUT/PATCH/DELETE) whose ``Content-Type`` is present and is not ``application/json`` (any
  parameters, e.g. ``; charset=utf-8``), or that carries a body without one: 415 ``HTTPUnsupportedMediaType``
  (webob's name for the status). A body-less write (``DELETE``, ``PUT …/tags/x``) needs no content type, as
  clients send none there. Neutron itself parses any body as JSON; HTTP's answer for a refused media type is
  415, and a browser form can only send form or text media types;
* a request whose ``Origin`` header is present and is not the server's own (the ``Host`` it was sent to; the
  opaque ``null`` origin included): 403 ``HTTPForbidden``. Browsers send ``Origin`` on every cross-site write;
* in noauth mode, a request whose ``Host`` is not the bound address, ``localhost``, ``127.0.0.1`` or
  ``[::1]`` with the bound port: 403 ``HTTPForbidden`` — a rebound name (``evil.example`` resolving to
  127.0.0.1) arrives with its own name in ``Host``. Bound to a wildcard (``0.0.0.0``/``::``, which needs
  ``allow_insecure_noauth_on_network``), any IP-literal host is accepted too: an address cannot be rebound.
  A request without ``Host`` (HTTP/1.0) passes: browsers always send it.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from floatnet.api.errors import neutron_response
from floatnet.config import Config
from floatnet.core.errors import NeutronError

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
JSON = "application/json"
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARDS = frozenset({"", "0.0.0.0", "::"})
DEFAULT_PORTS = {"http": 80, "https": 443}
JUDGED_HOSTS = 64


class HTTPUnsupportedMediaType(NeutronError):
    status_code = 415
    message_template = "The request media type %(content_type)s is not supported by this server: send " + JSON + "."


class HTTPForbidden(NeutronError):
    status_code = 403
    message_template = "%(reason)s"


def split_host(value: str, default_port: int) -> tuple[str, int] | None:
    """``host[:port]`` (``[v6]:port`` too) as (lower-case host without brackets, port); None when malformed."""
    try:
        parsed = urlsplit(f"//{value}")
        port = parsed.port
    except ValueError:
        return None
    if not parsed.hostname or parsed.username is not None or parsed.path or parsed.query or parsed.fragment:
        return None
    return parsed.hostname, port or default_port


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class HostRule:
    """Which ``Host`` values a noauth server answers (see the module docstring)."""

    def __init__(self, bind_host: str, bind_port: int) -> None:
        self.names = LOOPBACK_NAMES | {bind_host.lower()}
        self.port = bind_port
        self.any_ip = bind_host in WILDCARDS

    def allows(self, host: str, port: int) -> bool:
        return port == self.port and (host in self.names or (self.any_ip and _is_ip(host)))


def _has_body(headers: Headers) -> bool:
    return "transfer-encoding" in headers or headers.get("content-length", "0").strip() not in ("", "0")


def media_type_refusal(method: str, headers: Headers) -> NeutronError | None:
    """415 for a write whose content type is not JSON (see the module docstring), else None."""
    if method not in WRITES:
        return None
    content_type = headers.get("content-type")
    if content_type is None:
        return HTTPUnsupportedMediaType(content_type="(none)") if _has_body(headers) else None
    if content_type.split(";", 1)[0].strip().lower() != JSON:
        return HTTPUnsupportedMediaType(content_type=content_type)
    return None


def origin_refusal(headers: Headers) -> NeutronError | None:
    """403 when ``Origin`` is present and names another site than the ``Host`` the request was sent to."""
    origin = headers.get("origin")
    if origin is None:
        return None
    parsed = urlsplit(origin)
    own = headers.get("host", "").lower()
    if parsed.scheme not in DEFAULT_PORTS or not own or parsed.netloc.lower() != own:
        return HTTPForbidden(reason=f"Cross-origin request refused: Origin {origin} is not this server")
    return None


class RequestGuard:
    """ASGI middleware applying the three refusals of the module docstring (the Host rule in noauth only)."""

    def __init__(self, app: ASGIApp, config: Config) -> None:
        self.app = app
        self.hosts = HostRule(config.bind_host, config.bind_port) if config.auth_strategy == "noauth" else None
        self._judged: dict[tuple[str, str], bool] = {}  # (Host, scheme) -> allowed: clients send one Host

    def host_refusal(self, scope: Scope, headers: Headers) -> NeutronError | None:
        """403 when noauth and the ``Host`` is not one of this server's (see :class:`HostRule`). Each
        (Host, scheme) is judged once (parsing it was a measurable part of a port create); at most
        :data:`JUDGED_HOSTS` answers are kept, so made-up Host values cannot grow the memory."""
        value = headers.get("host")
        if self.hosts is None or value is None:
            return None
        key = (value, scope.get("scheme", "http"))
        allowed = self._judged.get(key)
        if allowed is None:
            parsed = split_host(value, DEFAULT_PORTS.get(key[1], 80))
            allowed = parsed is not None and self.hosts.allows(*parsed)
            if len(self._judged) < JUDGED_HOSTS:
                self._judged[key] = allowed
        if not allowed:
            return HTTPForbidden(reason=f"Host {value} is not this server's address (noauth answers loopback only)")
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = Headers(scope=scope)
            error = (
                self.host_refusal(scope, headers)
                or origin_refusal(headers)
                or media_type_refusal(scope["method"], headers)
            )
            if error is not None:
                await neutron_response(error)(scope, receive, send)
                return
        await self.app(scope, receive, send)
