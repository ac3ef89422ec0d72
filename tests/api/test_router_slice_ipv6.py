"""The router slice carries IPv6: the gateway's IPv6 address with its subnet's gateway (``gateway_ipv6``,
routed) next to the IPv4 one (NATed), and the IPv6 modes of each interface's subnet (they drive router
advertisements); the DHCP section carries the subnets' IPv6 modes (they drive DHCPv6)."""

from __future__ import annotations

from typing import Any

from floatnet.agent.desired import parse_state
from floatnet.core.agent_protocol import router_slice
from tests.api.l3_world import build, ok


def subnet(client: Any, network_id: str, cidr: str, **extra: Any) -> dict[str, Any]:
    body = {"network_id": network_id, "cidr": cidr, "ip_version": 6, **extra}
    return dict(ok(client.post("/v2.0/subnets", json={"subnet": body}), 201)["subnet"])


def test_router_slice_lists_ipv6_gateway_and_interface_modes(app_client: Any) -> None:
    world = build(app_client)
    subnet(app_client, world.ext_net, "2001:db8:ff::/64", gateway_ip="2001:db8:ff::1")
    slaac = subnet(app_client, world.net, "2001:db8:1::/64", ipv6_ra_mode="slaac", ipv6_address_mode="slaac")
    router_id = world.router()
    world.add_interface(router_id, subnet_id=slaac["id"])
    core = app_client.app.state.core
    [router] = core.db.run(lambda s: router_slice.load(s, core.config, [router_id]), write=False)
    assert router["gateway"]["ip_address"].startswith("203.0.113.")
    gw6 = router["gateway_ipv6"]
    assert gw6["cidr"] == "2001:db8:ff::/64" and gw6["gateway_ip"] == "2001:db8:ff::1"
    assert gw6["port_id"] == router["gateway"]["port_id"]
    [itf6] = [i for i in router["interfaces"] if ":" in i["ip_address"]]
    assert itf6["ip_address"] == "2001:db8:1::1"
    assert (itf6["ipv6_ra_mode"], itf6["ipv6_address_mode"]) == ("slaac", "slaac")

    parsed = parse_state({"seq": 1, "routers": [router]}, complete=False).routers[router_id]
    assert parsed.gateway6 is not None and parsed.gateway6.gateway_ip == "2001:db8:ff::1"
    assert {i.ipv6_ra_mode for i in parsed.interfaces} == {None, "slaac"}


def test_dhcp_section_carries_ipv6_modes(app_client: Any) -> None:
    world = build(app_client)
    subnet(app_client, world.net, "2001:db8:2::/64", ipv6_ra_mode="dhcpv6-stateless",
           ipv6_address_mode="dhcpv6-stateless")  # fmt: skip
    world.port()
    doc = ok(app_client.get("/v2.0/floatnet/hosts/node1/state"))
    [dhcp] = [n["dhcp"] for n in doc["networks"] if n["id"] == world.net]
    modes = {s["cidr"]: (s["ipv6_ra_mode"], s["ipv6_address_mode"]) for s in dhcp["subnets"]}
    assert modes == {"10.0.0.0/24": (None, None), "2001:db8:2::/64": ("dhcpv6-stateless", "dhcpv6-stateless")}
