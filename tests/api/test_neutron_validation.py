"""Issue 20 item 9: attribute checks Neutron makes, with Neutron's error types, and nothing stored when refused.

Breadth runs in-process (``app_client``); each kind of hostile request is also sent to a real listening server
(``live_server``) at the end of the module.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api import l3_world
from tests.api.helpers import assert_error, network, port, subnet
from tests.conftest import DEFAULT_INI

UNKNOWN = str(uuid.UUID(int=7))
ROUTES = [{"destination": f"192.0.{i // 256}.{i % 256}/32", "nexthop": "10.5.0.9"} for i in range(10_000)]
SERVERS = [f"192.0.2.{i}" for i in range(1, 7)]


def put(client: Any, kind: str, ident: str, **attrs: Any) -> Any:
    return client.put(f"/v2.0/{kind}s/{ident}", json={kind: attrs})


def post(client: Any, kind: str, **attrs: Any) -> Any:
    return client.post(f"/v2.0/{kind}s", json={kind: attrs})


def unchanged(client: Any, kind: str, ident: str, before: dict[str, Any]) -> None:
    after = client.get(f"/v2.0/{kind}s/{ident}").json()[kind]
    assert after == before


def count(client: Any, kind: str) -> int:
    return len(client.get(f"/v2.0/{kind}s").json()[f"{kind}s"])


@pytest.mark.parametrize("vnic", ["evil", "", "NORMAL", 5, None, ["direct"]])
def test_vnic_type_is_one_of_neutrons(app_client: Any, vnic: Any) -> None:
    net = network(app_client)
    assert_error(post(app_client, "port", network_id=net["id"], **{"binding:vnic_type": vnic}), 400,
                 "HTTPBadRequest", "Invalid input for binding:vnic_type")  # fmt: skip
    assert count(app_client, "port") == 0
    mine = port(app_client, net["id"])
    assert_error(put(app_client, "port", mine["id"], **{"binding:vnic_type": vnic}), 400, "HTTPBadRequest")
    unchanged(app_client, "port", mine["id"], mine)


def test_every_neutron_vnic_type_is_accepted(app_client: Any) -> None:
    net = network(app_client)
    for vnic in ("direct", "macvtap", "baremetal", "direct-physical", "smart-nic", "vdpa", "remote-managed"):
        assert port(app_client, net["id"], **{"binding:vnic_type": vnic})["binding:vnic_type"] == vnic


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("web\x00admin", "must be 1-63 characters long"),
        ("10.0.0.0/24", "must be 1-63 characters long"),
        ("10.0.0.1", "TLD '1' must not be all numeric"),
        ("-web", "must not start or end with a hyphen"),
        ("a..b", "Encountered an empty component"),
        ("x" * 64, "must be 1-63 characters long"),
        ("under_score", "must be 1-63 characters long"),
        (".".join(["abcdefgh"] * 29), "exceeds the 255 character FQDN limit"),
        (5, "must be string type"),
    ],
)
def test_port_dns_name_is_a_dns_name(app_client: Any, name: Any, reason: str) -> None:
    net = network(app_client)
    assert_error(post(app_client, "port", network_id=net["id"], dns_name=name), 400, "HTTPBadRequest", reason)
    assert count(app_client, "port") == 0
    mine = port(app_client, net["id"])
    assert_error(put(app_client, "port", mine["id"], dns_name=name), 400, "HTTPBadRequest", "dns_name")
    unchanged(app_client, "port", mine["id"], mine)


def test_good_dns_names_are_lower_cased(app_client: Any) -> None:
    net = network(app_client)
    assert port(app_client, net["id"], dns_name="Web-1")["dns_name"] == "web-1"
    assert port(app_client, net["id"], dns_name="vm.Example.org.")["dns_name"] == "vm.example.org."
    assert port(app_client, net["id"], dns_name=None)["dns_name"] == ""


@pytest.mark.parametrize(
    ("domain", "reason"),
    [
        ("example.org", "'example.org' is not a FQDN"),
        ("ex ample.org.", "must be 1-63 characters long"),
        ("a\x00b.org.", "must be 1-63 characters long"),
        ("192.0.2.1.", "must not be all numeric"),
        ("10.0.0.0/8.", "must be 1-63 characters long"),
        (".".join(["abcdefgh"] * 28) + ".ab.", "Adding a sub-domain will cause it to exceed"),
        (["example.org."], "must be string type"),
    ],
)
def test_network_dns_domain_is_an_fqdn(app_client: Any, domain: Any, reason: str) -> None:
    assert_error(post(app_client, "network", dns_domain=domain), 400, "HTTPBadRequest", reason)
    assert count(app_client, "network") == 0
    net = network(app_client)
    assert_error(put(app_client, "network", net["id"], dns_domain=domain), 400, "HTTPBadRequest", "dns_domain")
    unchanged(app_client, "network", net["id"], net)
    assert put(app_client, "network", net["id"], dns_domain="example.org.").status_code == 200


def test_an_unknown_segment_is_not_found(app_client: Any) -> None:
    net = network(app_client)
    body = {"network_id": net["id"], "cidr": "10.5.0.0/24", "ip_version": 4}
    assert_error(post(app_client, "subnet", segment_id=UNKNOWN, **body), 404, "SegmentNotFound", UNKNOWN)
    assert_error(post(app_client, "subnet", segment_id="segment-1", **body), 400, "HTTPBadRequest", "segment_id")
    assert count(app_client, "subnet") == 0
    sub = subnet(app_client, net["id"], "10.5.0.0/24", segment_id=None)
    assert_error(put(app_client, "subnet", sub["id"], segment_id=UNKNOWN), 404, "SegmentNotFound")
    unchanged(app_client, "subnet", sub["id"], sub)


@pytest.mark.parametrize(
    ("types", "kind", "message"),
    [
        (["evil"], "InvalidSubnetServiceType", "Subnet service type evil does not correspond to a valid device owner."),
        (["network:dhcp", 5], "InvalidInputSubnetServiceType", "Subnet service type 5 is not a string."),
        ("network:dhcp", "HTTPBadRequest", "Subnet service types must be a list."),
    ],
)
def test_service_types_are_device_owner_prefixes(app_client: Any, types: Any, kind: str, message: str) -> None:
    net = network(app_client)
    body = {"network_id": net["id"], "cidr": "10.5.0.0/24", "ip_version": 4, "service_types": types}
    assert assert_error(post(app_client, "subnet", **body), 400, kind)["message"] == message
    assert count(app_client, "subnet") == 0
    sub = subnet(app_client, net["id"], "10.5.0.0/24", service_types=["compute:nova", "network:router_gateway"])
    assert_error(put(app_client, "subnet", sub["id"], service_types=types), 400, kind)
    unchanged(app_client, "subnet", sub["id"], sub)


def test_host_routes_and_nameservers_are_limited(app_client: Any) -> None:
    net = network(app_client)
    body = {"network_id": net["id"], "cidr": "10.5.0.0/24", "ip_version": 4}
    error = assert_error(post(app_client, "subnet", host_routes=ROUTES, **body), 400, "HostRoutesExhausted")
    assert error["message"] == (
        "Unable to complete operation for new subnet. The number of host routes exceeds the limit 20."
    )
    assert_error(post(app_client, "subnet", host_routes=ROUTES[:21], **body), 400, "HostRoutesExhausted")
    assert_error(post(app_client, "subnet", dns_nameservers=SERVERS, **body), 400, "DNSNameServersExhausted",
                 "The number of DNS nameservers exceeds the limit 5.")  # fmt: skip
    assert count(app_client, "subnet") == 0
    sub = subnet(app_client, net["id"], "10.5.0.0/24", host_routes=ROUTES[:20], dns_nameservers=SERVERS[:5])
    assert_error(put(app_client, "subnet", sub["id"], host_routes=ROUTES[:21]), 400, "HostRoutesExhausted",
                 f"for {sub['id']}.")  # fmt: skip
    assert_error(put(app_client, "subnet", sub["id"], dns_nameservers=SERVERS), 400, "DNSNameServersExhausted")
    unchanged(app_client, "subnet", sub["id"], sub)


def test_the_limits_come_from_the_config(make_app_client: Any) -> None:
    ini = DEFAULT_INI.replace("[ml2]", "max_dns_nameservers = 1\nmax_subnet_host_routes = 0\n[ml2]", 1)
    client = make_app_client(ini)
    net = network(client)
    body = {"network_id": net["id"], "cidr": "10.5.0.0/24", "ip_version": 4}
    assert_error(post(client, "subnet", dns_nameservers=SERVERS[:2], **body), 400, "DNSNameServersExhausted", "1.")
    assert_error(post(client, "subnet", host_routes=ROUTES[:1], **body), 400, "HostRoutesExhausted", "limit 0.")
    assert subnet(client, net["id"], "10.5.0.0/24", dns_nameservers=SERVERS[:1])["dns_nameservers"] == SERVERS[:1]


def test_an_external_network_in_use_stays_external(app_client: Any) -> None:
    world = l3_world.build(app_client)
    world.router()
    external = app_client.get(f"/v2.0/networks/{world.ext_net}").json()["network"]
    refused = put(app_client, "network", world.ext_net, **{"router:external": False})
    assert_error(refused, 409, "ExternalNetworkInUse", f"External network {world.ext_net} cannot be updated")
    unchanged(app_client, "network", world.ext_net, external)
    assert put(app_client, "network", world.ext_net, **{"router:external": True}).status_code == 200


def test_floating_ips_alone_keep_a_network_external(app_client: Any) -> None:
    world = l3_world.build(app_client)
    world.fip()
    assert_error(put(app_client, "network", world.ext_net, **{"router:external": False}), 409, "ExternalNetworkInUse")
    unused = network(app_client, **{"router:external": True})
    assert put(app_client, "network", unused["id"], **{"router:external": False}).json()["network"][
        "router:external"
    ] is False


@pytest.fixture
def live(live_server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server, timeout=30) as client:
        yield client


def test_hostile_inputs_through_a_real_server(live: httpx.Client) -> None:
    """One of each refusal of item 9 over a real socket; nothing of them is stored."""
    world = l3_world.build(live)
    before = {kind: count(live, kind) for kind in ("network", "subnet", "port")}
    net_body = {"network_id": world.net, "cidr": "10.77.0.0/24", "ip_version": 4}
    assert_error(post(live, "port", network_id=world.net, **{"binding:vnic_type": "evil"}), 400, "HTTPBadRequest")
    assert_error(post(live, "port", network_id=world.net, dns_name="a\x00b"), 400, "HTTPBadRequest", "dns_name")
    assert_error(post(live, "port", network_id=world.net, dns_name="10.0.0.0/24"), 400, "HTTPBadRequest")
    assert_error(post(live, "network", dns_domain="anything goes"), 400, "HTTPBadRequest", "dns_domain")
    assert_error(post(live, "subnet", segment_id=UNKNOWN, **net_body), 404, "SegmentNotFound")
    assert_error(post(live, "subnet", service_types=["evil"], **net_body), 400, "InvalidSubnetServiceType")
    assert_error(post(live, "subnet", host_routes=ROUTES, **net_body), 400, "HostRoutesExhausted")
    assert_error(post(live, "subnet", dns_nameservers=SERVERS, **net_body), 400, "DNSNameServersExhausted")
    assert before == {kind: count(live, kind) for kind in ("network", "subnet", "port")}
    world.router()
    assert_error(put(live, "network", world.ext_net, **{"router:external": False}), 409, "ExternalNetworkInUse")
    assert live.get(f"/v2.0/networks/{world.ext_net}").json()["network"]["router:external"] is True
    dhcp = live.get("/v2.0/ports", params={"device_owner": "network:dhcp", "network_id": world.net}).json()["ports"]
    fip = world.fip()
    assert_error(world.associate(fip["id"], dhcp[0]["id"]), 400, "BadRequest", "is unable to be assigned a floating IP")
    assert live.get(f"/v2.0/floatingips/{fip['id']}").json()["floatingip"]["port_id"] is None
    interface = live.get("/v2.0/ports", params={"device_owner": "network:router_interface"}).json()["ports"][0]
    assert world.associate(fip["id"], interface["id"]).status_code == 200  # Neutron allows it
