"""Small helpers for API tests: create resources and check Neutron error bodies."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

ADMIN: dict[str, str] = {}


def project(name: str, admin: bool = False) -> dict[str, str]:
    """noauth headers for a member (or admin) of project ``name``."""
    return {"X-Project-Id": name, "X-Roles": "admin" if admin else "member"}


def create(client: Any, resource: str, headers: dict[str, str] | None = None, **attrs: Any) -> dict[str, Any]:
    """POST a resource and return it (asserting 201)."""
    response = client.post(f"/v2.0/{resource}s", json={resource: attrs}, headers=headers or {})
    assert response.status_code == 201, response.text
    return dict(response.json()[resource])


def network(client: Any, headers: dict[str, str] | None = None, **attrs: Any) -> dict[str, Any]:
    return create(client, "network", headers, **attrs)


def subnet(
    client: Any, network_id: str, cidr: str, headers: dict[str, str] | None = None, **attrs: Any
) -> dict[str, Any]:
    return create(client, "subnet", headers, network_id=network_id, cidr=cidr, ip_version=4, **attrs)


def port(client: Any, network_id: str, headers: dict[str, str] | None = None, **attrs: Any) -> dict[str, Any]:
    return create(client, "port", headers, network_id=network_id, **attrs)


def assert_error(response: Any, status: int, error_type: str, contains: str = "") -> dict[str, Any]:
    """The response is a Neutron error of ``error_type`` with ``status`` (and a message containing text)."""
    assert response.status_code == status, response.text
    body = response.json()["NeutronError"]
    assert body["type"] == error_type, body
    assert set(body) == {"type", "message", "detail"}
    assert contains in body["message"], body
    return dict(body)


Cli = Callable[..., str]  # the ``cli`` fixture (tests/conftest.py): run a floatnet command line, return its output


def as_json(cli: Cli, line: str) -> Any:
    """The ``-f json`` output of a floatnet command line, parsed."""
    return json.loads(cli(line + " -f json"))
