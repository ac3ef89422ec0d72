"""Issue 20, item 4: every create, update, delete and action evaluates its policy rule.

Two walks over every verb of every resource (networks, subnets, ports, routers with their interface actions
and gateway, floating IPs with association, tags, quotas, agents), each on the in-process app and through a
real listening server:

* a ``reader`` of the project that owns the resources: every write is a 403 ``PolicyNotAuthorized`` (agents,
  which a reader may not even see, a 404), and the database is unchanged;
* a ``member`` on the admin's shared and external networks (visible: 403, or 400 for plugging their subnets
  into a router) and on the admin's and another project's private resources (invisible: 404), database
  unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.api.authz_world import RESOURCES, TRANSPORTS, World, assert_refused, build, snapshot, world_for
from tests.conftest import DEFAULT_INI

Request = tuple[str, str, Any]
FORBIDDEN = (403, "PolicyNotAuthorized")


@pytest.fixture(params=TRANSPORTS)
def world(request: pytest.FixtureRequest) -> World:
    return world_for(request)


def _writes(kind: str, resource_id: str) -> list[Request]:
    """Update, delete and the four tag writes of one resource."""
    path = f"/v2.0/{kind}s/{resource_id}"
    return [
        ("PUT", path, {kind: {"description": "changed"}}),
        ("DELETE", path, None),
        ("PUT", f"{path}/tags", {"tags": ["changed"]}),
        ("PUT", f"{path}/tags/changed", None),
        ("DELETE", f"{path}/tags", None),
        ("DELETE", f"{path}/tags/keep", None),
    ]


def _creates(world: World, network: str) -> list[Request]:
    """One create of every resource, each one the member could make."""
    return [
        ("POST", "/v2.0/networks", {"network": {"name": "n"}}),
        ("POST", "/v2.0/subnets", {"subnet": {"network_id": network, "cidr": "10.9.0.0/24", "ip_version": 4}}),
        ("POST", "/v2.0/ports", {"port": {"network_id": network}}),
        ("POST", "/v2.0/routers", {"router": {"name": "r"}}),
        ("POST", "/v2.0/floatingips", {"floatingip": {"floating_network_id": world["admin.external"]}}),
    ]


def _router_actions(world: World, router: str) -> list[Request]:
    """The interface actions, the gateway and an association, on the member's router and floating IP."""
    path = f"/v2.0/routers/{router}"
    fip = f"/v2.0/floatingips/{world['member.floatingip']}"
    return [
        ("PUT", f"{path}/add_router_interface", {"subnet_id": world["member.spare_subnet"]}),
        ("PUT", f"{path}/add_router_interface", {"port_id": world["member.port"]}),
        ("PUT", f"{path}/remove_router_interface", {"subnet_id": world["member.network_subnet"]}),
        ("PUT", path, {"router": {"external_gateway_info": None}}),
        ("PUT", path, {"router": {"routes": []}}),
        ("PUT", fip, {"floatingip": {"port_id": world["member.port"]}}),
        ("PUT", fip, {"floatingip": {"port_id": None}}),
    ]


def _admin_only(world: World, project: str) -> list[tuple[Request, tuple[int, str]]]:
    """Quota changes (403) and agent writes (404: agents are invisible to non-admins)."""
    agent = f"/v2.0/agents/{world['admin.agent']}"
    not_found = (404, "AgentNotFound")
    return [
        (("PUT", f"/v2.0/quotas/{project}", {"quota": {"network": 1}}), FORBIDDEN),
        (("DELETE", f"/v2.0/quotas/{project}", None), FORBIDDEN),
        (("PUT", agent, {"agent": {"admin_state_up": False}}), not_found),
        (("DELETE", agent, None), not_found),
        (("POST", "/v2.0/floatnet/agents", {"agent": {"host": "evil", "agent_type": "L3 agent"}}), FORBIDDEN),
    ]


def _send_all(world: World, caller: Any, expected: list[tuple[Request, tuple[int, str | None]]]) -> None:
    """Send every request; each must be refused as expected and, all together, change nothing."""
    before = snapshot(world.admin)
    for (method, path, body), (status, kind) in expected:
        assert_refused(caller.call(method, path, body), status, kind)
    assert snapshot(world.admin) == before


def test_reader_changes_nothing(world: World) -> None:
    assert {world.kinds[name] for name in world.ids if name.startswith("member.")} >= set(RESOURCES)
    own = [(request, FORBIDDEN) for name in world.ids if name.startswith("member.")
           for request in _writes(world.kinds[name], world[name])]  # fmt: skip
    own += [(request, FORBIDDEN) for request in _creates(world, world["member.network"])]
    own += [(request, FORBIDDEN) for request in _router_actions(world, world["member.router"])]
    _send_all(world, world.reader, [*own, *_admin_only(world, world.reader.project)])
    for name in world.ids:  # the reader still reads what it owns
        if name.startswith("member."):
            world.reader.ok("GET", f"/v2.0/{world.kinds[name]}s/{world[name]}")


def _visible_foreign(world: World) -> list[tuple[Request, tuple[int, str | None]]]:
    """The admin's shared and external networks and the shared network's subnet: the member sees them, changes
    nothing. The external network's subnet is hidden from other projects (Neutron's ``get_subnet``): 404."""
    expected: list[tuple[Request, tuple[int, str | None]]] = []
    for name in ("admin.shared", "admin.external", "admin.shared_subnet"):
        expected += [(request, FORBIDDEN) for request in _writes(world.kinds[name], world[name])]
    hidden = world["admin.external_subnet"]
    expected += [(request, (404, None)) for request in _writes("subnet", hidden)]
    add = f"/v2.0/routers/{world['member.router']}/add_router_interface"
    expected.append((("PUT", add, {"subnet_id": world["admin.shared_subnet"]}), (400, "BadRequest")))
    expected.append((("PUT", add, {"subnet_id": hidden}), (404, "SubnetNotFound")))
    subnet = {"network_id": world["admin.shared"], "cidr": "10.124.0.0/24", "ip_version": 4}
    expected.append((("POST", "/v2.0/subnets", {"subnet": subnet}), FORBIDDEN))
    expected.append((("POST", "/v2.0/ports", {"port": {"network_id": world["admin.external"]}}), FORBIDDEN))
    return expected


def _invisible_foreign(world: World) -> list[tuple[Request, tuple[int, str | None]]]:
    """The admin's and another project's private resources: 404, as if they did not exist."""
    names = [name for name in world.ids if name.startswith("other.")]
    names += ["admin.port", "admin.router", "admin.floatingip"]
    expected: list[tuple[Request, tuple[int, str | None]]] = [
        (request, (404, None)) for name in names for request in _writes(world.kinds[name], world[name])
    ]
    for router in ("admin.router", "other.router"):
        actions = _router_actions(world, world[router])[:5]
        expected += [(request, (404, "RouterNotFound")) for request in actions]
    add = f"/v2.0/routers/{world['member.router']}/add_router_interface"
    for port in ("admin.port", "other.port"):
        expected.append((("PUT", add, {"port_id": world[port]}), (404, "PortNotFound")))
    fip = f"/v2.0/floatingips/{world['member.floatingip']}"
    expected.append((("PUT", fip, {"floatingip": {"port_id": world["other.port"]}}), (404, "PortNotFound")))
    subnet = {"network_id": world["other.network"], "cidr": "10.9.0.0/24", "ip_version": 4}
    expected.append((("POST", "/v2.0/subnets", {"subnet": subnet}), (404, "NetworkNotFound")))
    return expected


def test_member_changes_nothing_it_does_not_own(world: World) -> None:
    expected = _visible_foreign(world) + _invisible_foreign(world) + _admin_only(world, world.other.project)
    _send_all(world, world.member, expected)
    assert_refused(world.member.call("GET", f"/v2.0/quotas/{world.other.project}"), *FORBIDDEN)


def test_network_owner_sees_but_cannot_use_another_projects_port(world: World) -> None:
    """A port of another project on the member's network: visible to the network owner, not its to plug into
    a router (409) or to map a floating IP to (400), as in Neutron."""
    theirs = world.admin.create("port", network_id=world["member.network"], project_id=world.other.project)
    world.member.ok("GET", f"/v2.0/ports/{theirs['id']}")
    add = f"/v2.0/routers/{world['member.router']}/add_router_interface"
    associate = {"floatingip": {"port_id": theirs["id"]}}
    expected: list[tuple[Request, tuple[int, str | None]]] = [
        (("PUT", add, {"port_id": theirs["id"]}), (409, "DeviceIDNotOwnedByTenant")),
        (("PUT", f"/v2.0/floatingips/{world['member.floatingip']}", associate), (400, "BadRequest")),
    ]
    _send_all(world, world.member, expected)
    mine = world.member.create("port", network_id=world["member.network"])
    world.member.ok("PUT", f"/v2.0/floatingips/{world['member.floatingip']}", {"floatingip": {"port_id": mine["id"]}})


def test_admin_only_attributes_of_subnets_and_routers(world: World) -> None:
    """``create_``/``update_subnet:service_types`` and ``<verb>_router:external_gateway_info:enable_snat`` are
    for admins; a member's own create or update writing them is a 403."""
    network, subnet, router = world["member.network"], world["member.spare_subnet"], world["member.router"]
    snat = {"network_id": world["admin.external"], "enable_snat": False}
    new_subnet = {"network_id": network, "cidr": "10.8.0.0/24", "ip_version": 4, "service_types": ["compute:nova"]}
    expected: list[tuple[Request, tuple[int, str | None]]] = [
        (("POST", "/v2.0/subnets", {"subnet": new_subnet}), FORBIDDEN),
        (("PUT", f"/v2.0/subnets/{subnet}", {"subnet": {"service_types": ["compute:nova"]}}), FORBIDDEN),
        (("POST", "/v2.0/routers", {"router": {"name": "r", "external_gateway_info": snat}}), FORBIDDEN),
        (("PUT", f"/v2.0/routers/{router}", {"router": {"external_gateway_info": snat}}), FORBIDDEN),
    ]
    _send_all(world, world.member, expected)


def test_operator_rules_for_tags_and_agents(make_app_client: Any, tmp_path: Path) -> None:
    """The tag and agent rules are evaluated by name, so an operator's policy file changes them."""
    policy = tmp_path / "policy.yaml"
    policy.write_text('"update_network:tags": "rule:admin_only"\n"get_agent": "role:member"\n')
    world = build(make_app_client(f"{DEFAULT_INI}\n[oslo_policy]\npolicy_file = {policy}\n"))
    path = f"/v2.0/networks/{world['member.network']}/tags"
    assert_refused(world.member.call("PUT", f"{path}/x"), *FORBIDDEN)
    world.member.ok("DELETE", f"{path}/keep", status=204)  # delete_network:tags is unchanged
    agent = f"/v2.0/agents/{world['admin.agent']}"
    assert world.member.ok("GET", agent)["agent"]["id"] == world["admin.agent"]  # may see agents now...
    assert_refused(world.member.call("DELETE", agent), *FORBIDDEN)  # ...but not delete them
