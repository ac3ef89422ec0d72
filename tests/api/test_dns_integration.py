"""dns-integration: a network's dns_domain stored, a port's dns_assignment (what the network's DHCP/DNS
server answers for it), a floating IP's dns_name and dns_domain — in process and through a live server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.helpers import assert_error, network, port, subnet
from tests.api.l3_world import build, ok


def test_network_dns_domain_is_stored(app_client: Any) -> None:
    net = network(app_client, name="dns", dns_domain="Example.ORG.")
    assert net["dns_domain"] == "example.org."
    assert app_client.get(f"/v2.0/networks/{net['id']}").json()["network"]["dns_domain"] == "example.org."
    changed = app_client.put(f"/v2.0/networks/{net['id']}", json={"network": {"dns_domain": "lab.test."}})
    assert changed.json()["network"]["dns_domain"] == "lab.test."
    assert network(app_client, name="plain")["dns_domain"] == ""


def test_port_dns_assignment(app_client: Any) -> None:
    net_id = network(app_client, name="n")["id"]
    subnet(app_client, net_id, "10.11.0.0/24")
    plain = port(app_client, net_id)
    address = plain["fixed_ips"][0]["ip_address"]
    host = "host-" + address.replace(".", "-")
    assert plain["dns_assignment"] == [{"ip_address": address, "hostname": host, "fqdn": f"{host}.openstacklocal."}]
    named = port(app_client, net_id, dns_name="Web1")
    [entry] = named["dns_assignment"]
    assert named["dns_name"] == "web1" and entry["hostname"] == "web1" and entry["fqdn"] == "web1.openstacklocal."
    renamed = app_client.put(f"/v2.0/ports/{named['id']}", json={"port": {"dns_name": "db"}}).json()["port"]
    assert renamed["dns_assignment"][0]["fqdn"] == "db.openstacklocal."
    listed = {p["id"]: p for p in app_client.get("/v2.0/ports").json()["ports"]}
    assert listed[named["id"]]["dns_assignment"] == renamed["dns_assignment"]
    unaddressed = port(app_client, net_id, fixed_ips=[])
    assert unaddressed["dns_assignment"] == []


def hostile(client: Any) -> None:
    """Malformed names and domains are 400s naming the attribute; a floating IP's names are read-only."""
    ext = build(client).ext_net
    fips = "/v2.0/floatingips"
    for attrs, name in (
        ({"dns_name": "web."}, "dns_name"),
        ({"dns_name": "-bad"}, "dns_name"),
        ({"dns_name": "x" * 253}, "dns_name"),
        ({"dns_name": 5}, "dns_name"),
        ({"dns_domain": "example.org"}, "dns_domain"),
        ({"dns_domain": "exa mple.org."}, "dns_domain"),
    ):
        body = {"floatingip": {"floating_network_id": ext, **attrs}}
        assert_error(client.post(fips, json=body), 400, "HTTPBadRequest", name)
    body = {"floatingip": {"floating_network_id": ext, "dns_name": "Web", "dns_domain": "Example.org."}}
    fip = ok(client.post(fips, json=body), 201)["floatingip"]
    assert (fip["dns_name"], fip["dns_domain"]) == ("web", "example.org.")
    shown = ok(client.get(f"{fips}/{fip['id']}"))["floatingip"]
    assert (shown["dns_name"], shown["dns_domain"]) == ("web", "example.org.")
    for attrs in ({"dns_name": "other"}, {"dns_domain": "other.org."}):
        assert_error(client.put(f"{fips}/{fip['id']}", json={"floatingip": attrs}), 400, "HTTPBadRequest", "read-only")
    bad_net = {"network": {"name": "bad", "dns_domain": "no-dot"}}
    assert_error(client.post("/v2.0/networks", json=bad_net), 400, "HTTPBadRequest", "dns_domain")
    bad_port = {"port": {"network_id": ext, "dns_name": "a..b"}}
    assert_error(client.post("/v2.0/ports", json=bad_port), 400, "HTTPBadRequest", "dns_name")


def test_hostile_dns_attributes(app_client: Any) -> None:
    hostile(app_client)


@pytest.fixture
def live(live_server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server, timeout=60) as client:
        yield client


def test_hostile_dns_attributes_live(live: httpx.Client) -> None:
    hostile(live)


def test_extension_listed(app_client: Any) -> None:
    aliases = {e["alias"] for e in app_client.get("/v2.0/extensions").json()["extensions"]}
    assert "dns-integration" in aliases
