"""``diagnose`` of an IPv6 instance address against the real server (in-process): the API hops of the routed
path fail one by one as the topology misses them — no router interface on the subnet, no IPv6 address on the
router's gateway — and pass once it has them (the kernel hops follow; no agent runs here); the port's security
groups are judged as for a floating IP: summarised without ``--protocol``, that flow from the upstream's IPv6
address with it."""

from __future__ import annotations

from typing import Any

from floatnet.diagnose.facts import Query
from floatnet.diagnose.plan import diagnose
from floatnet.diagnose.reader import NeutronReader
from floatnet.diagnose.result import first_failure
from tests.api.l3_world import World, build
from tests.api.test_router_slice_ipv6 import subnet


def reader(client: Any) -> NeutronReader:
    def get(path: str, params: dict[str, Any] | None = None) -> tuple[int, Any]:
        answer = client.get(f"/v2.0{path}", params=params)
        return answer.status_code, answer.json()

    return NeutronReader(get)


def first(client: Any, address: str) -> str:
    failure = first_failure(diagnose(reader(client), address))
    return failure.name if failure is not None else ""


UPSTREAM6 = "2001:db8:ff::1"


def _gateway6(world: World, router_id: str) -> None:
    """Give the router's gateway an IPv6 address on a new external IPv6 subnet (upstream router UPSTREAM6)."""
    ext6 = subnet(world.client, world.ext_net, "2001:db8:ff::/64", gateway_ip=UPSTREAM6, enable_dhcp=False)
    world.set_gateway(router_id, world.ext_net,
                      external_fixed_ips=[{"subnet_id": world.ext_subnet}, {"subnet_id": ext6["id"]}])  # fmt: skip


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
    _gateway6(world, router_id)
    results = {r.name: r for r in diagnose(reader(app_client), address)}
    assert results["api.gateway_ipv6"].ok and "2001:db8:ff::1" in results["api.gateway_ipv6"].reason
    assert results["api.routed"].ok and "not NATed" in results["api.routed"].reason
    assert first(app_client, address) in ("node.root", "router.namespace")  # no agent built the router here


def test_ipv6_address_security_groups_judged_as_for_a_floating_ip(app_client: Any) -> None:
    """Without a query the default group's summary from the upstream's IPv6 address (nothing new: it admits
    only its own members); ``--protocol tcp --port 22`` fails naming the IPv6 rule that would admit it, and
    passes naming that rule once it exists; ``--protocol icmp`` is ICMPv6 here. The unbound port is not
    ACTIVE: that hop fails too, after the security hops."""
    world = build(app_client)
    slaac = subnet(app_client, world.net, "2001:db8:1::/64", ipv6_ra_mode="slaac", ipv6_address_mode="slaac")
    port = world.port()
    [address] = [ip["ip_address"] for ip in port["fixed_ips"] if ip["subnet_id"] == slaac["id"]]
    router_id = world.router()
    world.add_interface(router_id, subnet_id=slaac["id"])
    _gateway6(world, router_id)

    def results(query: Query | None = None) -> dict[str, Any]:
        return {r.name: r for r in diagnose(reader(app_client), address, query=query)}

    summary = results()["security.groups"]
    assert summary.ok and f"from {UPSTREAM6} they admit nothing new" in summary.reason
    assert not results()["api.port_active"].ok
    ssh = results(Query("tcp", 22))["security.groups"]
    assert not ssh.ok and f"admits tcp/22 from {UPSTREAM6}" in ssh.reason
    assert "--ethertype IPv6 --protocol tcp --port-range-min 22 --port-range-max 22" in ssh.fix
    [group_id] = port["security_groups"]
    body = {"security_group_id": group_id, "direction": "ingress", "ethertype": "IPv6", "protocol": "tcp",
            "port_range_min": 22, "port_range_max": 22}  # fmt: skip
    rule = app_client.post("/v2.0/security-group-rules", json={"security_group_rule": body}).json()
    admitted = results(Query("tcp", 22))["security.groups"]
    assert admitted.ok and rule["security_group_rule"]["id"] in admitted.reason
    ping = results(Query("icmp"))["security.groups"]
    assert not ping.ok and "--ethertype IPv6 --protocol ipv6-icmp" in ping.fix
