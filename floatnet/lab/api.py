"""The few Neutron API calls the lab makes, over plain HTTP (the lab never imports the server's code).

A hypervisor's view of the API: find a network, create a port bound to a host, read it back, delete it. Errors
raise :class:`LabApiError` carrying Neutron's message. The generic :meth:`LabApi.call` and the ``create`` /
``show`` / ``update`` shorthands serve the benchmarks and the dataplane tests that build a topology over HTTP,
so that there is one small Neutron client rather than one per script.
"""

from __future__ import annotations

from typing import Any

import httpx


class LabApiError(RuntimeError):
    """The server refused a request or could not be reached; ``status`` is 0 when there was no answer."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


def _base(url: str) -> str:
    url = url.rstrip("/")
    return url if url.endswith("/v2.0") else f"{url}/v2.0"


class LabApi:
    """A Neutron v2.0 endpoint (``noauth`` or with a fixed token)."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 30.0) -> None:
        headers = {"X-Auth-Token": token} if token else {}
        self._http = httpx.Client(base_url=_base(url), headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            answer = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise LabApiError(f"cannot reach the floatnet server: {exc}") from exc
        if answer.status_code >= 400:
            try:
                message = answer.json()["NeutronError"]["message"]
            except (ValueError, KeyError, TypeError):
                message = answer.text.strip() or f"HTTP {answer.status_code}"
            raise LabApiError(f"{method} {path}: {message}", answer.status_code)
        return answer.json() if answer.content else None

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One request (``path`` below ``/v2.0``, query string allowed): the decoded answer, None when empty."""
        return self._call(method, path, json=body)

    def create(self, kind: str, **attrs: Any) -> dict[str, Any]:
        """POST a ``kind`` (``network``, ``floatingip``...) with ``attrs``; the created resource."""
        return dict(self.call("POST", f"/{kind}s", {kind: attrs})[kind])

    def show(self, kind: str, ident: str) -> dict[str, Any]:
        return dict(self.call("GET", f"/{kind}s/{ident}")[kind])

    def update(self, kind: str, ident: str, **attrs: Any) -> dict[str, Any]:
        return dict(self.call("PUT", f"/{kind}s/{ident}", {kind: attrs})[kind])

    def network(self, name_or_id: str) -> dict[str, Any]:
        """The network with this id, else the one network with this name."""
        try:
            return dict(self._call("GET", f"/networks/{name_or_id}")["network"])
        except LabApiError as exc:
            if exc.status != 404:
                raise
        found = self._call("GET", "/networks", params={"name": name_or_id})["networks"]
        if len(found) != 1:
            raise LabApiError(f"{len(found)} networks are named {name_or_id!r}", 404 if not found else 409)
        return dict(found[0])

    def create_port(self, network_id: str, name: str, host: str, device_id: str) -> dict[str, Any]:
        """A compute port bound to ``host`` (what Nova asks for when it boots a VM there)."""
        body = {
            "port": {
                "network_id": network_id,
                "name": name,
                "binding:host_id": host,
                "device_owner": "compute:nova",
                "device_id": device_id,
            }
        }
        return dict(self._call("POST", "/ports", json=body)["port"])

    def port(self, port_id: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/ports/{port_id}")["port"])

    def delete_port(self, port_id: str) -> bool:
        """Delete the port; False if it was already gone."""
        try:
            self._call("DELETE", f"/ports/{port_id}")
        except LabApiError as exc:
            if exc.status == 404:
                return False
            raise
        return True
