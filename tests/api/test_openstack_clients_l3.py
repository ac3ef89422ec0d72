"""Routers, floating IPs and agents through unchanged OpenStack clients (openstacksdk, ``openstack`` CLI)
against a real listening floatnet server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from openstack import exceptions

from tests.api.openstack_clients import noauth_sdk
from tests.api.openstack_clients import openstack_cli as cli


@pytest.fixture
def sdk(live_server: str) -> Iterator[Any]:
    with noauth_sdk(live_server) as conn:
        yield conn


def external_network(sdk: Any, name: str, vlan: int, third_octet: int) -> tuple[Any, Any]:
    net = sdk.network.create_network(
        name=name,
        is_router_external=True,
        provider_network_type="vlan",
        provider_physical_network="public_eth2",
        provider_segmentation_id=vlan,
    )
    subnet = sdk.network.create_subnet(
        network_id=net.id, cidr=f"198.51.{third_octet}.0/24", ip_version=4, is_dhcp_enabled=False
    )
    return net, subnet


def test_openstacksdk_router_and_floating_ip(sdk: Any) -> None:
    ext, _ = external_network(sdk, "sdk-ext", 300, 100)
    net = sdk.network.create_network(name="sdk-l3-net")
    subnet = sdk.network.create_subnet(network_id=net.id, cidr="10.20.0.0/24", ip_version=4)
    router = sdk.network.create_router(name="sdk-router", external_gateway_info={"network_id": ext.id})
    assert router.external_gateway_info["network_id"] == ext.id
    info = sdk.network.add_interface_to_router(router, subnet=subnet.id)
    assert info["subnet_id"] == subnet.id
    port = sdk.network.create_port(network_id=net.id, name="sdk-vm")
    fip = sdk.network.create_ip(floating_network_id=ext.id)
    assert fip.status == "DOWN" and fip.port_id is None
    fip = sdk.network.update_ip(fip, port_id=port.id)
    assert fip.router_id == router.id and fip.fixed_ip_address == port.fixed_ips[0]["ip_address"]
    assert fip.port_details["mac_address"] == port.mac_address
    assert sdk.network.find_ip(fip.floating_ip_address).id == fip.id
    assert [f.id for f in sdk.network.ips(port_id=port.id)] == [fip.id]
    with pytest.raises(exceptions.ConflictException):
        sdk.network.remove_interface_from_router(router, subnet=subnet.id)
    with pytest.raises(exceptions.ConflictException):
        sdk.network.delete_router(router)
    fip = sdk.network.update_ip(fip, port_id=None)
    assert fip.port_id is None
    sdk.network.delete_ip(fip)
    sdk.network.remove_interface_from_router(router, subnet=subnet.id)
    sdk.network.delete_router(router)
    assert sdk.network.find_router("sdk-router") is None
    aliases = {ext.alias for ext in sdk.network.extensions()}
    assert {"router", "ext-gw-mode", "extraroute", "fip-port-details", "agent"} <= aliases


def test_openstack_cli_seed_steps(live_server: str) -> None:
    def run(*args: str) -> Any:
        return cli(live_server, *args)

    run("network", "create", "--external", "--provider-network-type", "vlan",
        "--provider-physical-network", "public_eth2", "--provider-segment", "301", "cli-ext")  # fmt: skip
    run(
        "subnet",
        "create",
        "--network",
        "cli-ext",
        "--subnet-range",
        "198.51.101.0/24",
        "--no-dhcp",
        "cli-ext-sub",
    )
    run("network", "create", "cli-net")
    run("subnet", "create", "--network", "cli-net", "--subnet-range", "10.21.0.0/24", "cli-sub")
    router = run("router", "create", "cli-router", "-f", "json")
    assert router["name"] == "cli-router"
    run("router", "add", "subnet", "cli-router", "cli-sub")
    run("router", "set", "--external-gateway", "cli-ext", "cli-router")
    shown = run("router", "show", "cli-router", "-f", "json")
    assert shown["external_gateway_info"]["network_id"] == run("network", "show", "cli-ext", "-f", "json")["id"]
    port = run("port", "create", "--network", "cli-net", "cli-vm", "-f", "json")
    fip = run("floating", "ip", "create", "cli-ext", "-f", "json")
    assert fip["status"] == "DOWN"
    run("floating", "ip", "set", "--port", "cli-vm", fip["floating_ip_address"])
    listed = run("floating", "ip", "list", "-f", "json")
    row = next(r for r in listed if r["ID"] == fip["id"])
    assert row["Port"] == port["id"] and row["Fixed IP Address"] == port["fixed_ips"][0]["ip_address"]
    run("floating", "ip", "unset", "--port", fip["id"])
    assert run("floating", "ip", "show", fip["id"], "-f", "json")["port_id"] is None
    run("floating", "ip", "delete", fip["id"])
    assert all(r["ID"] != fip["id"] for r in run("floating", "ip", "list", "-f", "json"))


def test_openstack_cli_network_agent_list(live_server: str) -> None:
    body = {"agent": {"host": "cli-node", "agent_type": "L3 agent", "binary": "floatnet-agent"}}
    assert httpx.post(f"{live_server}/v2.0/floatnet/agents", json=body).status_code == 200
    rows = cli(live_server, "network", "agent", "list", "-f", "json")
    row = next(r for r in rows if r["Host"] == "cli-node")
    assert row["Agent Type"] == "L3 agent" and row["Alive"] in (True, ":-)") and row["Binary"] == "floatnet-agent"
