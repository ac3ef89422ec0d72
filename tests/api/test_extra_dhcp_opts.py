"""extra_dhcp_opt: a port's DHCP options, validated and updated as Neutron does, handed to the DHCP agent
in the host state (the dataplane tests show dnsmasq serving them to a real client)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.helpers import assert_error, create, network, port, project, subnet

PXE = {"opt_name": "bootfile-name", "opt_value": "pxelinux.0", "ip_version": 4}
NTP = {"opt_name": "ntp-server", "opt_value": "192.0.2.123", "ip_version": 4}


def opts_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    return sorted(body["extra_dhcp_opts"], key=lambda o: (o["ip_version"], o["opt_name"]))


@pytest.fixture
def net(app_client: Any) -> str:
    net_id = network(app_client, name="n")["id"]
    subnet(app_client, net_id, "10.0.0.0/24")
    return str(net_id)


def update(client: Any, port_id: str, opts: Any, headers: dict[str, str] | None = None) -> Any:
    return client.put(f"/v2.0/ports/{port_id}", json={"port": {"extra_dhcp_opts": opts}}, headers=headers or {})


def test_create_show_list_defaults(app_client: Any, net: str) -> None:
    plain = port(app_client, net)
    assert plain["extra_dhcp_opts"] == []
    created = port(app_client, net, extra_dhcp_opts=[{"opt_name": "bootfile-name", "opt_value": "pxelinux.0"}, NTP])
    assert opts_of(created) == [PXE, NTP]
    shown = app_client.get(f"/v2.0/ports/{created['id']}").json()["port"]
    assert opts_of(shown) == [PXE, NTP]
    listed = {p["id"]: p for p in app_client.get("/v2.0/ports").json()["ports"]}
    assert opts_of(listed[created["id"]]) == [PXE, NTP] and listed[plain["id"]]["extra_dhcp_opts"] == []
    v6 = {"opt_name": "bootfile-name", "opt_value": "x", "ip_version": "6"}
    both = port(app_client, net, extra_dhcp_opts=[PXE, v6])
    assert opts_of(both) == [PXE, {**v6, "ip_version": 6}]


def test_update_semantics(app_client: Any, net: str) -> None:
    created = port(app_client, net, extra_dhcp_opts=[PXE, NTP])
    pid = created["id"]
    changed = {"opt_name": "bootfile-name", "opt_value": "grub.efi"}
    tftp = {"opt_name": "tftp-server", "opt_value": "192.0.2.69"}
    body = update(app_client, pid, [changed, tftp]).json()["port"]
    assert opts_of(body) == [{**changed, "ip_version": 4}, NTP, {**tftp, "ip_version": 4}]
    body = update(app_client, pid, [{"opt_name": "ntp-server", "opt_value": None}]).json()["port"]
    assert [o["opt_name"] for o in opts_of(body)] == ["bootfile-name", "tftp-server"]
    for nothing in ([], None):
        assert len(update(app_client, pid, nothing).json()["port"]["extra_dhcp_opts"]) == 2
    body = update(app_client, pid, [{"opt_name": "bootfile-name", "opt_value": None, "ip_version": 6}]).json()
    assert len(body["port"]["extra_dhcp_opts"]) == 2, "another IP version is another option"
    body = update(app_client, pid, [{"opt_name": "router", "opt_value": ""}]).json()["port"]
    assert {"opt_name": "router", "opt_value": "", "ip_version": 4} in body["extra_dhcp_opts"]
    missing = {"opt_name": "domain-search", "opt_value": None}
    assert len(update(app_client, pid, [missing]).json()["port"]["extra_dhcp_opts"]) == 3


def hostile(client: Any, net_id: str) -> None:
    """Every malformed option is a 400 naming extra_dhcp_opts; a stranger cannot touch the port."""
    pid = port(client, net_id)["id"]
    for bad in (
        "x",
        [1],
        [{"opt_name": "bootfile-name"}],
        [{"opt_value": "x"}],
        [{"opt_name": "", "opt_value": "x"}],
        [{"opt_name": "bootfile-name", "opt_value": ""}],
        [{"opt_name": "n" * 65, "opt_value": "x"}],
        [{"opt_name": "bootfile-name", "opt_value": "v" * 256}],
        [{"opt_name": "bootfile-name", "opt_value": "a\ndhcp-range=evil"}],
        [{"opt_name": "tftp\nserver", "opt_value": "x"}],
        [{"opt_name": "bootfile-name", "opt_value": "x", "ip_version": 5}],
        [{"opt_name": "bootfile-name", "opt_value": "x", "ip_version": "four"}],
        [{"opt_name": "bootfile-name", "opt_value": "x", "extra": 1}],
        [{"opt_name": "router", "opt_value": "v" * 256}],
        [{"opt_name": 7, "opt_value": "x"}],
    ):
        assert_error(update(client, pid, bad), 400, "HTTPBadRequest", "extra_dhcp_opts")
        body = {"port": {"network_id": net_id, "extra_dhcp_opts": bad}}
        assert_error(client.post("/v2.0/ports", json=body), 400, "HTTPBadRequest", "extra_dhcp_opts")
    assert client.get(f"/v2.0/ports/{pid}").json()["port"]["extra_dhcp_opts"] == []
    assert_error(update(client, pid, [PXE], project("stranger")), 404, "PortNotFound")


def test_hostile_options(app_client: Any, net: str) -> None:
    hostile(app_client, net)


@pytest.fixture
def live_net(live_server: str) -> Iterator[tuple[httpx.Client, str]]:
    with httpx.Client(base_url=live_server, timeout=60) as client:
        net_id = network(client, name="live-opts")["id"]
        subnet(client, net_id, "10.77.0.0/24")
        yield client, net_id


def test_hostile_options_live(live_net: tuple[httpx.Client, str]) -> None:
    hostile(*live_net)


def test_options_reach_the_dhcp_hosts_of_the_host_state(app_client: Any) -> None:
    """The DHCP agent's view: each host entry of the port carries the port's options (gone with the port)."""
    agent = {"agent": {"host": "node1", "agent_type": "DHCP agent"}}
    assert app_client.post("/v2.0/floatnet/agents", json=agent).status_code == 200
    net_id = network(app_client, name="dhcp-net")["id"]
    v4 = subnet(app_client, net_id, "10.5.0.0/24")
    v6 = create(app_client, "subnet", network_id=net_id, cidr="2001:db8:5::/64", ip_version=6,
                ipv6_address_mode="dhcpv6-stateful", ipv6_ra_mode="dhcpv6-stateful")  # fmt: skip
    fixed = [{"subnet_id": v4["id"]}, {"subnet_id": v6["id"]}]
    vm = port(app_client, net_id, extra_dhcp_opts=[NTP], fixed_ips=fixed)

    def hosts() -> list[dict[str, Any]]:
        doc = app_client.get("/v2.0/floatnet/hosts/node1/state").json()
        [net] = [n for n in doc["networks"] if n["id"] == net_id]
        return [h for h in net["dhcp"]["hosts"] if h["port_id"] == vm["id"]]

    assert len(hosts()) == 2 and all(h["extra_dhcp_opts"] == [NTP] for h in hosts())
    update(app_client, vm["id"], [{"opt_name": "ntp-server", "opt_value": None}])
    assert all(h["extra_dhcp_opts"] == [] for h in hosts())


def test_extension_listed(app_client: Any) -> None:
    aliases = {e["alias"] for e in app_client.get("/v2.0/extensions").json()["extensions"]}
    assert "extra_dhcp_opt" in aliases


def duplicates(client: Any, net_id: str) -> None:
    """One request naming an option twice, as Neutron answers it (see the module docstring of
    floatnet.core.resources.extra_dhcp_opts)."""
    twice = [PXE, {"opt_value": "pxelinux.0", "ip_version": 4, "opt_name": "bootfile-name"}]
    body = {"port": {"network_id": net_id, "extra_dhcp_opts": twice}}
    assert_error(client.post("/v2.0/ports", json=body), 400, "HTTPBadRequest", "Duplicate items in the list")
    other = {**PXE, "opt_value": "grub.efi"}
    body = {"port": {"network_id": net_id, "name": "dup", "extra_dhcp_opts": [PXE, other]}}
    error = assert_error(client.post("/v2.0/ports", json=body), 409, "NeutronDbObjectDuplicateEntry")
    assert "ExtraDhcpOpt" in error["message"] and "opt_name" in error["message"], error
    assert client.get("/v2.0/ports?name=dup").json()["ports"] == [], "the port create was undone"
    v6 = {**other, "ip_version": 6}
    assert opts_of(port(client, net_id, extra_dhcp_opts=[PXE, v6])) == [PXE, v6], "another version, another key"
    router = {"opt_name": "router", "opt_value": "10.0.0.1", "ip_version": 4}
    ignored = {**router, "opt_value": None}  # nothing to store, so never inserted: the later value is the option
    assert opts_of(port(client, net_id, extra_dhcp_opts=[ignored, router])) == [router]
    pid = port(client, net_id, extra_dhcp_opts=[NTP])["id"]
    assert_error(update(client, pid, [PXE, other]), 409, "NeutronDbObjectDuplicateEntry")
    assert opts_of(client.get(f"/v2.0/ports/{pid}").json()["port"]) == [NTP], "the update was undone"
    later = {**NTP, "opt_value": "192.0.2.124"}
    assert opts_of(update(client, pid, [{**NTP, "opt_value": "192.0.2.1"}, later]).json()["port"]) == [later]


def test_duplicate_options(app_client: Any, net: str) -> None:
    duplicates(app_client, net)


def test_duplicate_options_live(live_net: tuple[httpx.Client, str]) -> None:
    duplicates(*live_net)
