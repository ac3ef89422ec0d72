"""Extra routes edited atomically, the router extension attributes and a gateway without addresses, through
unchanged OpenStack clients (openstacksdk, ``openstack`` CLI) against a real listening floatnet server."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from openstack import exceptions

from tests.api.openstack_clients import OPENSTACK, noauth_sdk
from tests.api.openstack_clients import openstack_cli as cli


@pytest.fixture
def sdk(live_server: str) -> Iterator[Any]:
    """openstacksdk on a server where an L3 agent in zone ``nova`` reported (a router's zones are its agent's)."""
    agent = {"host": "node-az", "agent_type": "L3 agent", "availability_zone": "nova"}
    assert httpx.post(f"{live_server}/v2.0/floatnet/agents", json={"agent": agent}).status_code in (200, 201)
    with noauth_sdk(live_server) as conn:
        yield conn


def routed(sdk: Any, name: str, cidr: str) -> Any:
    """A router with an interface on a new network ``name`` with subnet ``cidr``."""
    net = sdk.network.create_network(name=name)
    subnet = sdk.network.create_subnet(network_id=net.id, cidr=cidr, ip_version=4)
    router = sdk.network.create_router(name=name)
    sdk.network.add_interface_to_router(router, subnet=subnet.id)
    return router


def test_openstacksdk_extra_routes_and_attributes(sdk: Any) -> None:
    router = routed(sdk, "sdk-routes", "10.31.0.0/24")
    assert router.is_ha is False and router.is_distributed is False and router.flavor_id is None
    assert router.availability_zones == ["nova"] and router.availability_zone_hints == []
    first = {"destination": "192.0.2.0/24", "nexthop": "10.31.0.7"}
    second = {"destination": "198.51.100.0/24", "nexthop": "10.31.0.8"}
    router = sdk.network.add_extra_routes_to_router(router, body={"router": {"routes": [first]}})
    router = sdk.network.add_extra_routes_to_router(router, body={"router": {"routes": [first, second]}})
    assert sorted(r["nexthop"] for r in router.routes) == ["10.31.0.7", "10.31.0.8"]
    router = sdk.network.remove_extra_routes_from_router(router, body={"router": {"routes": [first]}})
    assert router.routes == [second]
    bad = {"router": {"routes": [{"destination": "192.0.2.0/24", "nexthop": "172.16.9.9"}]}}
    with pytest.raises(exceptions.BadRequestException, match="not connected"):
        sdk.network.add_extra_routes_to_router(router, body=bad)
    assert sdk.network.create_router(name="sdk-ha", is_ha=True).is_ha is True  # l3-ha (issue 15)
    with pytest.raises(exceptions.NotFoundException, match="AvailabilityZone"):
        sdk.network.create_router(name="sdk-az", availability_zone_hints=["elsewhere"])
    hinted = sdk.network.create_router(name="sdk-az", availability_zone_hints=["nova"])
    assert hinted.availability_zone_hints == ["nova"]


def test_openstack_cli_router_add_and_remove_route(live_server: str, sdk: Any) -> None:
    router = routed(sdk, "cli-routes", "10.32.0.0/24")

    def run(*args: str) -> Any:
        return cli(live_server, *args)

    route = "destination=192.0.2.0/24,gateway=10.32.0.7"
    run("router", "add", "route", "--route", route, "--route", "destination=0.0.0.0/0,gateway=10.32.0.9",
        "cli-routes")  # fmt: skip
    run("router", "add", "route", "--route", route, "cli-routes")
    shown = run("router", "show", "cli-routes", "-f", "json")
    assert sorted((r["destination"], r["nexthop"]) for r in shown["routes"]) == [
        ("0.0.0.0/0", "10.32.0.9"),
        ("192.0.2.0/24", "10.32.0.7"),
    ]
    assert shown["availability_zones"] == ["nova"] and shown["ha"] is False and shown["distributed"] is False
    run("router", "remove", "route", "--route", route, "cli-routes")
    assert [r["nexthop"] for r in run("router", "show", router.id, "-f", "json")["routes"]] == ["10.32.0.9"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    refused = subprocess.run(
        [str(OPENSTACK), "--os-auth-type", "none", "--os-endpoint", live_server, "router", "add", "route",
         "--route", "destination=192.0.2.0/24,gateway=10.99.0.1", "cli-routes"],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert refused.returncode != 0 and "not connected" in refused.stderr


def test_openstack_cli_gateway_on_external_network_without_subnet(live_server: str) -> None:
    def run(*args: str) -> Any:
        return cli(live_server, *args)

    run("network", "create", "--external", "--provider-network-type", "vlan", "--provider-physical-network",
        "public_eth2", "--provider-segment", "321", "cli-bare-ext")  # fmt: skip
    router = run("router", "create", "--external-gateway", "cli-bare-ext", "cli-bare-gw", "-f", "json")
    info = router["external_gateway_info"]
    assert info["external_fixed_ips"] == [] and info["network_id"]
    run("router", "unset", "--external-gateway", "cli-bare-gw")
    run("router", "delete", "cli-bare-gw")


def test_openstack_cli_port_extra_dhcp_options(live_server: str, sdk: Any) -> None:
    def run(*args: str) -> Any:
        return cli(live_server, *args)

    net = sdk.network.create_network(name="cli-dhcp-opts")
    sdk.network.create_subnet(network_id=net.id, cidr="10.33.0.0/24", ip_version=4)
    created = run(
        "port",
        "create",
        "--network",
        net.id,
        "--extra-dhcp-option",
        "name=ntp-server,value=192.0.2.123",
        "--extra-dhcp-option",
        "name=bootfile-name,value=pxelinux.0,ip-version=4",
        "cli-opts",
        "-f",
        "json",
    )
    opts = {(o["opt_name"], o["opt_value"], o["ip_version"]) for o in created["extra_dhcp_opts"]}
    assert opts == {("ntp-server", "192.0.2.123", 4), ("bootfile-name", "pxelinux.0", 4)}
    run("port", "set", "--extra-dhcp-option", "name=bootfile-name,value=grub.efi", "cli-opts")
    port = sdk.network.get_port(created["id"])
    assert {o["opt_name"]: o["opt_value"] for o in port.extra_dhcp_opts} == {
        "ntp-server": "192.0.2.123",
        "bootfile-name": "grub.efi",
    }
    port = sdk.network.update_port(port, extra_dhcp_opts=[{"opt_name": "ntp-server", "opt_value": None}])
    assert [o["opt_name"] for o in port.extra_dhcp_opts] == ["bootfile-name"]
    with pytest.raises(exceptions.BadRequestException, match="extra_dhcp_opts"):
        sdk.network.update_port(port, extra_dhcp_opts=[{"opt_name": "bootfile-name", "opt_value": "a\nb"}])
    aliases = {ext.alias for ext in sdk.network.extensions()}
    assert {"extra_dhcp_opt", "extraroute-atomic", "router_availability_zone"} <= aliases


def test_openstack_cli_dns_integration(live_server: str, sdk: Any) -> None:
    def run(*args: str) -> Any:
        return cli(live_server, *args)

    net = run("network", "create", "--dns-domain", "lab.example.", "cli-dns", "-f", "json")
    assert net["dns_domain"] == "lab.example."
    run("subnet", "create", "--network", "cli-dns", "--subnet-range", "10.34.0.0/24", "cli-dns-v4")
    created = run("port", "create", "--network", "cli-dns", "--dns-name", "web1", "cli-dns-port", "-f", "json")
    [assignment] = created["dns_assignment"]
    assert assignment["hostname"] == "web1" and assignment["fqdn"] == "web1.openstacklocal."
    run("port", "set", "--dns-name", "web2", "cli-dns-port")
    assert sdk.network.get_port(created["id"]).dns_assignment[0]["hostname"] == "web2"
    ext = sdk.network.create_network(
        name="cli-dns-ext", is_router_external=True, provider_network_type="vlan",
        provider_physical_network="public_eth2", provider_segmentation_id=345,
    )  # fmt: skip
    sdk.network.create_subnet(network_id=ext.id, cidr="198.51.34.0/24", ip_version=4, is_dhcp_enabled=False)
    fip = run("floating", "ip", "create", "--dns-name", "www", "--dns-domain", "example.org.", ext.id, "-f", "json")
    assert fip["dns_name"] == "www" and fip["dns_domain"] == "example.org."
    assert sdk.network.get_ip(fip["id"]).dns_domain == "example.org."


def test_openstack_cli_ha_router_interfaces(live_server: str, sdk: Any) -> None:
    """An HA router's interface as ``openstack`` shows it: a ``network:ha_router_replicated_interface`` port in
    ``port list --router`` (filterable by that owner), in ``router show``'s interfaces_info, usable for a route's
    nexthop, and removed with ``router remove subnet`` (l3-ha, issue 15)."""

    def run(*args: str) -> Any:
        return cli(live_server, *args)

    net = sdk.network.create_network(name="cli-ha")
    subnet = sdk.network.create_subnet(network_id=net.id, cidr="10.33.0.0/24", ip_version=4)
    assert run("router", "create", "--ha", "cli-ha", "-f", "json")["ha"] is True
    run("router", "add", "subnet", "cli-ha", subnet.id)
    owner = "network:ha_router_replicated_interface"
    ports = run("port", "list", "--router", "cli-ha", "--device-owner", owner, "-f", "json")
    assert len(ports) == 1 and ports[0]["Fixed IP Addresses"][0]["ip_address"] == "10.33.0.1"
    shown = run("router", "show", "cli-ha", "-f", "json")
    assert shown["ha"] is True and {"port_id": ports[0]["ID"], "ip_address": "10.33.0.1",
                                     "subnet_id": subnet.id} in shown["interfaces_info"]  # fmt: skip
    route = "destination=192.0.2.0/24,gateway=10.33.0.7"
    assert run("router", "add", "route", "--route", route, "cli-ha", "-f", "json")["routes"]
    run("router", "remove", "route", "--route", route, "cli-ha")
    run("router", "remove", "subnet", "cli-ha", subnet.id)
    assert run("port", "list", "--router", "cli-ha", "--device-owner", owner, "-f", "json") == []
