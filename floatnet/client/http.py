"""The Neutron v2.0 client: one request with retries, and the resource verbs every caller needs.

Paths are relative to the ``/v2.0`` base (``/networks``, ``/floatnet/hosts/node1/state``); an absolute URL
(a pagination ``next`` link) is followed as is. Answers are decoded JSON (None when empty); errors are
:class:`~floatnet.client.errors.ApiError`. With ``retries`` > 0, transport errors and 5xx answers are retried
with exponential backoff (a restarting server must not make a long-running agent give up); 4xx never are. One
client per thread: it holds one keep-alive connection pool.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

import httpx

from floatnet.client.auth import TokenAuth, TokenSource
from floatnet.client.errors import ApiError, error_of

log = logging.getLogger(__name__)

API_VERSION = "v2.0"
MAX_BACKOFF = 5.0


def versioned(endpoint: str) -> str:
    """The v2.0 base URL of a Neutron endpoint given with or without the version."""
    base = endpoint.rstrip("/")
    return base if base.endswith("/" + API_VERSION) else f"{base}/{API_VERSION}"


def _connect_error(endpoint: str, exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return f"Unable to establish connection to {endpoint}"
    return f"{type(exc).__name__}: {exc}"


class Client:
    """A Neutron v2.0 endpoint: ``token`` (fixed) or ``tokens`` (Keystone, refreshed) or neither (noauth)."""

    def __init__(self, url: str, *, token: str | None = None, tokens: TokenSource | None = None,
                 timeout: float = 30.0, retries: int = 0, backoff: float = 0.2, verify: Any = True,
                 transport: httpx.BaseTransport | None = None) -> None:  # fmt: skip
        self.endpoint = versioned(url)
        self.retries = retries
        self.backoff = backoff
        headers = {"Accept": "application/json"} | ({"X-Auth-Token": token} if token else {})
        self.http = httpx.Client(base_url=self.endpoint, headers=headers, timeout=timeout, verify=verify,
                                 auth=TokenAuth(tokens) if tokens else None, transport=transport)  # fmt: skip

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, method: str, path: str, timeout: float | None, **kwargs: Any) -> Any:
        """One attempt: the decoded answer, or the ApiError to raise or retry."""
        limit: Any = httpx.USE_CLIENT_DEFAULT if timeout is None else timeout
        try:
            response = self.http.request(method, path, timeout=limit, **kwargs)
        except httpx.HTTPError as exc:
            return ApiError(_connect_error(self.endpoint, exc), request=f"{method} {path}")
        if response.status_code >= 400:
            return error_of(response, f"{method} {path}")
        return response.json() if response.content else None

    def call(self, method: str, path: str, body: Any = None, params: Any = None,
             timeout: float | None = None) -> Any:  # fmt: skip
        """One request (``body`` as JSON, ``params`` a mapping or pairs): the decoded answer, None when empty."""
        kwargs: dict[str, Any] = {"params": params} if params else {}
        if body is not None:
            kwargs["json"] = body
        delay = self.backoff
        for attempt in range(self.retries + 1):
            answer = self._send(method, path, timeout, **kwargs)
            if not isinstance(answer, ApiError):
                return answer
            if 0 < answer.status < 500 or attempt == self.retries:
                raise answer
            log.debug("retrying after %s", answer)
            time.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF)
        raise AssertionError("unreachable")  # the loop returns or raises on its last attempt

    def list(self, kind: str, **filters: Any) -> list[dict[str, Any]]:
        """Every ``kind`` matching ``filters`` (a list value means any of them), following pagination links."""
        plural = _plural(kind)
        path = _collection(kind)
        params: Any = [(key, item) for key, value in filters.items() for item in _as_list(value)]
        rows: list[dict[str, Any]] = []
        while True:
            answer = self.call("GET", path, params=params)
            rows.extend(answer.get(plural, []))
            following = [link["href"] for link in answer.get(f"{plural}_links", []) if link.get("rel") == "next"]
            if not following or not answer.get(plural):
                return rows
            path, params = following[0], None

    def show(self, kind: str, ident: str) -> dict[str, Any]:
        return dict(self.call("GET", f"{_collection(kind)}/{ident}")[kind])

    def create(self, kind: str, attrs: Mapping[str, Any] | None = None, /, **more: Any) -> dict[str, Any]:
        """POST a ``kind`` with ``attrs`` and/or keywords (``create("port", {"binding:host_id": h}, name=n)``)."""
        return dict(self.call("POST", _collection(kind), {kind: {**(attrs or {}), **more}})[kind])

    def update(self, kind: str, ident: str, attrs: Mapping[str, Any] | None = None, /, **more: Any) -> dict[str, Any]:
        return dict(self.call("PUT", f"{_collection(kind)}/{ident}", {kind: {**(attrs or {}), **more}})[kind])

    def delete(self, kind: str, ident: str) -> None:
        self.call("DELETE", f"{_collection(kind)}/{ident}")

    def find(self, kind: str, name_or_id: str) -> dict[str, Any]:
        """The one ``kind`` whose id (or name; for floating IPs, address) is ``name_or_id``.

        None matching is a 404 :class:`ApiError`; an ambiguous name a 409 listing the candidates' ids, as the
        neutron client did, so a user can pick one.
        """
        try:
            return self.show(kind, name_or_id)
        except ApiError as error:
            if error.status not in (400, 404):
                raise
        key = "floating_ip_address" if kind == "floatingip" else "name"
        matches = self.list(kind, **{key: name_or_id})
        if len(matches) == 1:
            return matches[0]
        label = "floating IP" if kind == "floatingip" else kind
        if not matches:
            raise ApiError(f"Unable to find {label} with name or id '{name_or_id}'", 404)
        ids = ", ".join(sorted(str(match["id"]) for match in matches))
        message = f"Multiple {label} matches found for name '{name_or_id}', use an ID to be more specific: {ids}"
        raise ApiError(message, 409)

    def find_id(self, kind: str, name_or_id: str) -> str:
        return str(self.find(kind, name_or_id)["id"])


def _plural(kind: str) -> str:
    """A kind's collection key as Neutron spells it (``rbac_policy`` → ``rbac_policies``, ``port`` → ``ports``)."""
    return f"{kind[:-1]}ies" if kind.endswith("y") else f"{kind}s"


def _collection(kind: str) -> str:
    """A kind's collection URL (``security_group`` → ``/security-groups``; its JSON key keeps the ``_``)."""
    return "/" + _plural(kind).replace("_", "-")


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]
