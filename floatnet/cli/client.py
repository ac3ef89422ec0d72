"""The CLI's HTTP side: a keystoneauth adapter on the Neutron v2.0 endpoint, and name-or-id lookup.

Endpoint and credentials are found the way the OpenStack clients find them, so one habit works for floatnet
and for a real cloud:

* ``--os-url URL`` / ``OS_URL``: no authentication (the server's ``auth_strategy = noauth``), a keystoneauth
  session with the ``none`` plugin and the URL as the endpoint;
* otherwise ``--os-cloud NAME`` / ``OS_CLOUD`` / clouds.yaml / ``OS_*`` variables through
  ``openstack.config``, with the catalog's ``network`` endpoint.

Every failure — refused connection, ``NeutronError`` body, unknown name — becomes a :class:`CliError` carrying
the message the user should read; ``main`` prints it and exits 1, never a traceback.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from keystoneauth1 import adapter, noauth, session
from keystoneauth1 import exceptions as ks_exc

API_VERSION = "v2.0"
TIMEOUT = 60.0
PLURALS = {
    "network": "networks",
    "subnet": "subnets",
    "port": "ports",
    "router": "routers",
    "floatingip": "floatingips",
}


class CliError(Exception):
    """A failure to report to the user as one line on stderr, with exit status 1."""


class ApiError(CliError):
    """The server answered with an error status; ``status`` lets callers treat a 404 as "not by id"."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def neutron_message(status: int, body: Any, text: str) -> str:
    """The human message of an error answer: the ``NeutronError`` message when the body has one."""
    if isinstance(body, dict):
        error = body.get("NeutronError")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str) and error:
            return error
        if body.get("message"):
            return str(body["message"])
    return text.strip() or f"HTTP {status}"


def versioned(endpoint: str) -> str:
    """The v2.0 base URL of a Neutron endpoint given with or without the version."""
    base = endpoint.rstrip("/")
    return base if base.endswith("/" + API_VERSION) else f"{base}/{API_VERSION}"


def make_adapter(os_url: str | None, os_cloud: str | None) -> adapter.Adapter:
    """A keystoneauth adapter on the Neutron v2.0 base URL, from ``--os-url``/``OS_URL`` or the cloud config.

    No URL and no cloud configuration at all is a :class:`CliError` telling the user what to set.
    """
    url = os_url or os.environ.get("OS_URL")
    if url:
        sess = session.Session(auth=noauth.NoAuth(), timeout=TIMEOUT)
        return adapter.Adapter(sess, endpoint_override=versioned(url), raise_exc=False)
    return _cloud_adapter(os_cloud or os.environ.get("OS_CLOUD"))


def _cloud_adapter(cloud: str | None) -> adapter.Adapter:
    """The adapter for a clouds.yaml entry (or ``OS_*`` variables): its session, its ``network`` endpoint."""
    import openstack.config
    from openstack import exceptions as sdk_exc

    try:
        region = openstack.config.OpenStackConfig().get_one(cloud=cloud)
        sess = region.get_session()
        endpoint = region.get_endpoint("network") or sess.get_endpoint(
            service_type="network",
            interface=region.get_interface(),
            region_name=region.get_region_name("network"),
        )
    except (sdk_exc.SDKException, ks_exc.ClientException) as error:
        raise CliError(f"cannot configure the endpoint (use --os-url, OS_URL or OS_CLOUD): {error}") from None
    if not endpoint:
        raise CliError(
            "no network endpoint found: pass --os-url URL (or set OS_URL), or OS_CLOUD with a catalog"
        )
    return adapter.Adapter(sess, endpoint_override=versioned(endpoint), raise_exc=False)


@dataclass
class Client:
    """Neutron v2.0 resources over one adapter: CRUD, router actions and name-or-id resolution."""

    http: adapter.Adapter

    def request(self, method: str, path: str, body: Any = None, params: Any = None) -> Any:
        """Send one request; the decoded JSON answer (None for 204), or :class:`CliError` with the message."""
        kwargs: dict[str, Any] = {"params": params} if params else {}
        if body is not None:
            kwargs["json"] = body
        try:
            response = self.http.request(path, method, headers={"Accept": "application/json"}, **kwargs)
        except ks_exc.ConnectFailure:
            raise CliError(f"Unable to establish connection to {self.http.endpoint_override}") from None
        except ks_exc.ClientException as error:
            raise CliError(f"{method} {path} failed: {error}") from None
        try:
            decoded = response.json() if response.content else None
        except ValueError:
            decoded = None
        if response.status_code >= 400:
            raise ApiError(
                neutron_message(response.status_code, decoded, response.text), response.status_code
            )
        return decoded

    def list(self, kind: str, **filters: Any) -> list[dict[str, Any]]:
        """Every ``kind`` matching ``filters`` (a list value means any of them), following pagination
        links."""
        plural = PLURALS[kind]
        path: str = "/" + plural
        params: Any = [(key, item) for key, value in filters.items() for item in _as_list(value)]
        rows: list[dict[str, Any]] = []
        while True:
            answer = self.request("GET", path, params=params)
            rows.extend(answer.get(plural, []))
            following = [
                link["href"] for link in answer.get(f"{plural}_links", []) if link.get("rel") == "next"
            ]
            if not following or not answer.get(plural):
                return rows
            path, params = following[0], None

    def show(self, kind: str, resource_id: str) -> dict[str, Any]:
        answer = self.request("GET", f"/{PLURALS[kind]}/{resource_id}")
        return dict(answer[kind])

    def create(self, kind: str, attrs: dict[str, Any]) -> dict[str, Any]:
        answer = self.request("POST", f"/{PLURALS[kind]}", body={kind: attrs})
        return dict(answer[kind])

    def update(self, kind: str, resource_id: str, attrs: dict[str, Any]) -> dict[str, Any]:
        answer = self.request("PUT", f"/{PLURALS[kind]}/{resource_id}", body={kind: attrs})
        return dict(answer[kind])

    def delete(self, kind: str, resource_id: str) -> None:
        self.request("DELETE", f"/{PLURALS[kind]}/{resource_id}")

    def router_action(self, router_id: str, action: str, body: dict[str, Any]) -> dict[str, Any]:
        """``PUT /routers/{id}/{action}`` (add_router_interface / remove_router_interface)."""
        return dict(self.request("PUT", f"/routers/{router_id}/{action}", body=body) or {})

    def find(self, kind: str, name_or_id: str) -> dict[str, Any]:
        """The one ``kind`` whose id (or name; for floating IPs, address) is ``name_or_id``.

        Raises :class:`CliError` when none matches, or when a name is ambiguous (listing the candidates' ids,
        as the neutron client did, so the user can pick one).
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
            raise CliError(f"Unable to find {label} with name or id '{name_or_id}'")
        ids = ", ".join(sorted(str(match["id"]) for match in matches))
        raise CliError(
            f"Multiple {label} matches found for name '{name_or_id}', use an ID to be more specific: {ids}"
        )

    def find_id(self, kind: str, name_or_id: str) -> str:
        return str(self.find(kind, name_or_id)["id"])


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]
