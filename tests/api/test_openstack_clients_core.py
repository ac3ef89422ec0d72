"""Real OpenStack clients, unchanged, against a real listening floatnet server (noauth)."""

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


def test_openstacksdk_networks_subnets_ports(sdk: Any) -> None:
    net = sdk.network.create_network(
        name="sdk-net",
        provider_network_type="vlan",
        provider_physical_network="public_eth2",
        provider_segmentation_id=42,
    )
    assert net.provider_segmentation_id == 42 and net.mtu == 1500
    sub = sdk.network.create_subnet(network_id=net.id, cidr="10.3.0.0/24", ip_version=4, name="sdk-sub")
    assert sub.gateway_ip == "10.3.0.1"
    port = sdk.network.create_port(network_id=net.id, name="sdk-port", binding_host_id="node7")
    assert port.fixed_ips[0]["subnet_id"] == sub.id and port.binding_vif_type == "ovs"
    assert port.binding_vif_details["bridge_name"] == "br-eth2"
    assert sdk.network.find_network("sdk-net").id == net.id
    assert {p.name for p in sdk.network.ports(network_id=net.id)} == {"sdk-port", ""}
    assert len(list(sdk.network.ports(network_id=net.id, paginated=True, limit=1))) == 2
    sdk.network.set_tags(net, ["blue"])
    assert sdk.network.get_network(net.id).tags == ["blue"]
    with pytest.raises(exceptions.ConflictException):
        sdk.network.delete_network(net)
    sdk.network.delete_port(port)
    sdk.network.delete_network(net)
    assert sdk.network.find_network("sdk-net") is None
    with pytest.raises(exceptions.NotFoundException):
        sdk.network.get_network(net.id)
    assert "provider" in {ext.alias for ext in sdk.network.extensions()}


def test_openstack_cli(live_server: str) -> None:
    created = cli(
        live_server,
        "network",
        "create",
        "--provider-network-type",
        "flat",
        "--provider-physical-network",
        "public_eth0",
        "--external",
        "cli-ext",
        "-f",
        "json",
    )
    assert created["router:external"] is True and created["provider:network_type"] == "flat"
    assert any(n["Name"] == "cli-ext" for n in cli(live_server, "network", "list", "-f", "json"))
    shown = cli(live_server, "network", "show", "cli-ext", "-f", "json")
    assert shown["id"] == created["id"]
    sub = cli(
        live_server,
        "subnet",
        "create",
        "--network",
        "cli-ext",
        "--subnet-range",
        "203.0.113.0/24",
        "--allocation-pool",
        "start=203.0.113.100,end=203.0.113.200",
        "--no-dhcp",
        "cli-sub",
        "-f",
        "json",
    )
    assert sub["allocation_pools"] == [{"start": "203.0.113.100", "end": "203.0.113.200"}]
    port = cli(live_server, "port", "create", "--network", "cli-ext", "cli-port", "-f", "json")
    assert port["fixed_ips"][0]["ip_address"] == "203.0.113.100"
    ports = cli(live_server, "port", "list", "--network", "cli-ext", "-f", "json")
    assert [p["Name"] for p in ports] == ["cli-port"]
    cli(live_server, "port", "delete", "cli-port")
    cli(live_server, "network", "delete", "cli-ext")
    assert not any(n["Name"] == "cli-ext" for n in cli(live_server, "network", "list", "-f", "json"))
