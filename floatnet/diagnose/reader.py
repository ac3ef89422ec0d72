"""The diagnosis's own reader of the Neutron API: a tiny GET-only transport and the lookups the checks need.

``diagnose`` reads state only through the public REST API (never the database or the domain code), exactly
like an operator with the ``openstack`` client would, so it also diagnoses a server running somewhere else.

It is independent of :mod:`floatnet.client` on purpose: the agent, the CLI and the lab share that client, and a
diagnosis must not share their bugs. If the shared client misparsed an answer or mangled a filter, the agent
would converge on the wrong state and a diagnosis through the same code would agree with it; reading the raw
answers here, with a parser of its own, lets ``diagnose`` disagree. It shares only the endpoint and the
credentials: the transport is a callable ``get(path, params) -> (status, body)`` with paths relative to the
``/v2.0`` base, so the CLI hands in an ``httpx.Client`` it configured (:func:`http_getter`) and unit tests a
plain function.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

import httpx

from floatnet.diagnose.result import CheckFailed

Getter = Callable[[str, dict[str, Any] | None], tuple[int, Any]]


class ApiReadError(CheckFailed):
    """The API answered an error (or not at all); ``status`` is 0 when the server could not be reached."""

    def __init__(self, path: str, status: int, message: str) -> None:
        super().__init__(
            f"GET {path}: {status or 'no answer'}: {message}",
            "check that `floatnet server` runs and that --os-url / OS_URL (or OS_CLOUD) points at it",
            f"curl -s $OS_URL/v2.0{path}",
        )
        self.path, self.status, self.message = path, status, message


def http_getter(http: httpx.Client) -> Getter:
    """A Getter over an ``httpx.Client`` whose base URL is the v2.0 endpoint (with the caller's credentials)."""

    def get(path: str, params: dict[str, Any] | None = None) -> tuple[int, Any]:
        try:
            response = http.get(path, params=params)
        except httpx.ConnectError as exc:
            raise ApiReadError(path, 0, f"cannot connect to {str(http.base_url).rstrip('/')}") from exc
        except Exception as exc:  # transport or credentials: whatever kept an answer away fails the API hop
            raise ApiReadError(path, 0, f"{type(exc).__name__}: {exc}") from exc
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = {"message": response.text}
        return response.status_code, body

    return get


class NeutronReader:
    """The handful of Neutron reads a diagnosis makes, with Neutron's error bodies turned into ApiReadError."""

    def __init__(self, get: Getter) -> None:
        self._get = get

    def _read(self, path: str, params: dict[str, Any] | None = None) -> Any:
        status, body = self._get(path, params)
        if status >= 400:
            raise ApiReadError(path, status, _error_message(body))
        return body

    def show(self, kind: str, resource_id: str, collection: str = "") -> dict[str, Any] | None:
        """``GET <kind>s/<id>`` (or ``<collection>/<id>``, e.g. ``security-groups``) → the object, or None on
        404."""
        try:
            return dict(self._read(f"/{collection or kind + 's'}/{resource_id}")[kind])
        except ApiReadError as exc:
            if exc.status == 404:
                return None
            raise

    def query(self, kind: str, collection: str = "", **filters: Any) -> list[dict[str, Any]]:
        """``GET <kind>s?filters`` (or ``<collection>?filters``) → the list (a plural key such as
        ``floatingips``)."""
        return list(self._read(f"/{collection or kind + 's'}", filters or None)[f"{kind}s"])

    def agents(self) -> list[dict[str, Any]]:
        return self.query("agent")

    def find_floatingip(self, ref: str) -> dict[str, Any] | None:
        """A floating IP by address (when ``ref`` is an IPv4/IPv6 address) or by id."""
        try:
            ipaddress.ip_address(ref)
        except ValueError:
            return self.show("floatingip", ref)
        found = self.query("floatingip", floating_ip_address=ref)
        exact = [fip for fip in found if fip.get("floating_ip_address") == ref]
        return exact[0] if exact else None

    def port_forwardings(self, fip_id: str) -> list[dict[str, Any]]:
        """The floating IP's port forwardings, whole (the floating IP's own summary lacks the internal port)."""
        return self.query("port_forwarding", f"floatingips/{fip_id}/port_forwardings")

    def l3_agents(self, router_id: str) -> list[dict[str, Any]]:
        """The L3 agents hosting the router, each with ``ha_state`` for an HA router's replica."""
        return list(self._read(f"/routers/{router_id}/l3-agents")["agents"])

    def router_ports(self, router_id: str, device_owner: str) -> list[dict[str, Any]]:
        """The router's ports of one kind (``network:router_interface`` / ``network:router_gateway``)."""
        ports = self.query("port", device_id=router_id, device_owner=device_owner)
        return [p for p in ports if p.get("device_id") == router_id and p.get("device_owner") == device_owner]


def _error_message(body: Any) -> str:
    if isinstance(body, dict):
        error = body.get("NeutronError")
        if isinstance(error, dict):
            return f"{error.get('type', '')}: {error.get('message', '')}"
        if "message" in body:
            return str(body["message"])
    return str(body)[:200]
