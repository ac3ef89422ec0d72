"""``diagnose`` of an IPv6 instance address against the real server (in-process): the API hops of the routed
path fail one by one as the topology misses them — no router interface on the subnet, no IPv6 address on the
router's gateway — and pass once it has them (the kernel hops follow; no agent runs here)."""

from __future__ import annotations

from typing import Any

from floatnet.diagnose.plan import diagnose
from floatnet.diagnose.reader import NeutronReader
from floatnet.diagnose.result import first_failure
from tests.api.l3_world import build
from tests.api.test_router_slice_ipv6 import subnet


def reader(client: Any) -> NeutronReader:
    def get(path: str, params: dict[str, Any] | None = None) -> tuple[int, Any]:
        answer = client.get(f"/v2.0{path}", params=params)
        return answer.status_code, answer.json()

    return NeutronReader(get)


def first(client: Any, address: str) -> str:
    failure = first_failure(diagnose(reader(client), address))
    return failure.name if failure is not None else ""


def test_ipv6_address_path_judged_hop_by_hop(app_client: Any) -> None:
    world = build(app_client)
    slaac = subnet(app_client, world.net, "2001:db8:1::/64", ipv6_ra_mode="slaac", ipv6_address_mode="slaac")
    port = world.port()
    [address] = [ip["ip_address"] for ip in port["fixed_ips"] if ip["subnet_id"] == slaac["id"]]
    assert first(app_client, "2001:db8:1::dead") == "api.address"
    router_id = world.router()  # an IPv4 interface and an IPv4-only gateway
    assert first(app_client, address) == "api.routed"
    world.add_interface(router_id, subnet_id=slaac["id"])
    assert first(app_client, address) == "api.gateway_ipv6"
    ext6 = subnet(app_client, world.ext_net, "2001:db8:ff::/64", gateway_ip="2001:db8:ff::1", enable_dhcp=False)
    world.set_gateway(router_id, world.ext_net,
                      external_fixed_ips=[{"subnet_id": world.ext_subnet}, {"subnet_id": ext6["id"]}])  # fmt: skip
    results = {r.name: r for r in diagnose(reader(app_client), address)}
    assert results["api.gateway_ipv6"].ok and "2001:db8:ff::1" in results["api.gateway_ipv6"].reason
    assert results["api.routed"].ok and "not NATed" in results["api.routed"].reason
    assert first(app_client, address) in ("node.root", "router.namespace")  # no agent built the router here
