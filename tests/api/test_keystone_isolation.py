"""Project isolation behind the real Keystone: an admin and two members (alice/alpha, bob/beta).

The resources are made with the ``openstack`` CLI (password auth); refusals are checked both through the CLI
and with direct API calls carrying a member's token, because the CLI often refuses on its own lookup before
it sends a PUT or DELETE. Every refused attempt must leave the owner's resource untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.api.keystone_cloud import Cloud, start_cloud
from tests.keystone_fixture import KeystoneServer

pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def cloud(keystone: KeystoneServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    yield from start_cloud(keystone, tmp_path_factory.mktemp("fn-ks-iso"))


def _build_project(cloud: Cloud, user: str, suffix: str, cidr: str) -> dict[str, Any]:
    """A member's network, subnet, port, router (gateway + interface) and floating IP, made with the CLI."""
    net = cloud.ok(user, "network", "create", f"net-{suffix}")
    sub = cloud.ok(user, "subnet", "create", f"sub-{suffix}", "--network", net["id"], "--subnet-range", cidr)
    port = cloud.ok(user, "port", "create", f"port-{suffix}", "--network", net["id"])
    router = cloud.ok(user, "router", "create", f"router-{suffix}")
    gateway = cloud.cli(user, "router", "set", router["id"], "--external-gateway", "public")
    assert gateway.returncode == 0, gateway.stderr
    interface = cloud.cli(user, "router", "add", "subnet", router["id"], sub["id"])
    assert interface.returncode == 0, interface.stderr
    fip = cloud.ok(user, "floating", "ip", "create", "public", "--port", port["id"])
    return {"network": net, "subnet": sub, "port": port, "router": router, "floatingip": fip}


@pytest.fixture(scope="module")
def world(cloud: Cloud) -> dict[str, dict[str, Any]]:
    public = cloud.public_network("--no-dhcp")
    with ThreadPoolExecutor(max_workers=2) as pool:
        alice = pool.submit(_build_project, cloud, "alice", "a", "10.1.0.0/24")
        bob = pool.submit(_build_project, cloud, "bob", "b", "10.2.0.0/24")
        return {"public": {"network": public}, "alice": alice.result(), "bob": bob.result()}


COLLECTIONS = {
    "network": "networks",
    "subnet": "subnets",
    "port": "ports",
    "router": "routers",
    "floatingip": "floatingips",
}


def _ids(cloud: Cloud, user: str, collection: str) -> set[str]:
    status, body = cloud.api(user, "GET", f"/{collection}")
    assert status == 200, body
    return {item["id"] for item in body[collection]}


@pytest.mark.parametrize("resource", list(COLLECTIONS))
def test_lists_show_only_own_resources(cloud: Cloud, world: dict[str, Any], resource: str) -> None:
    collection = COLLECTIONS[resource]
    alice, bob = world["alice"][resource]["id"], world["bob"][resource]["id"]
    assert alice in _ids(cloud, "alice", collection) and bob not in _ids(cloud, "alice", collection)
    assert bob in _ids(cloud, "bob", collection) and alice not in _ids(cloud, "bob", collection)
    assert {alice, bob} <= _ids(cloud, "admin", collection)


def test_cli_lists_are_project_scoped(cloud: Cloud, world: dict[str, Any]) -> None:
    calls: list[tuple[str, tuple[str, ...]]] = [
        ("bob", (kind, "list", "-f", "json")) for kind in ("network", "subnet", "port", "router")
    ]
    calls.append(("bob", ("floating", "ip", "list", "-f", "json")))
    results = cloud.many(calls)
    for result in results:
        assert result.returncode == 0, result.stderr
    names = {item.get("Name") for result in results[:4] for item in result.json()}
    assert {"net-b", "sub-b", "port-b", "router-b", "public"} <= names
    assert not names & {"net-a", "sub-a", "port-a", "router-a"}
    fips = {item["ID"] for item in results[4].json()}
    assert fips == {world["bob"]["floatingip"]["id"]}


def test_other_projects_resources_are_404_for_every_verb(cloud: Cloud, world: dict[str, Any]) -> None:
    for resource, collection in COLLECTIONS.items():
        path = f"/{collection}/{world['alice'][resource]['id']}"
        for method, body in (("GET", None), ("PUT", {resource: {"description": "stolen"}}), ("DELETE", None)):
            status, answer = cloud.api("bob", method, path, body)
            assert status == 404, (method, path, status, answer)
            assert answer["NeutronError"]["type"].endswith("NotFound"), answer
    for resource, collection in COLLECTIONS.items():
        status, answer = cloud.api("admin", "GET", f"/{collection}/{world['alice'][resource]['id']}")
        assert status == 200 and answer[resource]["description"] != "stolen"


def test_cli_show_set_delete_refused_on_other_projects(cloud: Cloud, world: dict[str, Any]) -> None:
    alice = world["alice"]
    calls = [
        ("bob", ("network", "show", alice["network"]["id"])),
        ("bob", ("network", "set", "--name", "stolen", alice["network"]["id"])),
        ("bob", ("subnet", "delete", alice["subnet"]["id"])),
        ("bob", ("port", "set", "--name", "stolen", alice["port"]["id"])),
        ("bob", ("router", "delete", alice["router"]["id"])),
        ("bob", ("floating", "ip", "delete", alice["floatingip"]["id"])),
    ]
    for (user, args), result in zip(calls, cloud.many(calls), strict=True):
        assert result.returncode != 0, f"{user} could run openstack {' '.join(args)}"
    assert cloud.api("admin", "GET", f"/ports/{alice['port']['id']}")[1]["port"]["name"] == "port-a"


def test_router_actions_on_other_projects_refused(cloud: Cloud, world: dict[str, Any]) -> None:
    alice, bob, public = world["alice"], world["bob"], world["public"]["network"]["id"]
    theirs = f"/routers/{alice['router']['id']}"
    attempts = [
        ("PUT", f"{theirs}/add_router_interface", {"subnet_id": bob["subnet"]["id"]}),
        ("PUT", f"{theirs}/remove_router_interface", {"subnet_id": alice["subnet"]["id"]}),
        ("PUT", theirs, {"router": {"external_gateway_info": {"network_id": public}}}),
        ("PUT", theirs, {"router": {"external_gateway_info": {}}}),
    ]
    mine = f"/routers/{bob['router']['id']}"
    attempts += [
        ("PUT", f"{mine}/add_router_interface", {"subnet_id": alice["subnet"]["id"]}),
        ("PUT", f"{mine}/add_router_interface", {"port_id": alice["port"]["id"]}),
    ]
    for method, path, body in attempts:
        status, answer = cloud.api("bob", method, path, body)
        assert status == 404, (path, body, status, answer)
    status, router = cloud.api("admin", "GET", theirs)
    assert router["router"]["external_gateway_info"]["network_id"] == public
    gateway = cloud.cli("bob", "router", "set", alice["router"]["id"], "--external-gateway", "public")
    assert gateway.returncode != 0


def test_floating_ip_association_with_another_projects_port_refused(cloud: Cloud, world: dict[str, Any]) -> None:
    alice, bob, public = world["alice"], world["bob"], world["public"]["network"]["id"]
    mine = world["bob"]["floatingip"]["id"]
    status, answer = cloud.api("bob", "PUT", f"/floatingips/{mine}", {"floatingip": {"port_id": alice["port"]["id"]}})
    assert status == 404, answer
    body = {"floatingip": {"floating_network_id": public, "port_id": alice["port"]["id"]}}
    status, answer = cloud.api("bob", "POST", "/floatingips", body)
    assert status == 404, answer
    cli = cloud.cli("bob", "floating", "ip", "set", "--port", alice["port"]["id"], mine)
    assert cli.returncode != 0
    theirs = alice["floatingip"]["id"]
    status, answer = cloud.api("bob", "PUT", f"/floatingips/{theirs}", {"floatingip": {"port_id": bob["port"]["id"]}})
    assert status == 404, answer
    fip = cloud.api("admin", "GET", f"/floatingips/{theirs}")[1]["floatingip"]
    assert fip["port_id"] == alice["port"]["id"]
    assert cloud.api("admin", "GET", f"/floatingips/{mine}")[1]["floatingip"]["port_id"] == bob["port"]["id"]


def test_member_may_associate_own_port_and_see_external_network(cloud: Cloud, world: dict[str, Any]) -> None:
    bob = world["bob"]
    fip = cloud.ok("bob", "floating", "ip", "create", "public")
    try:
        second = cloud.ok("bob", "port", "create", "port-b2", "--network", bob["network"]["id"])
        result = cloud.cli("bob", "floating", "ip", "set", "--port", second["id"], fip["id"])
        assert result.returncode == 0, result.stderr
        assert cloud.api("bob", "GET", f"/floatingips/{fip['id']}")[1]["floatingip"]["port_id"] == second["id"]
    finally:
        cloud.cli("bob", "floating", "ip", "delete", fip["id"])
    public = cloud.ok("bob", "network", "show", "public")
    assert public["router:external"] is True


def test_subnets_and_ports_on_other_projects_network_refused(cloud: Cloud, world: dict[str, Any]) -> None:
    network = world["alice"]["network"]["id"]
    status, _ = cloud.api("bob", "POST", "/subnets", {"subnet": {"network_id": network, "cidr": "10.9.0.0/24",
                                                                 "ip_version": 4}})  # fmt: skip
    assert status == 404
    status, _ = cloud.api("bob", "POST", "/ports", {"port": {"network_id": network}})
    assert status == 404
    assert cloud.cli("bob", "port", "create", "sneaky", "--network", network).returncode != 0


def _provider_keys(body: dict[str, Any]) -> set[str]:
    """The admin-only attributes present in ``body`` (``binding:vnic_type`` is everyone's)."""
    hidden = ("provider:", "binding:host_id", "binding:vif_type", "binding:vif_details", "binding:profile")
    return {key for key in body if key.startswith(hidden)}


def test_admin_only_attributes_hidden_from_members(cloud: Cloud, world: dict[str, Any]) -> None:
    net_id, port_id = world["alice"]["network"]["id"], world["alice"]["port"]["id"]
    assert not _provider_keys(cloud.api("alice", "GET", f"/networks/{net_id}")[1]["network"])
    assert not _provider_keys(cloud.api("alice", "GET", f"/ports/{port_id}")[1]["port"])
    listed = cloud.api("alice", "GET", "/networks?fields=provider:network_type&fields=id")[1]["networks"]
    assert listed and all("provider:network_type" not in item for item in listed)
    admin_view = cloud.api("admin", "GET", f"/networks/{net_id}")[1]["network"]
    assert admin_view["provider:network_type"] == "vlan"
    assert "binding:host_id" in cloud.api("admin", "GET", f"/ports/{port_id}")[1]["port"]
    cli_view = cloud.ok("alice", "network", "show", net_id)
    assert cli_view.get("provider:network_type") is None


@pytest.mark.parametrize(
    "body",
    [
        {"network": {"name": "x", "shared": True}},
        {"network": {"name": "x", "router:external": True}},
        {
            "network": {
                "name": "x",
                "provider:network_type": "vlan",
                "provider:physical_network": "public_eth1",
            }
        },
    ],
)
def test_admin_only_network_attributes_refused_on_create(cloud: Cloud, body: dict[str, Any]) -> None:
    status, answer = cloud.api("alice", "POST", "/networks", body)
    assert status == 403, answer
    assert answer["NeutronError"]["type"] == "PolicyNotAuthorized"


def test_admin_only_attributes_refused_on_update_and_port_binding(cloud: Cloud, world: dict[str, Any]) -> None:
    alice = world["alice"]
    status, _ = cloud.api("alice", "PUT", f"/networks/{alice['network']['id']}", {"network": {"shared": True}})
    assert status == 403
    status, _ = cloud.api("alice", "PUT", f"/ports/{alice['port']['id']}", {"port": {"binding:host_id": "n1"}})
    assert status == 403
    result = cloud.cli("alice", "network", "create", "--share", "sneaky-shared")
    assert result.returncode != 0
    assert "disallowed by policy" in result.stderr, result.stderr
    chosen = {"floating_network_id": world["public"]["network"]["id"], "floating_ip_address": "203.0.113.77"}
    status, _ = cloud.api("alice", "POST", "/floatingips", {"floatingip": chosen})
    assert status == 403


def test_shared_network_visible_and_usable_but_not_changeable(cloud: Cloud, world: dict[str, Any]) -> None:
    shared = cloud.ok("admin", "network", "create", "shared-net", "--share")
    try:
        cloud.ok(
            "admin",
            "subnet",
            "create",
            "shared-sub",
            "--network",
            shared["id"],
            "--subnet-range",
            "10.50.0.0/24",
        )
        assert shared["id"] in _ids(cloud, "alice", "networks")
        port = cloud.ok("alice", "port", "create", "on-shared", "--network", shared["id"])
        assert port["project_id"] == cloud.keystone.ids["project:alpha"]
        assert cloud.api("bob", "GET", f"/ports/{port['id']}")[0] == 404
        status, _ = cloud.api("alice", "PUT", f"/networks/{shared['id']}", {"network": {"name": "mine"}})
        assert status == 403
        assert cloud.api("alice", "DELETE", f"/networks/{shared['id']}")[0] == 403
        cloud.api("alice", "DELETE", f"/ports/{port['id']}")
    finally:
        cloud.cli("admin", "network", "delete", shared["id"])
