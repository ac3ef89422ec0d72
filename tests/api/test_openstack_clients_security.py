"""Security groups with the unchanged OpenStack clients (openstacksdk and the ``openstack`` CLI) against a
real listening floatnet server (noauth): the calls Ansible and operators make first."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from openstack import exceptions

from tests.api.openstack_clients import noauth_sdk
from tests.api.openstack_clients import openstack_cli as cli


@pytest.fixture
def sdk(live_server: str) -> Iterator[Any]:
    with noauth_sdk(live_server) as conn:
        yield conn


def test_openstacksdk_security_groups(sdk: Any) -> None:
    group = sdk.network.create_security_group(name="sdk-web", description="web tier")
    assert group.stateful is True and len(group.security_group_rules) == 2
    rule = sdk.network.create_security_group_rule(
        security_group_id=group.id, direction="ingress", protocol="tcp", port_range_min=80, port_range_max=80,
        remote_ip_prefix="0.0.0.0/0",
    )  # fmt: skip
    assert rule.normalized_cidr == "0.0.0.0/0"
    with pytest.raises(exceptions.ConflictException):
        sdk.network.create_security_group_rule(
            security_group_id=group.id, direction="ingress", protocol="tcp", port_range_min=80, port_range_max=80
        )
    with pytest.raises(exceptions.BadRequestException):
        sdk.network.create_security_group_rule(security_group_id=group.id, direction="ingress", protocol="bogus")
    assert sdk.network.find_security_group("sdk-web").id == group.id
    assert {g.name for g in sdk.network.security_groups()} >= {"default", "sdk-web"}
    assert rule.id in {r.id for r in sdk.network.security_group_rules(security_group_id=group.id)}
    sdk.network.update_security_group(group, description="changed")
    assert sdk.network.get_security_group(group.id).description == "changed"
    net = sdk.network.create_network(name="sdk-sg-net")
    sdk.network.create_subnet(network_id=net.id, cidr="10.9.0.0/24", ip_version=4)
    port = sdk.network.create_port(network_id=net.id, security_group_ids=[group.id])
    assert port.security_group_ids == [group.id]
    with pytest.raises(exceptions.ConflictException):
        sdk.network.delete_security_group(group)
    sdk.network.delete_port(port)
    sdk.network.delete_security_group_rule(rule)
    sdk.network.delete_security_group(group)
    assert sdk.network.find_security_group("sdk-web") is None


def test_openstack_cli_security_groups(live_server: str) -> None:
    created = cli(live_server, "security", "group", "create", "cli-web", "-f", "json")
    assert created["name"] == "cli-web"
    rule = cli(
        live_server, "security", "group", "rule", "create", "--ingress", "--protocol", "tcp",
        "--dst-port", "22", "--remote-ip", "0.0.0.0/0", "cli-web", "-f", "json",
    )  # fmt: skip
    assert (rule["port_range_min"], rule["port_range_max"]) == (22, 22)
    icmp = cli(live_server, "security", "group", "rule", "create", "--protocol", "icmp", "cli-web", "-f", "json")
    assert icmp["protocol"] == "icmp"
    listed = cli(live_server, "security", "group", "rule", "list", "cli-web", "-f", "json")
    assert {r["ID"] for r in listed} >= {rule["id"], icmp["id"]}
    assert cli(live_server, "security", "group", "show", "cli-web", "-f", "json")["id"] == created["id"]
    cli(live_server, "security", "group", "set", "--name", "cli-www", "cli-web")
    names = {g["Name"] for g in cli(live_server, "security", "group", "list", "-f", "json")}
    assert {"default", "cli-www"} <= names
    cli(live_server, "network", "create", "cli-sg-net")
    cli(live_server, "subnet", "create", "--network", "cli-sg-net", "--subnet-range", "10.8.0.0/24", "cli-sg-sub")
    port = cli(
        live_server, "port", "create", "--network", "cli-sg-net", "--security-group", "cli-www", "cli-sg-port",
        "-f", "json",
    )  # fmt: skip
    assert port["security_group_ids"] == [created["id"]]
    cli(live_server, "port", "set", "--no-security-group", "cli-sg-port")
    assert cli(live_server, "port", "show", "cli-sg-port", "-f", "json")["security_group_ids"] == []
    cli(live_server, "security", "group", "rule", "delete", rule["id"])
    cli(live_server, "port", "delete", "cli-sg-port")
    cli(live_server, "security", "group", "delete", "cli-www")
