"""Hostile callers for the policy tests: one client, several identities, a shared world, and a snapshot.

Works with the in-process TestClient and with an ``httpx.Client`` aimed at a live server (``base_url``), so
every hostile request is sent both ways. Project names are unique per world, so tests sharing one live server
do not see each other's resources; external networks get an automatic VLAN (no physnet is taken twice).

* :class:`Caller` — requests as one identity (noauth headers; every write says ``application/json``);
* :func:`build` — an admin with an external network and a shared network, a member project with a router
  (gateway and interface), a port and a floating IP, its reader, and a member of another project;
* :func:`snapshot` — everything an admin can read (resources, tags, revisions, quotas, agents): equal before
  and after a refused request proves it changed nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

RESOURCES = ("network", "subnet", "port", "router", "floatingip")
COLLECTIONS = (*(f"{resource}s" for resource in RESOURCES), "agents")


@dataclass
class Caller:
    """One identity on one client."""

    client: Any
    project: str
    role: str

    def call(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"X-Project-Id": self.project, "X-Roles": self.role, "Content-Type": "application/json"}
        if body is None:
            return self.client.request(method, path, headers=headers)
        return self.client.request(method, path, json=body, headers=headers)

    def get(self, path: str) -> Any:
        return self.call("GET", path)

    def create(self, resource: str, **attrs: Any) -> dict[str, Any]:
        """POST a resource (asserting 201) and return it."""
        response = self.call("POST", f"/v2.0/{resource}s", {resource: attrs})
        assert response.status_code == 201, response.text
        return dict(response.json()[resource])

    def ok(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        response = self.call(method, path, body)
        assert response.status_code == status, response.text
        return response.json() if response.content else None


@dataclass
class World:
    """Who is who, and the ids of what each owns (``ids["admin.shared"]``, ``ids["member.router"]``, …)."""

    admin: Caller
    member: Caller
    reader: Caller
    other: Caller
    ids: dict[str, str] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> str:
        return self.ids[name]

    def __setitem__(self, name: str, value: tuple[str, str]) -> None:
        """``world["member.port"] = ("port", id)``: remember it, tagged ``keep`` (by the admin)."""
        kind, resource_id = value
        self.ids[name], self.kinds[name] = resource_id, kind
        if kind in RESOURCES:
            self.admin.ok("PUT", f"/v2.0/{kind}s/{resource_id}/tags/keep", status=201)


def _network_with_subnet(world: World, caller: Caller, name: str, cidr: str, **network: Any) -> None:
    """``<name>`` (a network of ``caller``) and ``<name>_subnet`` (its subnet on ``cidr``)."""
    net = caller.create("network", name=name, **network)
    world[name] = ("network", net["id"])
    world[f"{name}_subnet"] = ("subnet", caller.create("subnet", network_id=net["id"], cidr=cidr, ip_version=4)["id"])


def _admin_side(world: World) -> None:
    admin = world.admin
    _network_with_subnet(world, admin, "admin.external", "198.51.100.0/24", **{"router:external": True})
    _network_with_subnet(world, admin, "admin.shared", "10.123.0.0/24", shared=True)
    world["admin.port"] = ("port", admin.create("port", network_id=world["admin.shared"])["id"])
    world["admin.router"] = ("router", admin.create("router", name="admin-router")["id"])
    fip = admin.create("floatingip", floating_network_id=world["admin.external"])
    world["admin.floatingip"] = ("floatingip", fip["id"])
    body = {"agent": {"host": f"host-{uuid.uuid4().hex[:8]}", "agent_type": "L3 agent"}}
    world["admin.agent"] = ("agent", admin.ok("POST", "/v2.0/floatnet/agents", body)["agent"]["id"])


def _member_side(world: World) -> None:
    member = world.member
    _network_with_subnet(world, member, "member.network", "10.1.0.0/24")
    spare = member.create("subnet", network_id=world["member.network"], cidr="10.2.0.0/24", ip_version=4)
    world["member.spare_subnet"] = ("subnet", spare["id"])
    world["member.port"] = ("port", member.create("port", network_id=world["member.network"])["id"])
    gateway = {"network_id": world["admin.external"]}
    world["member.router"] = ("router", member.create("router", name="mine", external_gateway_info=gateway)["id"])
    interface = {"subnet_id": world["member.network_subnet"]}
    member.ok("PUT", f"/v2.0/routers/{world['member.router']}/add_router_interface", interface)
    fip = member.create("floatingip", floating_network_id=world["admin.external"])
    world["member.floatingip"] = ("floatingip", fip["id"])


def build(client: Any) -> World:
    """The world described in the module docstring; every resource carries the tag ``keep``."""
    suffix = uuid.uuid4().hex[:8]
    world = World(
        admin=Caller(client, "admin", "admin"),
        member=Caller(client, f"beta-{suffix}", "member"),
        reader=Caller(client, f"beta-{suffix}", "reader"),
        other=Caller(client, f"gamma-{suffix}", "member"),
    )
    _admin_side(world)
    _member_side(world)
    other = world.other
    _network_with_subnet(world, other, "other.network", "10.3.0.0/24")
    world["other.port"] = ("port", other.create("port", network_id=world["other.network"])["id"])
    world["other.router"] = ("router", other.create("router", name="theirs")["id"])
    return world


TRANSPORTS = ["in-process", "live-server"]


def world_for(request: pytest.FixtureRequest) -> World:
    """A fresh :func:`build` on the in-process app or on the module's live server (``request.param``)."""
    if request.param == "live-server":
        client = httpx.Client(base_url=request.getfixturevalue("live_server"), timeout=60)
        request.addfinalizer(client.close)
    else:
        client = request.getfixturevalue("app_client")
    return build(client)


def snapshot(admin: Caller) -> dict[str, Any]:
    """Everything an admin can read, in a stable order (agents' ``alive`` left out: it follows the clock)."""
    state: dict[str, Any] = {}
    for collection in COLLECTIONS:
        items = admin.ok("GET", f"/v2.0/{collection}")[collection]
        state[collection] = sorted(({k: v for k, v in item.items() if k != "alive"} for item in items),
                                   key=lambda item: item["id"])  # fmt: skip
    state["quotas"] = admin.ok("GET", "/v2.0/quotas")["quotas"]
    return state


def assert_refused(response: Any, status: int, kind: str | None = None) -> None:
    """A Neutron error with ``status`` (and type ``kind`` when given)."""
    request = f"{response.request.method} {response.request.url}"
    assert response.status_code == status, f"{request}: {response.status_code} {response.text}"
    error = response.json()["NeutronError"]
    assert kind is None or error["type"] == kind, f"{request}: {error}"
