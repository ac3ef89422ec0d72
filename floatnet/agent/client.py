"""HTTP client of the agent protocol (docs/agent-protocol.md): state, changes, status, registration.

A thin user of :mod:`floatnet.client` (one client for every process): transport errors and 5xx answers are
retried with exponential backoff (a restarting server must not make the agent give up), a refused Keystone
token is renewed once; 410 on the change feed raises :class:`ChangesExpired` so the loop relists; any other
error raises :class:`ServerError` (a :class:`~floatnet.client.ApiError`: status, Neutron's error type and
message). One :class:`Client` per thread: the long poll, the heartbeat and the reconcile loop each hold
their own connection.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from floatnet import client as api_client
from floatnet.agent.status import READY
from floatnet.client import ApiError, TokenSource, keystone_tokens

__all__ = [
    "AGENT_TYPES", "BINARY", "ChangesExpired", "Client", "ServerError", "TokenSource", "keystone_tokens", "report_body",
]  # fmt: skip

AGENT_TYPES = ("Open vSwitch agent", "L3 agent", "DHCP agent")
ROLE_AGENT_TYPES = {"l3": "L3 agent", "dhcp": "DHCP agent"}  # [agent] roles -> the agent row each one adds
ZONED_TYPES = ("L3 agent", "DHCP agent")  # the agents that report an availability zone, as in Neutron
BINARY = "floatnet-agent"


def agent_types(roles: Iterable[str]) -> tuple[str, ...]:
    """The agent rows a node with ``roles`` registers: the Open vSwitch agent always (every Neutron node runs
    one), the L3 agent with ``l3``, the DHCP agent with ``dhcp`` (``compute`` adds no row: it hosts ports)."""
    wanted = {ROLE_AGENT_TYPES[role] for role in roles if role in ROLE_AGENT_TYPES}
    return tuple(t for t in AGENT_TYPES if t == AGENT_TYPES[0] or t in wanted)


def report_body(
    host: str,
    types: Iterable[str],
    configurations: Mapping[str, Any],
    zone: str,
    start_flag: bool = False,
    binary: str = BINARY,
) -> dict[str, Any]:
    """The body of one node's report: ``{"agents": [...]}``, one row per agent type, written by the server in
    one transaction (docs/agent-protocol.md); the L3 and DHCP rows carry the availability ``zone``."""
    agents = []
    for agent_type in types:
        agent = {"host": host, "agent_type": agent_type, "binary": binary,
                 "configurations": dict(configurations), "start_flag": start_flag}  # fmt: skip
        if agent_type in ZONED_TYPES:
            agent["availability_zone"] = zone
        agents.append(agent)
    return {"agents": agents}


class ServerError(ApiError):
    """The server could not be reached or refused a request; ``status`` is the HTTP status (0: no answer).

    ``ServerError(message, status, error_type)`` as before; the shared fields (``type``, ``detail``, ``request``)
    come with it.
    """

    @property
    def error_type(self) -> str:
        """Neutron's error type (``ApiError.type``), under the name the agent has always used."""
        return self.type


class ChangesExpired(ServerError):
    """The change-feed cursor fell out of the server's retention (410): relist the full state."""


class Client:
    """The agent's view of one floatnet server for one host (``tokens``: Keystone tokens, None for noauth) in
    availability zone ``zone``, playing ``roles`` (``[agent] roles``)."""

    def __init__(
        self,
        base_url: str,
        host: str,
        timeout: float = 10.0,
        retries: int = 3,
        tokens: TokenSource | None = None,
        zone: str = "nova",
        roles: Iterable[str] = tuple(ROLE_AGENT_TYPES),
    ) -> None:
        self.host = host
        self.zone = zone
        self.agent_types = agent_types(roles)
        self.retries = retries
        self.tokens = tokens
        self.api = api_client.Client(base_url, tokens=tokens, timeout=timeout, retries=retries)
        self.http = self.api.http

    def close(self) -> None:
        self.api.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One request (retried as the shared client does); a failure is a ServerError (410: ChangesExpired)."""
        try:
            return self.api.call(method, path, **kwargs)
        except ApiError as error:
            cls = ChangesExpired if error.status == 410 else ServerError
            message = self._unauthorized() if error.status == 401 else error.message
            raise cls(message, error.status, error.type, error.detail, error.request) from error

    def _unauthorized(self) -> str:
        """What a 401 means for an agent, and which option fixes it: retrying alone never will."""
        if self.tokens is None:
            return (
                f"the server at {self.api.endpoint} expects Keystone tokens (its auth_strategy is keystone) and this "
                "agent sends none: set auth_strategy = keystone and the service credentials in "
                "[keystone_authtoken] (auth_url, username, password, project_name) of the agent's --config"
            )
        return (
            f"the server at {self.api.endpoint} refused this agent's Keystone token: check the service credentials "
            "in [keystone_authtoken] (auth_url, username, password, project_name) of the agent's --config"
        )

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        """One request below ``/v2.0/floatnet/hosts/<host>``."""
        return self._call(method, f"/floatnet/hosts/{self.host}{path}", **kwargs)

    def state(
        self, routers: Iterable[str] = (), networks: Iterable[str] = (), floatingips: Iterable[str] = (),
        groups: Iterable[str] = (), rules: Iterable[str] = (),
    ) -> dict[str, Any]:  # fmt: skip
        """The host's desired state: everything, or only the given routers/networks (filtered snapshot), the
        routers' floating IPs narrowed to ``floatingips`` when given; ``groups``/``rules``: the security section
        of those security groups (and of the groups of those rules)."""
        params = [("router_id", r) for r in sorted(set(routers))] + [("network_id", n) for n in sorted(set(networks))]
        params += [("floatingip_id", f) for f in sorted(set(floatingips))]
        params += [("security_group_id", g) for g in sorted(set(groups))]
        params += [("security_group_rule_id", r) for r in sorted(set(rules))]
        result = self._request("GET", "/state", params=params)
        if not isinstance(result, dict):
            raise ServerError("state: the answer is not an object")
        return result

    def changes(self, after: int, timeout: float = 30.0) -> dict[str, Any]:
        """Long-poll the changes after ``after``; raises ChangesExpired (410) when the cursor is too old."""
        params = {"after": after, "timeout": int(timeout)}
        result = self._request("GET", "/changes", params=params, timeout=timeout + 10)
        if not isinstance(result, dict):
            raise ServerError("changes: the answer is not an object")
        return result

    def report_status(self, statuses: Mapping[str, Mapping[str, str]]) -> None:
        """``PUT status``: ``{"ports": {id: status}, "floatingips": {...}, "routers": {...}, "dhcp_ready": [port
        id, …]}`` (the agent keys ``dhcp_ready`` by what it serves each port; the server wants the ids)."""
        body = {kind: sorted(values) if kind == READY else dict(values) for kind, values in statuses.items() if values}
        if body:
            self._request("PUT", "/status", body=body)

    def register(self, configurations: Mapping[str, Any], start_flag: bool = False) -> None:
        """Register (or heartbeat) one agent row per role this agent plays, in one request."""
        body = report_body(self.host, self.agent_types, configurations, self.zone, start_flag)
        self._call("POST", "/floatnet/agents", body=body)
