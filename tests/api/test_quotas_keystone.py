"""Quotas behind the real Keystone: admins set them with the ``openstack`` CLI, members hit 409 OverQuota."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.keystone_cloud import Cloud, start_cloud
from tests.keystone_fixture import KeystoneServer

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def cloud(keystone: KeystoneServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    yield from start_cloud(keystone, tmp_path_factory.mktemp("fn-ks-quota"))


def test_router_quota_set_by_admin_cli_and_enforced(cloud: Cloud) -> None:
    alpha = cloud.keystone.ids["project:alpha"]
    assert cloud.cli("admin", "quota", "set", "--routers", "1", alpha).returncode == 0
    shown = cloud.ok("alice", "quota", "show", "--network", alpha)
    limits = {row["Resource"]: row["Limit"] for row in shown} if isinstance(shown, list) else shown
    assert limits["routers"] == 1, shown
    cloud.ok("alice", "router", "create", "r1")
    over = cloud.cli("alice", "router", "create", "r2")
    assert over.returncode != 0
    assert "Quota exceeded for resources: ['router']" in over.stderr, over.stderr
    status, body = cloud.api("alice", "POST", "/routers", {"router": {"name": "r2"}})
    assert status == 409 and body["NeutronError"]["type"] == "OverQuota"
    assert cloud.cli("admin", "quota", "delete", "--network", alpha).returncode == 0
    cloud.ok("alice", "router", "create", "r2")


def test_members_cannot_change_or_read_others_quotas(cloud: Cloud) -> None:
    alpha, beta = cloud.keystone.ids["project:alpha"], cloud.keystone.ids["project:beta"]
    refused = cloud.cli("alice", "quota", "set", "--routers", "50", alpha)
    assert refused.returncode != 0
    assert cloud.api("alice", "PUT", f"/quotas/{alpha}", {"quota": {"router": 50}})[0] == 403
    assert cloud.api("alice", "DELETE", f"/quotas/{alpha}")[0] == 403
    assert cloud.api("alice", "GET", f"/quotas/{beta}")[0] == 403
    assert cloud.api("alice", "GET", "/quotas")[0] == 403
    assert cloud.api("alice", "GET", f"/quotas/{alpha}")[1]["quota"]["router"] == 10


@pytest.mark.parametrize(
    ("resource", "collection", "body"),
    [
        ("network", "networks", {"name": "q"}),
        ("router", "routers", {"name": "q"}),
    ],
)
def test_zero_quota_refuses_creation(cloud: Cloud, resource: str, collection: str, body: dict[str, object]) -> None:
    beta = cloud.keystone.ids["project:beta"]
    assert cloud.api("admin", "PUT", f"/quotas/{beta}", {"quota": {resource: 0}})[0] == 200
    try:
        status, answer = cloud.api("bob", "POST", f"/{collection}", {resource: body})
        assert status == 409, answer
        assert answer["NeutronError"]["message"] == f"Quota exceeded for resources: ['{resource}']."
    finally:
        cloud.api("admin", "DELETE", f"/quotas/{beta}")


def test_subnet_port_and_floatingip_quotas(cloud: Cloud) -> None:
    beta = cloud.keystone.ids["project:beta"]
    public = cloud.public_network()
    status, net = cloud.api("bob", "POST", "/networks", {"network": {"name": "qb"}})
    assert status == 201
    network_id = net["network"]["id"]
    quota = {"subnet": 0, "port": 0, "floatingip": 0}
    assert cloud.api("admin", "PUT", f"/quotas/{beta}", {"quota": quota})[0] == 200
    try:
        subnet = {"subnet": {"network_id": network_id, "cidr": "10.7.0.0/24", "ip_version": 4}}
        assert cloud.api("bob", "POST", "/subnets", subnet)[0] == 409
        assert cloud.api("bob", "POST", "/ports", {"port": {"network_id": network_id}})[0] == 409
        fip = {"floatingip": {"floating_network_id": public["id"]}}
        status, answer = cloud.api("bob", "POST", "/floatingips", fip)
        assert status == 409 and answer["NeutronError"]["type"] == "OverQuota"
        assert cloud.api("bob", "GET", "/floatingips")[1]["floatingips"] == []
    finally:
        cloud.api("admin", "DELETE", f"/quotas/{beta}")
    assert cloud.api("bob", "POST", "/floatingips", {"floatingip": {"floating_network_id": public["id"]}})[0] == 201


def test_admin_lists_overrides_and_details_show_usage(cloud: Cloud) -> None:
    gamma = "0123456789abcdef0123456789abcdef"
    assert cloud.api("admin", "PUT", f"/quotas/{gamma}", {"quota": {"port": 7}})[1]["quota"]["port"] == 7
    listed = cloud.api("admin", "GET", "/quotas")[1]["quotas"]
    assert any(item["project_id"] == gamma and item["port"] == 7 for item in listed)
    assert cloud.api("admin", "GET", f"/quotas/{gamma}/default")[1]["quota"]["port"] == 500
    alpha = cloud.keystone.ids["project:alpha"]
    assert cloud.api("alice", "POST", "/routers", {"router": {"name": "counted"}})[0] == 201
    details = cloud.api("alice", "GET", f"/quotas/{alpha}/details")[1]["quota"]
    assert details["router"]["used"] >= 1 and details["router"]["limit"] == 10
    bad = cloud.api("admin", "PUT", f"/quotas/{gamma}", {"quota": {"port": "many"}})
    assert bad[0] == 400
    extensions = {ext["alias"] for ext in cloud.api("alice", "GET", "/extensions")[1]["extensions"]}
    assert {"quotas", "quota_details"} <= extensions
