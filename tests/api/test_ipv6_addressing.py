"""IPv6 addressing as Neutron does it: EUI-64 addresses on SLAAC / DHCPv6-stateless subnets (one per such
subnet, added to existing ports, removed with the subnet), one address per IP version otherwise, router
interfaces on the gateway, and the mode rules for new subnets (also through a real listening server)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from floatnet.core.ipam.ipv6 import eui64
from tests.api.helpers import assert_error, create, network, port

MAC = "fa:16:3e:11:22:33"


def v6(client: Any, net_id: str, cidr: str, mode: str | None, **extra: Any) -> dict[str, Any]:
    modes = {"ipv6_ra_mode": mode, "ipv6_address_mode": mode} if mode else {}
    return create(client, "subnet", network_id=net_id, cidr=cidr, ip_version=6, **modes, **extra)


def addresses(body: dict[str, Any]) -> dict[str, str]:
    return {ip["subnet_id"]: ip["ip_address"] for ip in body["fixed_ips"]}


def test_eui64_from_the_mac() -> None:
    assert eui64("2001:db8:1::/64", MAC) == "2001:db8:1:0:f816:3eff:fe11:2233"
    assert eui64("fd00::/64", "00:00:5e:00:53:01") == "fd00::200:5eff:fe00:5301"


def test_a_port_gets_an_eui64_address_on_each_auto_subnet(app_client: Any) -> None:
    net_id = network(app_client, name="dual")["id"]
    v4 = create(app_client, "subnet", network_id=net_id, cidr="10.6.0.0/24", ip_version=4)
    slaac = v6(app_client, net_id, "2001:db8:1::/64", "slaac")
    stateless = v6(app_client, net_id, "2001:db8:2::/64", "dhcpv6-stateless")
    stateful = v6(app_client, net_id, "2001:db8:3::/64", "dhcpv6-stateful")
    stateful2 = v6(app_client, net_id, "2001:db8:4::/64", None)
    vm = port(app_client, net_id, mac_address=MAC)
    got = addresses(vm)
    assert got[slaac["id"]] == "2001:db8:1:0:f816:3eff:fe11:2233"
    assert got[stateless["id"]] == "2001:db8:2:0:f816:3eff:fe11:2233"
    assert got[v4["id"]].startswith("10.6.0.") and got[stateful["id"]].startswith("2001:db8:3::")
    assert stateful2["id"] not in got and len(got) == 4, "one address per version group, as Neutron"
    only_v4 = port(app_client, net_id, fixed_ips=[{"subnet_id": v4["id"]}])
    assert set(addresses(only_v4)) == {v4["id"], slaac["id"], stateless["id"]}
    by_subnet = port(app_client, net_id, fixed_ips=[{"subnet_id": slaac["id"]}])
    assert set(addresses(by_subnet)) == {slaac["id"], stateless["id"]}


def test_update_keeps_automatic_addresses_and_refuses_others(app_client: Any) -> None:
    net_id = network(app_client, name="v6")["id"]
    v4 = create(app_client, "subnet", network_id=net_id, cidr="10.7.0.0/24", ip_version=4)
    slaac = v6(app_client, net_id, "2001:db8:7::/64", "slaac")
    vm = port(app_client, net_id, mac_address=MAC)
    body = {"port": {"fixed_ips": [{"subnet_id": v4["id"], "ip_address": "10.7.0.50"}]}}
    updated = app_client.put(f"/v2.0/ports/{vm['id']}", json=body).json()["port"]
    assert addresses(updated) == {v4["id"]: "10.7.0.50", slaac["id"]: "2001:db8:7:0:f816:3eff:fe11:2233"}
    other = {"port": {"fixed_ips": [{"subnet_id": slaac["id"], "ip_address": "2001:db8:7::99"}]}}
    assert_error(app_client.put(f"/v2.0/ports/{vm['id']}", json=other), 400, "AllocationOnAutoAddressSubnet")
    fresh = {"port": {"network_id": net_id, "fixed_ips": [{"ip_address": "2001:db8:7::99"}]}}
    assert_error(app_client.post("/v2.0/ports", json=fresh), 400, "AllocationOnAutoAddressSubnet")
    own = {"port": {"network_id": net_id, "mac_address": "fa:16:3e:00:00:09",
                    "fixed_ips": [{"ip_address": "2001:db8:7::f816:3eff:fe00:9"}]}}  # fmt: skip
    assert app_client.post("/v2.0/ports", json=own).status_code == 201


def test_new_auto_subnet_reaches_existing_ports_and_its_deletion_removes_them(app_client: Any) -> None:
    net_id = network(app_client, name="later")["id"]
    v4 = create(app_client, "subnet", network_id=net_id, cidr="10.8.0.0/24", ip_version=4)
    vm = port(app_client, net_id, mac_address=MAC)
    router = app_client.post("/v2.0/routers", json={"router": {"name": "r6"}}).json()["router"]
    app_client.put(f"/v2.0/routers/{router['id']}/add_router_interface", json={"subnet_id": v4["id"]})
    revision = app_client.get(f"/v2.0/ports/{vm['id']}").json()["port"]["revision_number"]
    slaac = v6(app_client, net_id, "2001:db8:8::/64", "slaac")
    shown = app_client.get(f"/v2.0/ports/{vm['id']}").json()["port"]
    assert addresses(shown)[slaac["id"]] == "2001:db8:8:0:f816:3eff:fe11:2233"
    assert shown["revision_number"] > revision
    interfaces = app_client.get("/v2.0/ports", params={"device_owner": "network:router_interface"}).json()["ports"]
    assert [set(addresses(p)) for p in interfaces] == [{v4["id"]}], "router interfaces get no automatic address"
    assert app_client.delete(f"/v2.0/subnets/{slaac['id']}").status_code == 204
    assert set(addresses(app_client.get(f"/v2.0/ports/{vm['id']}").json()["port"])) == {v4["id"]}
    assert_error(app_client.delete(f"/v2.0/subnets/{v4['id']}"), 409, "SubnetInUse")


def test_router_interface_on_an_auto_subnet_takes_the_gateway(app_client: Any) -> None:
    net_id = network(app_client, name="r-auto")["id"]
    slaac = v6(app_client, net_id, "2001:db8:9::/64", "slaac")
    router = app_client.post("/v2.0/routers", json={"router": {"name": "r"}}).json()["router"]
    info = app_client.put(f"/v2.0/routers/{router['id']}/add_router_interface", json={"subnet_id": slaac["id"]})
    assert info.status_code == 200, info.text
    interface = app_client.get(f"/v2.0/ports/{info.json()['port_id']}").json()["port"]
    assert addresses(interface) == {slaac["id"]: "2001:db8:9::1"}
    assert_error(app_client.delete(f"/v2.0/subnets/{slaac['id']}"), 409, "SubnetInUse")


def mode_refusals(client: Any) -> None:
    """Neutron's mode rules for a new subnet, and for turning DHCP off later."""
    net_id = network(client, name="modes")["id"]
    base = {"network_id": net_id, "ip_version": 6}
    for extra, contains in (
        ({"cidr": "2001:db8:a::/64", "ipv6_ra_mode": "slaac", "ipv6_address_mode": "dhcpv6-stateful"},
         "must be the same value"),
        ({"cidr": "2001:db8:a::/64", "ipv6_ra_mode": "dhcpv6-stateless", "ipv6_address_mode": "slaac"},
         "must be the same value"),
        ({"cidr": "2001:db8:a::/64", "ipv6_address_mode": "slaac", "enable_dhcp": False}, "enable_dhcp"),
        ({"cidr": "2001:db8:a::/80", "ipv6_address_mode": "slaac"}, "/64"),
        ({"cidr": "2001:db8:a::/80", "ipv6_ra_mode": "dhcpv6-stateless"}, "/64"),
        ({"cidr": "10.9.0.0/24", "ip_version": 4, "ipv6_ra_mode": "slaac"}, "ipv6_ra_mode is not valid"),
        ({"cidr": "10.9.0.0/24", "ip_version": 4, "ipv6_address_mode": "slaac"}, "ipv6_address_mode is not valid"),
    ):  # fmt: skip
        assert_error(client.post("/v2.0/subnets", json={"subnet": {**base, **extra}}), 400, "InvalidInput", contains)
    bad = {**base, "cidr": "2001:db8:a::/64", "ipv6_address_mode": "eui64"}
    assert_error(client.post("/v2.0/subnets", json={"subnet": bad}), 400, "HTTPBadRequest", "ipv6_address_mode")
    ok_stateful = {**base, "cidr": "2001:db8:b::/80", "ipv6_ra_mode": "dhcpv6-stateful"}
    subnet = client.post("/v2.0/subnets", json={"subnet": ok_stateful})
    assert subnet.status_code == 201, subnet.text
    off = {"subnet": {"enable_dhcp": False}}
    path = f"/v2.0/subnets/{subnet.json()['subnet']['id']}"
    assert_error(client.put(path, json=off), 400, "InvalidInput", "Cannot disable enable_dhcp")
    change = {"subnet": {"ipv6_address_mode": "slaac"}}
    assert_error(client.put(path, json=change), 400, "HTTPBadRequest", "ipv6_address_mode")


def test_mode_refusals(app_client: Any) -> None:
    mode_refusals(app_client)


@pytest.fixture
def live(live_server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server, timeout=60) as client:
        yield client


def test_mode_refusals_live(live: httpx.Client) -> None:
    mode_refusals(live)


def test_a_new_mac_moves_the_automatic_addresses(app_client: Any) -> None:
    net_id = network(app_client, name="mac")["id"]
    v4 = create(app_client, "subnet", network_id=net_id, cidr="10.12.0.0/24", ip_version=4)
    slaac = v6(app_client, net_id, "2001:db8:c::/64", "slaac")
    vm = port(app_client, net_id, mac_address=MAC)
    moved = app_client.put(f"/v2.0/ports/{vm['id']}", json={"port": {"mac_address": "fa:16:3e:00:00:42"}})
    got = addresses(moved.json()["port"])
    assert got == {v4["id"]: addresses(vm)[v4["id"]], slaac["id"]: "2001:db8:c:0:f816:3eff:fe00:42"}
    regenerated = app_client.put(f"/v2.0/ports/{vm['id']}", json={"port": {"mac_address": None}}).json()["port"]
    assert addresses(regenerated)[slaac["id"]] == eui64("2001:db8:c::/64", regenerated["mac_address"])
