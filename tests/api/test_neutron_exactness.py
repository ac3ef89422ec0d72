"""Issue 21, "answers that differ from Neutron": each answer checked in-process and on a real listening server.

Every test runs twice through the ``client`` fixture: against the in-process app and against a fresh
``floatnet server`` subprocess (its own state), so each request also crosses a real socket.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.api.helpers import assert_error, project
from tests.api.l3_world import build, error, ok
from tests.conftest import DEFAULT_INI

MEMBER = project("p-member")


@pytest.fixture(params=["app", "live"])
def client(request: pytest.FixtureRequest, make_app_client: Callable[..., Any]) -> Iterator[Any]:
    if request.param == "app":
        yield make_app_client()
        return
    url = request.getfixturevalue("live_server_factory")()
    with httpx.Client(base_url=url, timeout=30) as live:
        yield live


def _network(client: Any, headers: dict[str, str] | None = None, **attrs: Any) -> dict[str, Any]:
    return dict(ok(client.post("/v2.0/networks", json={"network": attrs}, headers=headers or {}), 201)["network"])


def _subnet_post(client: Any, network_id: str, cidr: str, **attrs: Any) -> Any:
    version = 6 if ":" in cidr else 4
    body = {"network_id": network_id, "cidr": cidr, "ip_version": version, **attrs}
    return client.post("/v2.0/subnets", json={"subnet": body})


def _subnet(client: Any, network_id: str, cidr: str, **attrs: Any) -> dict[str, Any]:
    return dict(ok(_subnet_post(client, network_id, cidr, **attrs), 201)["subnet"])


def _links(body: dict[str, Any]) -> dict[str, dict[str, list[str]]]:
    """rel -> the link's query parameters."""
    return {link["rel"]: parse_qs(urlsplit(link["href"]).query) for link in body.get("networks_links", [])}


def test_pagination_links_follow_neutrons_rules(client: Any) -> None:
    ids = sorted(_network(client, name="pg")["id"] for _ in range(3))
    full = ok(client.get("/v2.0/networks", params={"name": "pg", "limit": 3}))
    links = _links(full)
    assert set(links) == {"next", "previous"}  # a full page has both, even the first and the last
    assert links["next"]["marker"] == [ids[2]] and "page_reverse" not in links["next"]
    assert links["previous"]["marker"] == [ids[0]] and links["previous"]["page_reverse"] == ["True"]
    first = _links(ok(client.get("/v2.0/networks", params={"name": "pg", "limit": 1})))
    assert set(first) == {"next", "previous"}
    empty = ok(client.get("/v2.0/networks", params={"name": "pg", "limit": 3, "marker": ids[2]}))
    assert empty["networks"] == []
    assert _links(empty) == {"previous": {"name": ["pg"], "limit": ["3"], "page_reverse": ["True"]}}
    short = ok(client.get("/v2.0/networks", params={"name": "pg", "limit": 2, "marker": ids[0]}))
    assert [n["id"] for n in short["networks"]] == ids[1:] and set(_links(short)) == {"next", "previous"}
    last = ok(client.get("/v2.0/networks", params={"name": "pg", "limit": 5, "marker": ids[0]}))
    assert set(_links(last)) == {"previous"}  # short going forward: no next
    reverse = ok(client.get("/v2.0/networks", params={"name": "pg", "limit": 5, "page_reverse": "True"}))
    assert set(_links(reverse)) == {"next"}  # short going backward: no previous
    assert "networks_links" not in ok(client.get("/v2.0/networks", params={"name": "pg"}))


def test_subnets_filter_by_their_networks_shared_and_external_flags(client: Any) -> None:
    shared = _network(client, name="f-shared", shared=True)
    external = _network(client, name="f-ext", **{"router:external": True})
    plain = _network(client, name="f-plain")
    by_net = {
        net["id"]: _subnet(client, net["id"], cidr)["id"]
        for net, cidr in ((shared, "10.1.0.0/24"), (external, "10.2.0.0/24"), (plain, "10.3.0.0/24"))
    }

    def found(**params: str) -> set[str]:
        return {s["id"] for s in ok(client.get("/v2.0/subnets", params=params))["subnets"]}

    assert found(shared="False") == {by_net[external["id"]], by_net[plain["id"]]}
    assert found(shared="1") == {by_net[shared["id"]]}
    assert found(**{"router:external": "False"}) == {by_net[shared["id"]], by_net[plain["id"]]}
    assert found(**{"router:external": "true"}) == {by_net[external["id"]]}
    assert found(**{"router:external": "0", "shared": "0"}) == {by_net[plain["id"]]}
    error(client.get("/v2.0/subnets", params={"shared": "maybe"}), 400, "HTTPBadRequest")
    shown = ok(client.get(f"/v2.0/subnets/{by_net[external['id']]}"))["subnet"]
    assert shown["router:external"] is True and "shared" not in shown


def test_members_do_not_see_subnets_of_external_networks_they_do_not_own(client: Any) -> None:
    external = _network(client, name="ext", **{"router:external": True})
    ext_subnet = _subnet(client, external["id"], "198.51.100.0/24")
    shared = _network(client, name="sh", shared=True)
    shared_subnet = _subnet(client, shared["id"], "10.9.0.0/24")
    ok(client.get(f"/v2.0/networks/{external['id']}", headers=MEMBER))  # the network itself stays visible
    listed = {s["id"] for s in ok(client.get("/v2.0/subnets", headers=MEMBER))["subnets"]}
    assert listed == {shared_subnet["id"]}
    error(client.get(f"/v2.0/subnets/{ext_subnet['id']}", headers=MEMBER), 404, "SubnetNotFound")
    ok(client.get(f"/v2.0/subnets/{shared_subnet['id']}", headers=MEMBER))


def test_subnet_update_bumps_its_networks_revision(client: Any) -> None:
    net = _network(client, name="rev")
    sub = _subnet(client, net["id"], "10.4.0.0/24")
    before = ok(client.get(f"/v2.0/networks/{net['id']}"))["network"]["revision_number"]
    ok(client.put(f"/v2.0/subnets/{sub['id']}", json={"subnet": {"name": "renamed"}}))
    assert ok(client.get(f"/v2.0/networks/{net['id']}"))["network"]["revision_number"] == before + 1


def test_floatingip_update_without_port_id_disassociates(client: Any) -> None:
    world = build(client)
    world.router()
    port = world.port()
    fip = world.fip(port_id=port["id"])
    assert fip["port_id"] == port["id"]
    updated = ok(client.put(f"/v2.0/floatingips/{fip['id']}", json={"floatingip": {}}))["floatingip"]
    assert updated["port_id"] is None and updated["fixed_ip_address"] is None and updated["router_id"] is None
    shown = ok(client.get(f"/v2.0/floatingips/{fip['id']}"))["floatingip"]
    assert shown["port_id"] is None


def _mtu_conflict(response: Any, network_id: str, minimum: int) -> None:
    """Neutron's ``NetworkMTUSubnetConflict`` (409), naming the network and the minimum its subnets need."""
    body = assert_error(response, 409, "NetworkMTUSubnetConflict")
    assert body["message"] == f"MTU of {network_id} is not valid, subnet requires a minimum of {minimum}", body


def test_mtu_rules(client: Any) -> None:
    tiny = _network(client, name="tiny", mtu=60)
    assert tiny["mtu"] == 60
    _mtu_conflict(_subnet_post(client, tiny["id"], "10.5.0.0/24"), tiny["id"], 68)
    _mtu_conflict(_subnet_post(client, tiny["id"], "fd00:5::/64"), tiny["id"], 68)  # below 68: 68, any version
    small = _network(client, name="small", mtu=1000)
    _subnet(client, small["id"], "10.6.0.0/24")
    _mtu_conflict(_subnet_post(client, small["id"], "fd00:6::/64"), small["id"], 1280)
    _mtu_conflict(client.put(f"/v2.0/networks/{small['id']}", json={"network": {"mtu": 67}}), small["id"], 68)
    _mtu_conflict(client.put(f"/v2.0/networks/{small['id']}", json={"network": {"mtu": 0}}), small["id"], 68)
    assert ok(client.put(f"/v2.0/networks/{small['id']}", json={"network": {"mtu": 68}}))["network"]["mtu"] == 68
    v6 = _network(client, name="v6")
    _subnet(client, v6["id"], "fd00:7::/64")
    _mtu_conflict(client.put(f"/v2.0/networks/{v6['id']}", json={"network": {"mtu": 1279}}), v6["id"], 1280)
    _mtu_conflict(client.put(f"/v2.0/networks/{v6['id']}", json={"network": {"mtu": 60}}), v6["id"], 68)
    error(client.post("/v2.0/networks", json={"network": {"mtu": -1}}), 400, "HTTPBadRequest")


def test_mtu_zero_asks_for_the_networks_maximum(client: Any) -> None:
    """ML2 keeps ``net_mtu or max_mtu``: 0 (create, or update of a network without subnets) is the maximum."""
    made = _network(client, name="zero", mtu=0)
    assert made["mtu"] == 1500
    lowered = ok(client.put(f"/v2.0/networks/{made['id']}", json={"network": {"mtu": 1400}}))["network"]
    assert lowered["mtu"] == 1400
    assert ok(client.put(f"/v2.0/networks/{made['id']}", json={"network": {"mtu": 0}}))["network"]["mtu"] == 1500


def test_gateway_outside_the_cidr_is_accepted(client: Any) -> None:
    net = _network(client, name="gw")
    outside = _subnet(client, net["id"], "10.8.0.0/24", gateway_ip="10.99.0.1")
    assert outside["gateway_ip"] == "10.99.0.1"
    assert outside["allocation_pools"] == [{"start": "10.8.0.1", "end": "10.8.0.254"}]
    other = _network(client, name="gw2")
    for refused in ("10.8.1.0", "10.8.1.255"):
        error(_subnet_post(client, other["id"], "10.8.1.0/24", gateway_ip=refused), 400, "InvalidInput")
    error(_subnet_post(client, other["id"], "10.8.1.0/24", gateway_ip="fd00::1"), 400, "InvalidInput")


def test_multicast_mac_is_accepted_broadcast_and_zero_refused(client: Any) -> None:
    net = _network(client, name="mac")
    created = client.post("/v2.0/ports", json={"port": {"network_id": net["id"], "mac_address": "01:00:5E:00:00:01"}})
    assert ok(created, 201)["port"]["mac_address"] == "01:00:5e:00:00:01"
    for refused in ("ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00"):
        body = {"port": {"network_id": net["id"], "mac_address": refused}}
        error(client.post("/v2.0/ports", json=body), 400, "HTTPBadRequest")


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "not-a-cidr", "10.0.0/24x", 12])
def test_malformed_cidr_is_invalid_input(client: Any, bad: Any) -> None:
    net = _network(client, name="cidr")
    body = {"subnet": {"network_id": net["id"], "cidr": bad, "ip_version": 4}}
    assert "is not in a CIDR format" in error(client.post("/v2.0/subnets", json=body), 400, "InvalidInput")["message"]


def test_network_and_subnet_show_neutrons_attributes(client: Any) -> None:
    net = _network(client, name="attrs")
    assert net["qinq"] is None and net["vlan_transparent"] is None
    assert _subnet(client, net["id"], "10.10.0.0/24")["router:external"] is False
    aliases = {e["alias"] for e in ok(client.get("/v2.0/extensions"))["extensions"]}
    assert {"subnet-external-network", "net-mtu-writable"} <= aliases


LIMITED_INI = "[quotas]\nquota_router = 1\nquota_network = -1\n"


@pytest.mark.parametrize("where", ["app", "live"])
def test_quota_defaults_and_max_fixed_ips_come_from_the_ini_file(
    where: str, make_app_client: Callable[..., Any], live_server_factory: Callable[..., str]
) -> None:
    ini = DEFAULT_INI.replace("[DEFAULT]", "[DEFAULT]\nmax_fixed_ips_per_port = 2", 1) + LIMITED_INI
    client = make_app_client(ini) if where == "app" else httpx.Client(base_url=live_server_factory(ini), timeout=30)
    member = project("p-limited")
    defaults = ok(client.get("/v2.0/quotas/p-limited/default", headers=member))["quota"]
    assert defaults["router"] == 1 and defaults["network"] == -1 and defaults["floatingip"] == 50
    ok(client.post("/v2.0/routers", json={"router": {"name": "r1"}}, headers=member), 201)
    error(client.post("/v2.0/routers", json={"router": {"name": "r2"}}, headers=member), 409, "OverQuota")
    net = _network(client, name="ips")
    sub = _subnet(client, net["id"], "10.11.0.0/24")
    three = [{"subnet_id": sub["id"]}] * 3
    body = {"port": {"network_id": net["id"], "fixed_ips": three}}
    assert "maximum" in error(client.post("/v2.0/ports", json=body), 400, "InvalidInput")["message"]
    body["port"]["fixed_ips"] = three[:2]
    port = ok(client.post("/v2.0/ports", json=body), 201)["port"]
    update = {"port": {"fixed_ips": three}}
    error(client.put(f"/v2.0/ports/{port['id']}", json=update), 400, "InvalidInput")


def test_floatingip_pools_list_the_external_ipv4_subnets(client: Any) -> None:
    world = build(client)
    second = _subnet(client, world.ext_net, "198.51.100.0/24", name="second")
    _subnet(client, world.ext_net, "fd00:99::/64")
    pools = ok(client.get("/v2.0/floatingip_pools", headers=MEMBER))["floatingip_pools"]
    assert {p["subnet_id"] for p in pools} == {world.ext_subnet, second["id"]}  # not the internal nor the IPv6
    assert {
        "subnet_id": second["id"],
        "subnet_name": "second",
        "cidr": "198.51.100.0/24",
        "network_id": world.ext_net,
        "project_id": second["project_id"],
        "tenant_id": second["project_id"],
    } in pools
    named = ok(client.get("/v2.0/floatingip_pools", params={"cidr": "198.51.100.0/24", "fields": "subnet_name"}))
    assert named["floatingip_pools"] == [{"subnet_name": "second"}]
    first = ok(client.get("/v2.0/floatingip_pools", params={"limit": 1}))
    [link] = [link for link in first["floatingip_pools_links"] if link["rel"] == "next"]
    rest = ok(client.get(urlsplit(link["href"])._replace(scheme="", netloc="").geturl()))["floatingip_pools"]
    assert len(rest) == 1 and rest[0]["subnet_id"] != first["floatingip_pools"][0]["subnet_id"]
    assert client.post("/v2.0/floatingip_pools", json={}).status_code == 405


def test_port_mac_regenerate_substring_filter_and_tags_on_create(client: Any) -> None:
    net = _network(client, name="misc", tags=["blue"])
    assert net["tags"] == ["blue"]
    sub = _subnet(client, net["id"], "10.12.0.0/24", tags=["s"])
    assert sub["tags"] == ["s"]
    body = {"network_id": net["id"], "fixed_ips": [{"subnet_id": sub["id"], "ip_address": "10.12.0.77"}]}
    port = ok(client.post("/v2.0/ports", json={"port": {**body, "tags": ["a", "b"]}}), 201)["port"]
    assert sorted(port["tags"]) == ["a", "b"]
    renewed = ok(client.put(f"/v2.0/ports/{port['id']}", json={"port": {"mac_address": None}}))["port"]
    assert renewed["mac_address"] != port["mac_address"] and renewed["mac_address"].startswith("fa:16:3e:")
    found = ok(client.get("/v2.0/ports", params={"fixed_ips": "ip_address_substr=0.77"}))["ports"]
    assert [p["id"] for p in found] == [port["id"]]
    assert ok(client.get("/v2.0/ports", params={"fixed_ips": "ip_address_substr=0.78"}))["ports"] == []
    router = ok(client.post("/v2.0/routers", json={"router": {"name": "t", "tags": ["r"]}}), 201)["router"]
    assert router["tags"] == ["r"]
    aliases = {e["alias"] for e in ok(client.get("/v2.0/extensions"))["extensions"]}
    assert {"tag-creation", "ip-substring-filtering", "port-mac-address-regenerate", "floatingip-pools"} <= aliases


def test_network_ip_availability_for_administrators(client: Any) -> None:
    net = _network(client, name="avail")
    v4 = _subnet(client, net["id"], "10.13.0.0/28", enable_dhcp=False)  # pool .1-.14 minus the gateway .1
    v6 = _subnet(client, net["id"], "fd00:13::/120", enable_dhcp=False)
    ports = [ok(client.post("/v2.0/ports", json={"port": {"network_id": net["id"]}}), 201)["port"] for _ in range(3)]
    used_v6 = sum(ip["subnet_id"] == v6["id"] for port in ports for ip in port["fixed_ips"])
    shown = ok(client.get(f"/v2.0/network-ip-availabilities/{net['id']}"))["network_ip_availability"]
    subnets = {s["subnet_id"]: s for s in shown["subnet_ip_availability"]}
    assert subnets[v4["id"]] == {
        "subnet_id": v4["id"],
        "subnet_name": "",
        "cidr": "10.13.0.0/28",
        "ip_version": 4,
        "total_ips": 13,
        "used_ips": 3,
    }
    assert subnets[v6["id"]]["total_ips"] == 254 and subnets[v6["id"]]["used_ips"] == used_v6
    assert (shown["network_name"], shown["total_ips"], shown["used_ips"]) == ("avail", 267, 3 + used_v6)
    listed = ok(client.get("/v2.0/network-ip-availabilities", params={"network_name": "avail", "ip_version": "4"}))
    [only] = listed["network_ip_availabilities"]
    assert [s["subnet_id"] for s in only["subnet_ip_availability"]] == [v4["id"]] and only["used_ips"] == 3
    error(client.get("/v2.0/network-ip-availabilities", params={"ip_version": "x"}), 400, "HTTPBadRequest")
    assert ok(client.get("/v2.0/network-ip-availabilities", headers=MEMBER))["network_ip_availabilities"] == []
    own = _network(client, MEMBER, name="mine")
    error(client.get(f"/v2.0/network-ip-availabilities/{own['id']}", headers=MEMBER), 404, "NetworkNotFound")
    missing = "6a1f0c8e-8a42-4f3e-9d0e-3cbd8e9b5f00"
    error(client.get(f"/v2.0/network-ip-availabilities/{missing}"), 404, "NetworkNotFound")


def test_unknown_filters_are_400_known_and_hidden_ones_are_not(client: Any) -> None:
    for path in ("networks", "subnets", "ports", "routers", "floatingips", "security-groups", "security-group-rules",
                 "subnetpools", "address-scopes", "agents"):
        body = error(client.get(f"/v2.0/{path}", params={"colour": "red"}), 400, "HTTPBadRequest")
        assert "colour" in body["message"]
    error(client.get("/v2.0/floatingip_pools", params={"id": "x"}), 400, "HTTPBadRequest")
    assert ok(client.get("/v2.0/ports", params={"binding:host_id": "h"}, headers=MEMBER))["ports"] == []
    assert ok(client.get("/v2.0/networks", params={"tenant_id": "nobody", "not-tags": "x"}))["networks"] == []
    aliases = {e["alias"] for e in ok(client.get("/v2.0/extensions"))["extensions"]}
    assert {"filter-validation", "network-ip-availability"} <= aliases
