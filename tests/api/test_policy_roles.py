"""Neutron's role-based defaults in-process (noauth headers): a ``reader`` reads but changes nothing, and an
operator's policy file overrides who may change what. The Keystone-backed tests cover members and admins.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.api.helpers import assert_error, create, network, project, subnet
from tests.conftest import DEFAULT_INI

READER = {"X-Project-Id": "alpha", "X-Roles": "reader"}
MEMBER = project("alpha")
ADMIN = project("admin", admin=True)
PUBLIC = {"router:external": True, "provider:network_type": "flat", "provider:physical_network": "public_eth0"}


def _world(client: Any) -> dict[str, Any]:
    public = network(client, ADMIN, name="public", **PUBLIC)
    subnet(client, public["id"], "203.0.113.0/24", ADMIN)
    net = network(client, MEMBER, name="a")
    sub = subnet(client, net["id"], "10.1.0.0/24", MEMBER)
    router = create(client, "router", MEMBER, name="r", external_gateway_info={"network_id": public["id"]})
    fip = create(client, "floatingip", MEMBER, floating_network_id=public["id"])
    return {"public": public, "network": net, "subnet": sub, "router": router, "floatingip": fip}


def test_reader_reads_but_changes_nothing(make_app_client: Callable[..., Any]) -> None:
    client = make_app_client()
    world = _world(client)
    for resource in ("network", "subnet", "router", "floatingip"):
        path = f"/v2.0/{resource}s/{world[resource]['id']}"
        assert client.get(path, headers=READER).status_code == 200
        refused = client.put(path, json={resource: {"description": "r"}}, headers=READER)
        assert_error(refused, 403, "PolicyNotAuthorized")
        assert_error(client.delete(path, headers=READER), 403, "PolicyNotAuthorized")
    interface = f"/v2.0/routers/{world['router']['id']}/add_router_interface"
    assert_error(client.put(interface, json={"subnet_id": world["subnet"]["id"]}, headers=READER), 403,
                 "PolicyNotAuthorized")  # fmt: skip
    for resource, body in (("network", {"name": "n"}), ("router", {"name": "r2"})):
        assert_error(
            client.post(f"/v2.0/{resource}s", json={resource: body}, headers=READER), 403, "PolicyNotAuthorized"
        )
    fip = {"floatingip": {"floating_network_id": world["public"]["id"]}}
    assert_error(client.post("/v2.0/floatingips", json=fip, headers=READER), 403, "PolicyNotAuthorized")
    quota = client.get("/v2.0/quotas/alpha", headers=READER)
    assert quota.status_code == 200 and quota.json()["quota"]["router"] == 10
    member = client.put(f"/v2.0/networks/{world['network']['id']}", json={"network": {"name": "b"}}, headers=MEMBER)
    assert member.status_code == 200


def test_operator_file_restricts_updates_to_admins(make_app_client: Callable[..., Any], tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text('"update_network": "rule:admin_only"\n"delete_router": "rule:admin_only"\n')
    client = make_app_client(f"{DEFAULT_INI}\n[oslo_policy]\npolicy_file = {policy}\n")
    world = _world(client)
    path = f"/v2.0/networks/{world['network']['id']}"
    assert_error(client.put(path, json={"network": {"name": "b"}}, headers=MEMBER), 403, "PolicyNotAuthorized")
    assert client.put(path, json={"network": {"name": "b"}}, headers=ADMIN).status_code == 200
    router = f"/v2.0/routers/{world['router']['id']}"
    assert_error(client.delete(router, headers=MEMBER), 403, "PolicyNotAuthorized")
    assert client.put(router, json={"router": {"name": "still-mine"}}, headers=MEMBER).status_code == 200


def test_unreadable_policy_file_stops_the_app(make_app_client: Callable[..., Any], tmp_path: Path) -> None:
    from floatnet.core.access.policy_engine import PolicyFileError

    missing = tmp_path / "absent.yaml"
    try:
        make_app_client(f"{DEFAULT_INI}\n[oslo_policy]\npolicy_file = {missing}\n")
    except PolicyFileError as error:
        assert "absent.yaml" in str(error)
    else:
        raise AssertionError("a missing policy file must stop the server")


def test_ports_owner_network_owner_and_reader(make_app_client: Callable[..., Any]) -> None:
    client = make_app_client()
    shared = network(client, ADMIN, name="s", shared=True)
    subnet(client, shared["id"], "10.5.0.0/24", ADMIN)
    bob = project("beta")
    own = create(client, "port", bob, network_id=shared["id"], name="bob-port")
    path = f"/v2.0/ports/{own['id']}"
    reader = {"X-Project-Id": "beta", "X-Roles": "reader"}
    assert client.get(path, headers=reader).status_code == 200
    assert_error(client.put(path, json={"port": {"name": "x"}}, headers=reader), 403, "PolicyNotAuthorized")
    assert_error(client.delete(path, headers=reader), 403, "PolicyNotAuthorized")
    assert client.put(path, json={"port": {"name": "mine"}}, headers=bob).status_code == 200
    network_owner = project("admin")
    assert_error(client.put(path, json={"port": {"name": "x"}}, headers=network_owner), 403, "PolicyNotAuthorized")
    assert client.delete(path, headers=network_owner).status_code == 204
