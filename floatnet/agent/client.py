"""HTTP client of the agent protocol (docs/agent-protocol.md): state, changes, status, registration.

Transport errors and 5xx answers are retried with exponential backoff (a restarting server must not make the
agent give up); 410 on the change feed raises :class:`ChangesExpired` so the loop relists; any other error
raises :class:`ServerError` carrying Neutron's error type and message. One :class:`Client` per thread: the
long poll, the heartbeat and the reconcile loop each hold their own connection.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import httpx

log = logging.getLogger(__name__)

AGENT_TYPES = ("Open vSwitch agent", "L3 agent", "DHCP agent")
BINARY = "floatnet-agent"


class ServerError(Exception):
    """The server could not be reached or refused a request; ``status`` is the HTTP status (0: no answer)."""

    def __init__(self, message: str, status: int = 0, error_type: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type


class ChangesExpired(ServerError):
    """The change-feed cursor fell out of the server's retention (410): relist the full state."""


def _error_of(response: httpx.Response) -> ServerError:
    try:
        body = response.json().get("NeutronError", {})
    except (ValueError, AttributeError):
        body = {}
    kind = body.get("type", "") if isinstance(body, dict) else ""
    message = body.get("message", "") if isinstance(body, dict) else ""
    text = f"{response.request.method} {response.request.url.path}: {response.status_code} {kind} {message}"
    cls = ChangesExpired if response.status_code == 410 else ServerError
    return cls(text.strip(), response.status_code, kind)


TokenSource = Callable[[bool], str]  # token(refresh) -> a Keystone token; refresh=True after a 401


def keystone_tokens(options: Mapping[str, str]) -> TokenSource:
    """Tokens of the service user in ``[keystone_authtoken]`` (the server's own section, as Neutron's agents
    use the service credentials); keystoneauth caches a token and renews it before it expires."""
    from keystoneauth1 import session
    from keystoneauth1.identity import v3

    auth = v3.Password(
        auth_url=options["auth_url"],
        username=options["username"],
        password=options["password"],
        project_name=options["project_name"],
        user_domain_name=options.get("user_domain_name", "Default"),
        project_domain_name=options.get("project_domain_name", "Default"),
    )
    sess = session.Session(auth=auth)

    def token(refresh: bool = False) -> str:
        if refresh:
            auth.invalidate()
        return str(sess.get_token())

    return token


class Client:
    """The agent's view of one floatnet server for one host (``tokens``: Keystone tokens, None for noauth)."""

    def __init__(
        self, base_url: str, host: str, timeout: float = 10.0, retries: int = 3, tokens: TokenSource | None = None
    ) -> None:
        self.host = host
        self.retries = retries
        self.tokens = tokens
        self.http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout)

    def _headers(self, refresh: bool = False) -> dict[str, str]:
        if self.tokens is None:
            return {}
        try:
            return {"X-Auth-Token": self.tokens(refresh)}
        except Exception as exc:  # keystoneauth raises its own hierarchy for an unreachable/refusing Keystone
            raise ServerError(f"keystone: {type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        self.http.close()

    def _request(self, method: str, path: str, timeout: float | None = None, **kwargs: Any) -> Any:
        """One request with retries on transport errors and 5xx; returns the decoded JSON body (or None)."""
        delay = 0.2
        refresh = False
        for attempt in range(self.retries + 1):
            try:
                limit: Any = httpx.USE_CLIENT_DEFAULT if timeout is None else timeout
                response = self.http.request(method, path, timeout=limit, headers=self._headers(refresh), **kwargs)
            except httpx.HTTPError as exc:
                error = ServerError(f"{method} {path}: {type(exc).__name__}: {exc}")
            else:
                if response.status_code < 400:
                    return response.json() if response.content else None
                error = _error_of(response)
                if response.status_code == 401 and self.tokens is not None and not refresh:
                    refresh = True  # an expired or revoked token: one retry with a fresh one
                    continue
                if response.status_code < 500:
                    raise error
            refresh = False
            if attempt < self.retries:
                log.debug("retrying after %s", error)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
        raise error

    def state(
        self, routers: Iterable[str] = (), networks: Iterable[str] = (), floatingips: Iterable[str] = ()
    ) -> dict[str, Any]:
        """The host's desired state: everything, or only the given routers/networks (filtered snapshot), the
        routers' floating IPs narrowed to ``floatingips`` when given."""
        params = [("router_id", r) for r in sorted(set(routers))] + [("network_id", n) for n in sorted(set(networks))]
        params += [("floatingip_id", f) for f in sorted(set(floatingips))]
        result = self._request("GET", f"/v2.0/floatnet/hosts/{self.host}/state", params=params)
        if not isinstance(result, dict):
            raise ServerError("state: the answer is not an object")
        return result

    def changes(self, after: int, timeout: float = 30.0) -> dict[str, Any]:
        """Long-poll the changes after ``after``; raises ChangesExpired (410) when the cursor is too old."""
        params = {"after": after, "timeout": int(timeout)}
        path = f"/v2.0/floatnet/hosts/{self.host}/changes"
        result = self._request("GET", path, params=params, timeout=timeout + 10)
        if not isinstance(result, dict):
            raise ServerError("changes: the answer is not an object")
        return result

    def report_status(self, statuses: Mapping[str, Mapping[str, str]]) -> None:
        """``PUT status``: ``{"ports": {id: status}, "floatingips": {...}, "routers": {...}}``."""
        body = {kind: dict(values) for kind, values in statuses.items() if values}
        if body:
            self._request("PUT", f"/v2.0/floatnet/hosts/{self.host}/status", json=body)

    def register(self, configurations: Mapping[str, Any], start_flag: bool = False) -> None:
        """Register (or heartbeat) one agent row per role this agent plays."""
        for agent_type in AGENT_TYPES:
            agent = {"host": self.host, "agent_type": agent_type, "binary": BINARY,
                     "configurations": dict(configurations), "start_flag": start_flag}  # fmt: skip
            self._request("POST", "/v2.0/floatnet/agents", json={"agent": agent})
