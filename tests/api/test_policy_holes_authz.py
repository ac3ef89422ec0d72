"""Issue 20, items 1-3: the hostile requests a tester found, refused as Neutron refuses them.

Every test runs twice: on the in-process app and through a real listening server (``live_server``).

1. Gateway takeover: a member plugging an admin's shared subnet (or external subnet) into its own router is a
   400 "not owned by the project making the request" (admins may); by port: another project's port is 404 when
   invisible, 409 ``DeviceIDNotOwnedByTenant`` when visible (network owner), and an own port holding an address
   outside the pools of a foreign subnet a 400.
2. Tag writes follow ``update_<resource>:tags`` / ``delete_<resource>:tags``: a member tagging an admin's shared
   or external network (or their subnets) gets Neutron's 403, an invisible resource stays a 404, a reader tags
   nothing, and the owner still can.
3. Forged router-owned ports: ``network:*`` owners on a network the caller does not own are a 403
   (``create_port:device_owner``/``update_port:device_owner``), a router-interface port naming another
   project's router a 409 ``DeviceIDNotOwnedByTenant``, and a port whose router is gone can be deleted.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.authz_world import TRANSPORTS, World, assert_refused, snapshot, world_for

NETWORK_OWNERS = ("network:router_interface", "network:router_gateway", "network:floatingip", "network:dhcp")


@pytest.fixture(params=TRANSPORTS)
def world(request: pytest.FixtureRequest) -> World:
    return world_for(request)


def _gateway_holders(world: World, subnet_id: str, address: str) -> list[dict[str, Any]]:
    ports = world.admin.ok("GET", f"/v2.0/ports?fixed_ips=subnet_id={subnet_id}")["ports"]
    return [port for port in ports if any(ip["ip_address"] == address for ip in port["fixed_ips"])]


def test_member_cannot_take_a_shared_subnets_gateway(world: World) -> None:
    router = f"/v2.0/routers/{world['member.router']}"
    before = snapshot(world.admin)
    response = world.member.call("PUT", f"{router}/add_router_interface", {"subnet_id": world["admin.shared_subnet"]})
    assert_refused(response, 400, "BadRequest")
    assert "is not owned by project making the request" in response.json()["NeutronError"]["message"]
    hidden = {"subnet_id": world["admin.external_subnet"]}  # other projects do not see it (Neutron's get_subnet)
    assert_refused(world.member.call("PUT", f"{router}/add_router_interface", hidden), 404, "SubnetNotFound")
    assert snapshot(world.admin) == before
    assert _gateway_holders(world, world["admin.shared_subnet"], "10.123.0.1") == []
    admin_router = f"/v2.0/routers/{world['admin.router']}/add_router_interface"
    added = world.admin.ok("PUT", admin_router, {"subnet_id": world["admin.shared_subnet"]})  # admins may
    assert [port["id"] for port in _gateway_holders(world, world["admin.shared_subnet"], "10.123.0.1")] == [
        added["port_id"]
    ]


def test_member_cannot_plug_a_port_it_does_not_own(world: World) -> None:
    add = f"/v2.0/routers/{world['member.router']}/add_router_interface"
    # another project's port on the member's own network: visible to the network owner, still not its own
    theirs = world.admin.create("port", network_id=world["member.network"], project_id=world.other.project)
    # the member's own port, given an address outside the shared subnet's pools by an admin
    pools = {"subnet": {"allocation_pools": [{"start": "10.123.0.2", "end": "10.123.0.200"}]}}
    world.admin.ok("PUT", f"/v2.0/subnets/{world['admin.shared_subnet']}", pools)
    outside = [{"subnet_id": world["admin.shared_subnet"], "ip_address": "10.123.0.250"}]
    forged = world.admin.create("port", network_id=world["admin.shared"], project_id=world.member.project,
                                fixed_ips=outside)  # fmt: skip
    before = snapshot(world.admin)
    assert_refused(world.member.call("PUT", add, {"port_id": world["admin.port"]}), 404, "PortNotFound")
    assert_refused(world.member.call("PUT", add, {"port_id": world["other.port"]}), 404, "PortNotFound")
    assert_refused(world.member.call("PUT", add, {"port_id": theirs["id"]}), 409, "DeviceIDNotOwnedByTenant")
    refused = world.member.call("PUT", add, {"port_id": forged["id"]})
    assert_refused(refused, 400, "BadRequest")
    assert "out of the allocation pool" in refused.json()["NeutronError"]["message"]
    assert snapshot(world.admin) == before
    own = world.member.create("port", network_id=world["admin.shared"])  # an address from the pool: allowed
    assert world.member.ok("PUT", add, {"port_id": own["id"]})["port_id"] == own["id"]


def _tag_writes(world: World, path: str) -> list[tuple[str, str, Any]]:
    return [
        ("PUT", f"{path}/tags", {"tags": ["evil"]}),
        ("PUT", f"{path}/tags/evil", None),
        ("DELETE", f"{path}/tags", None),
        ("DELETE", f"{path}/tags/keep", None),
    ]


def test_member_cannot_tag_an_admins_shared_or_external_network(world: World) -> None:
    before = snapshot(world.admin)
    for name, kind in (("admin.shared", "network"), ("admin.external", "network"),
                       ("admin.shared_subnet", "subnet")):  # fmt: skip
        path = f"/v2.0/{kind}s/{world[name]}"
        assert world.member.ok("GET", f"{path}/tags") == {"tags": ["keep"]}  # visible...
        for method, url, body in _tag_writes(world, path):  # ...but not the member's to change
            assert_refused(world.member.call(method, url, body), 403, "PolicyNotAuthorized")
    hidden = (("other.network", "network"), ("other.network_subnet", "subnet"), ("admin.port", "port"))
    for name, kind in (*hidden, ("admin.external_subnet", "subnet")):  # an external network's subnet is hidden
        for method, url, body in _tag_writes(world, f"/v2.0/{kind}s/{world[name]}"):
            assert_refused(world.member.call(method, url, body), 404)
    assert snapshot(world.admin) == before


def test_reader_tags_nothing_and_the_owner_still_can(world: World) -> None:
    own = [name for name in world.ids if name.startswith("member.")]
    before = snapshot(world.admin)
    for name in own:
        path = f"/v2.0/{world.kinds[name]}s/{world[name]}"
        for method, url, body in _tag_writes(world, path):
            assert_refused(world.reader.call(method, url, body), 403, "PolicyNotAuthorized")
    assert snapshot(world.admin) == before
    for name in own:
        path = f"/v2.0/{world.kinds[name]}s/{world[name]}"
        assert world.member.ok("PUT", f"{path}/tags", {"tags": ["a", "b"]}) == {"tags": ["a", "b"]}
        world.member.ok("PUT", f"{path}/tags/c", status=201)
        world.member.ok("DELETE", f"{path}/tags/a", status=204)
        assert world.member.ok("GET", f"{path}/tags") == {"tags": ["b", "c"]}
        world.member.ok("DELETE", f"{path}/tags", status=204)


def test_forged_router_ports_on_a_network_the_member_does_not_own(world: World) -> None:
    before = snapshot(world.admin)
    for owner in NETWORK_OWNERS:
        for device in ("admin.router", "other.router", "member.router"):
            body = {"port": {"network_id": world["admin.shared"], "device_owner": owner, "device_id": world[device]}}
            assert_refused(world.member.call("POST", "/v2.0/ports", body), 403, "PolicyNotAuthorized")
    mine = world.member.create("port", network_id=world["admin.shared"])
    before = snapshot(world.admin)
    for owner in NETWORK_OWNERS:
        body = {"port": {"device_owner": owner, "device_id": world["admin.router"]}}
        assert_refused(world.member.call("PUT", f"/v2.0/ports/{mine['id']}", body), 403, "PolicyNotAuthorized")
    assert snapshot(world.admin) == before


def test_router_interface_port_naming_another_projects_router(world: World) -> None:
    network = world["member.network"]
    before = snapshot(world.admin)
    for router in ("admin.router", "other.router"):
        body = {"port": {"network_id": network, "device_owner": "network:router_interface", "device_id": world[router]}}
        assert_refused(world.member.call("POST", "/v2.0/ports", body), 409, "DeviceIDNotOwnedByTenant")
        update = {"port": {"device_owner": "network:router_interface", "device_id": world[router]}}
        response = world.member.call("PUT", f"/v2.0/ports/{world['member.port']}", update)
        assert_refused(response, 409, "DeviceIDNotOwnedByTenant")
    assert snapshot(world.admin) == before
    body = {"network_id": network, "device_owner": "network:router_interface", "device_id": world["admin.router"]}
    assert world.admin.ok("POST", "/v2.0/ports", {"port": body}, status=201)  # admins are not checked


def test_no_orphan_once_the_named_router_is_gone(world: World) -> None:
    """The issue's orphan: a port naming a router could never be deleted after that router was."""
    network = world["member.network"]
    gateway = world.member.create("port", network_id=network, device_owner="network:router_gateway",
                                  device_id=world["other.router"])  # fmt: skip
    own_router = world.member.create("router", name="short-lived")["id"]
    interface = world.member.create("port", network_id=network, device_owner="network:router_interface",
                                    device_id=own_router)  # fmt: skip
    for port in (gateway, interface):
        assert_refused(world.member.call("DELETE", f"/v2.0/ports/{port['id']}"), 409, "ServicePortInUse")
    world.other.ok("DELETE", f"/v2.0/routers/{world['other.router']}", status=204)
    world.member.ok("DELETE", f"/v2.0/routers/{own_router}", status=204)
    for port in (gateway, interface):
        world.member.ok("DELETE", f"/v2.0/ports/{port['id']}", status=204)
    left = world.admin.ok("GET", f"/v2.0/ports?network_id={network}&device_owner=network:router_gateway")
    assert left["ports"] == []
