"""Issue 19 end to end: the seed made dual-stack — an external IPv6 subnet on the router's gateway, a SLAAC subnet
on vlan_100 behind the router — judged by traffic from the lab's namespaces.

vm1 forms its EUI-64 address from the router's advertisements (checked with ``ip -j addr`` inside its
namespace), reaches the upstream's 2001:db8:100::80 over IPv6 with that address as source (the upstream's
whoami says whom it saw: routed, no NAT), and is reachable from the upstream only once its security group admits
ICMPv6; IPv4 and its floating IP keep working next to it. vm3, created once a dhcpv6-stateful and a
dhcpv6-stateless subnet exist, configures its stateful address with its own DHCPv6 client (the lab's
``dhclient -6``) and is routed with it both ways, and gets options only from the stateless one. ``diagnose`` of
an IPv6 address walks the routed path and judges the port's security groups as for a floating IP.
"""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from floatnet.core.ipam.ipv6 import eui64
from floatnet.lab import dhcp6 as dhcp6_probe
from floatnet.lab.names import UPSTREAM_GATEWAY6, WEB_SERVER6
from tests.e2e.fabric import wait_until
from tests.e2e.test_diagnose import broken_hop, diagnose, freeze
from tests.e2e.test_security_show import check_of
from tests.e2e.test_security_show import diagnose as diagnose_query
from tests.e2e.topology import UPSTREAM, Seed, Vm, add_vm, in_ns, ping, whoami

SLAAC_CIDR = "2001:db8:1::/64"
EXT6_CIDR = "2001:db8:ff::/64"
STATEFUL_CIDR = "2001:db8:2::/64"


def _subnet(seed: Seed, network_id: str, cidr: str, **extra: Any) -> dict[str, Any]:
    body = {"network_id": network_id, "ip_version": 6, "cidr": cidr, **extra}
    return dict(seed.fabric.api("POST", "/subnets", json={"subnet": body})["subnet"])


@pytest.fixture(scope="module")
def dual(seed: Seed) -> dict[str, str]:
    """The seed plus IPv6: external subnet on the gateway, SLAAC subnet on the router; the upstream's route back."""
    f = seed.fabric
    ext6 = _subnet(seed, seed.public["id"], EXT6_CIDR, gateway_ip=UPSTREAM_GATEWAY6, enable_dhcp=False)
    slaac = _subnet(seed, seed.private["id"], SLAAC_CIDR, ipv6_ra_mode="slaac", ipv6_address_mode="slaac")
    router_id = seed.router["id"]
    f.api("PUT", f"/routers/{router_id}/add_router_interface", json={"subnet_id": slaac["id"]})
    fixed = [{"subnet_id": seed.public_subnet["id"], "ip_address": seed.gateway_ip()}, {"subnet_id": ext6["id"]}]
    info = {"network_id": seed.public["id"], "external_fixed_ips": fixed}
    router = f.api("PUT", f"/routers/{router_id}", json={"router": {"external_gateway_info": info}})["router"]
    addresses = [ip["ip_address"] for ip in router["external_gateway_info"]["external_fixed_ips"]]
    [gw6] = [address for address in addresses if ":" in address]
    f.lab("exec", "upstream", "--", "ip", "-6", "route", "replace", SLAAC_CIDR, "via", gw6)
    return {"gw6": gw6, "vm1_ip6": eui64(SLAAC_CIDR, seed.vms["vm1"].mac)}


def _global_addresses(ns: str) -> set[str]:
    info = json.loads(in_ns(ns, "ip", "-j", "-6", "addr", "show", "dev", "eth0", check=True).stdout)
    return {a["local"] for i in info for a in i.get("addr_info", []) if a.get("scope") == "global"}


def test_vm1_forms_its_eui64_address_from_router_advertisements(seed: Seed, dual: dict[str, str]) -> None:
    vm1 = seed.vms["vm1"]
    port = seed.fabric.api("GET", f"/ports/{vm1.port_id}")["port"]
    assert dual["vm1_ip6"] in {ip["ip_address"] for ip in port["fixed_ips"]}  # the server's record of it
    wait_until(lambda: dual["vm1_ip6"] in _global_addresses(vm1.ns), 30, "vm1's SLAAC address")
    routes = json.loads(in_ns(vm1.ns, "ip", "-j", "-6", "route", "show", "default", check=True).stdout)
    assert routes and routes[0]["gateway"].startswith("fe80::")  # the router's qr- link-local address


def test_vm1_reaches_the_upstream_over_ipv6_with_its_own_address(seed: Seed, dual: dict[str, str]) -> None:
    vm1 = seed.vms["vm1"]
    wait_until(lambda: dual["vm1_ip6"] in _global_addresses(vm1.ns), 30, "vm1's SLAAC address")
    seen = wait_until(lambda: whoami(vm1.ns, WEB_SERVER6), 20, "vm1 reaching the upstream over IPv6")
    assert seen["peer"] == dual["vm1_ip6"], "routed, not NATed: the upstream sees vm1's own address"
    ipv4 = whoami(vm1.ns, UPSTREAM)
    assert ipv4 is not None and ipv4["peer"] == seed.fips["fip1"]["floating_ip_address"]  # IPv4 NAT unchanged


def test_upstream_reaches_vm1_over_ipv6_as_its_security_group_allows(seed: Seed, dual: dict[str, str]) -> None:
    f, upstream = seed.fabric, f"{seed.fabric.prefix}upstream"
    wait_until(lambda: dual["vm1_ip6"] in _global_addresses(seed.vms["vm1"].ns), 30, "vm1's SLAAC address")
    assert ping(upstream, dual["gw6"])  # the router's gateway answers
    assert not ping(upstream, dual["vm1_ip6"]), "the default group admits no IPv6 ingress from outside"
    [group] = f.api("GET", "/security-groups", params={"name": "default"})["security_groups"]
    rule = {"security_group_id": group["id"], "direction": "ingress", "ethertype": "IPv6", "protocol": "ipv6-icmp"}
    f.api("POST", "/security-group-rules", json={"security_group_rule": rule})
    wait_until(lambda: ping(upstream, dual["vm1_ip6"], count=1), 20, "the upstream reaching vm1 over IPv6")


@pytest.fixture(scope="module")
def dhcp6(seed: Seed, dual: dict[str, str]) -> dict[str, dict[str, Any]]:
    """A dhcpv6-stateful and a dhcpv6-stateless subnet on vlan_100, both on the router (the upstream routes
    the stateful prefix back through the router's gateway address)."""
    private = seed.private["id"]
    subnets = {
        "stateful": _subnet(seed, private, STATEFUL_CIDR, ipv6_ra_mode="dhcpv6-stateful",
                            ipv6_address_mode="dhcpv6-stateful"),
        "stateless": _subnet(seed, private, "2001:db8:3::/64", ipv6_ra_mode="dhcpv6-stateless",
                             ipv6_address_mode="dhcpv6-stateless"),
    }  # fmt: skip
    for subnet in subnets.values():
        seed.fabric.api("PUT", f"/routers/{seed.router['id']}/add_router_interface", json={"subnet_id": subnet["id"]})
    seed.fabric.lab("exec", "upstream", "--", "ip", "-6", "route", "replace", STATEFUL_CIDR, "via", dual["gw6"])
    return subnets


@pytest.fixture(scope="module")
def vm3(seed: Seed, dhcp6: dict[str, dict[str, Any]]) -> Vm:
    """An instance created after the DHCPv6 subnets: its port has an address in each."""
    return add_vm(seed, "vm3", seed.private["id"])


def _stateful_address(seed: Seed, vm: Vm, dhcp6: dict[str, dict[str, Any]]) -> str:
    port = seed.fabric.api("GET", f"/ports/{vm.port_id}")["port"]
    [address] = [ip["ip_address"] for ip in port["fixed_ips"] if ip["subnet_id"] == dhcp6["stateful"]["id"]]
    return str(address)


def test_dhcpv6_stateless_answers_vm3_with_options_only(seed: Seed, vm3: Vm) -> None:
    """The stateless subnet: vm3 forms its EUI-64 address from the router's advertisement (O flag: options by
    DHCPv6), and the network's dnsmasq answers an Information-Request (the lab's DHCPv6 probe, as a client
    would ask) with DNS servers and the search domain, no address. (The stateful subnet's address is taken by
    vm3's own DHCPv6 client: the next test.)"""
    wait_until(lambda: eui64("2001:db8:3::/64", vm3.mac) in _global_addresses(vm3.ns), 30, "vm3's stateless SLAAC")
    info = wait_until(lambda: dhcp6_probe.ask(vm3.ns, "eth0", vm3.mac, stateful=False), 20, "a DHCPv6 reply")
    assert not info.addresses and info.domains == ("openstacklocal",) and info.dns_servers


def _admit_icmpv6(seed: Seed) -> None:
    """The default group admits ICMPv6 from anywhere (created unless an earlier test did)."""
    [group] = seed.fabric.api("GET", "/security-groups", params={"name": "default"})["security_groups"]
    rule = {"security_group_id": group["id"], "direction": "ingress", "ethertype": "IPv6", "protocol": "ipv6-icmp"}
    have = [{k: r.get(k) for k in rule} | {"remote": r.get("remote_ip_prefix") or r.get("remote_group_id")}
            for r in group["security_group_rules"]]  # fmt: skip
    if {**rule, "remote": None} not in have:
        seed.fabric.api("POST", "/security-group-rules", json={"security_group_rule": rule})


def test_vm3_configures_its_stateful_address_by_dhcpv6(seed: Seed, dhcp6: dict[str, dict[str, Any]], vm3: Vm) -> None:
    """The lab runs ``dhclient -6`` in vm3 (its port has a dhcpv6-stateful address) and vm3 configures itself:
    ``ip -j addr`` inside vm3 shows the port's fixed IP of the stateful subnet, and no other address of that
    prefix (the router's advertisement leaves autoconfiguration off there); the lab's lease says the same;
    vm3 reaches the upstream with that address as source, and the upstream reaches it."""
    f, address = seed.fabric, _stateful_address(seed, vm3, dhcp6)
    wait_until(lambda: address in _global_addresses(vm3.ns), 30, "vm3's DHCPv6 address on eth0")
    prefix = ipaddress.ip_network(STATEFUL_CIDR)
    assert {a for a in _global_addresses(vm3.ns) if ipaddress.ip_address(a) in prefix} == {address}
    lease = json.loads(f.lab("lease", "vm3").stdout)
    assert lease["ip6"] == address and lease["domain6"].split() == ["openstacklocal."] and lease["dns6"]
    wait_until(lambda: _ping_from(vm3.ns, address, WEB_SERVER6), 20, "vm3 reaching the upstream from its address")
    _admit_icmpv6(seed)
    wait_until(lambda: ping(f"{f.prefix}upstream", address, count=1), 20, "the upstream reaching vm3's address")


def _ping_from(ns: str, source: str, target: str) -> bool:
    return in_ns(ns, "ping", "-c", "1", "-W", "1", "-I", source, target).returncode == 0


def _radvd(seed: Seed) -> tuple[int, str] | None:
    """The router's radvd as its pidfile names it (radvd forks a privilege-separation helper too) and the
    configuration it was started with; None when none runs in the router's namespace."""
    ns = seed.router_ns
    out = in_ns(ns, "sh", "-c", "for p in $(ip netns pids " + ns + "); do echo $p $(cat /proc/$p/comm); done")
    for pid in [int(line.split()[0]) for line in out.stdout.splitlines() if line.endswith("radvd")]:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
        if int(Path(argv[argv.index("-p") + 1]).read_text()) == pid:
            return pid, Path(argv[argv.index("-C") + 1]).read_text()
    return None


def test_radvd_killed_is_restarted_with_its_configuration(seed: Seed, dhcp6: dict[str, dict[str, Any]]) -> None:
    """A router's radvd is watched like a dnsmasq (pidfd): killed, it is back well before the periodic resync."""
    old, _ = wait_until(lambda: _radvd(seed), 10, "the router's radvd")
    os.kill(old, signal.SIGKILL)
    started = time.monotonic()
    new, text = wait_until(lambda: (found := _radvd(seed)) and found[0] != old and found, 10, "radvd restarted")
    assert time.monotonic() - started < 5
    assert f"prefix {SLAAC_CIDR}" in text and "AdvManagedFlag on;" in text  # stateful subnet added above


def test_diagnose_understands_an_ipv6_instance_address(seed: Seed, dual: dict[str, str]) -> None:
    """``floatnet diagnose <vm1's IPv6 address>``: the routed path (no floating IP) all ok; with the router's
    ``::/0`` route removed while the agent is frozen, that hop is the first failure."""
    f, address = seed.fabric, dual["vm1_ip6"]
    wait_until(lambda: diagnose(f, address)[0] == 0, 20, "diagnose of vm1's IPv6 address all ok")
    code, doc = diagnose(f, address)
    checks = {c["name"]: c for c in doc["checks"]}
    assert "not NATed" in checks["api.routed"]["reason"] and "router.advertisements" in checks
    assert checks["router.default_route_ipv6"]["reason"] == f"::/0 via {UPSTREAM_GATEWAY6}"
    thaw = freeze(seed)
    try:
        in_ns(seed.router_ns, "ip", "-6", "route", "del", "default", check=True)
        assert broken_hop(f, address)["name"] == "router.default_route_ipv6"
    finally:
        thaw()
    wait_until(lambda: diagnose(f, address)[0] == 0, 20, "the agent repairing ::/0")


def test_diagnose_judges_an_ipv6_address_security_groups(seed: Seed, dual: dict[str, str]) -> None:
    """As for a floating IP: without ``--protocol`` the port's groups summarised (from the upstream's IPv6
    address), its installed filter found and the port ACTIVE; ``--protocol tcp --port 80``, which no IPv6 rule
    admits, is the first broken hop with the IPv6 rule that would; ``--protocol icmp`` (ICMPv6) once admitted:
    the rule and the installed filter, walked with an ICMPv6 echo, both pass."""
    f, address = seed.fabric, dual["vm1_ip6"]
    wait_until(lambda: diagnose(f, address)[0] == 0, 20, "diagnose of vm1's IPv6 address all ok")
    doc = diagnose(f, address)[1]
    assert f"from {UPSTREAM_GATEWAY6} they admit" in check_of(doc, "security.groups")["reason"]
    assert all(check_of(doc, name)["status"] == "ok" for name in ("security.filter", "api.port_active"))
    web = diagnose_query(f, address, "--protocol", "tcp", "--port", "80")
    assert web["first_failure"] == "security.groups"
    assert "--ethertype IPv6 --protocol tcp --port-range-min 80" in check_of(web, "security.groups")["fix"]
    _admit_icmpv6(seed)
    ping = wait_until(lambda: (d := diagnose_query(f, address, "--protocol", "icmp"))["ok"] and d, 20, "ICMPv6 ok")
    assert "ipv6-icmp" in check_of(ping, "security.groups")["reason"]
    assert "admits ipv6-icmp type 128" in check_of(ping, "security.filter")["reason"]


def test_instance_names_resolve_to_their_ipv6_addresses(seed: Seed, dual: dict[str, str]) -> None:
    """The network's dnsmasq answers an instance's name with its IPv6 address too (AAAA), however the address
    was formed (SLAAC here: the server records the EUI-64 address)."""
    f, vm1, vm2 = seed.fabric, seed.vms["vm1"], seed.vms["vm2"]
    f.api("PUT", f"/ports/{vm2.port_id}", json={"port": {"dns_name": "web6"}})
    vm2_ip6 = eui64(SLAAC_CIDR, vm2.mac)

    def answered() -> bool:
        out = in_ns(vm1.ns, "getent", "ahostsv6", "web6.openstacklocal").stdout
        return vm2_ip6 in out.split()

    wait_until(answered, 20, "web6.openstacklocal resolved to vm2's IPv6 address")
