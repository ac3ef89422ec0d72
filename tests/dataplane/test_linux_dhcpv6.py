"""DHCPv6 from floatnet's dnsmasq by traffic (the lab's DHCPv6 probe asks as a client would): a stateful subnet
offers the port's address with DNS servers and domain; a stateless one answers options only; a SLAAC subnet
gets no DHCPv6 service at all (Neutron's dnsmasq driver's three cases)."""

from __future__ import annotations

import json
import time

import pytest

from floatnet.lab import dhcp6
from floatnet.linux import links
from floatnet.linux.dnsmasq import DhcpHost, DhcpSpec, DhcpSubnet, Dnsmasq
from tests.dataplane.conftest import sh

MAC = "fa:16:3e:11:22:44"
TAP = "tap0123456789b"


def link_local_ready(ns: str, dev: str) -> bool:
    info = json.loads(sh(["ip", "-j", "-6", "addr", "show", "dev", dev, "scope", "link"], netns=ns) or "[]")
    return any(not a.get("tentative") for i in info for a in i.get("addr_info", []))


@pytest.fixture
def dhcp6_env(make_ns, tmp_path):
    client, qdhcp = make_ns("c6"), make_ns("q6")
    links.ensure_veth(TAP, "x", client, peer_name="eth0", mac=MAC, netns=qdhcp)
    links.sync_addresses(qdhcp, TAP, {"2001:db8:a::2/64", "2001:db8:b::2/64", "2001:db8:c::2/64"})
    deadline = time.monotonic() + 10
    while not (link_local_ready(client, "eth0") and link_local_ready(qdhcp, TAP)):
        assert time.monotonic() < deadline, "link-local addresses never left DAD"
        time.sleep(0.1)
    dm = Dnsmasq(tmp_path / "dhcp")
    try:
        yield client, qdhcp, dm
    finally:
        dm.stop("net6")


def spec(qdhcp: str) -> DhcpSpec:
    subnets = (
        DhcpSubnet("stateful", "2001:db8:a::/64", "2001:db8:a::1", ipv6_ra_mode="dhcpv6-stateful",
                   ipv6_address_mode="dhcpv6-stateful"),
        DhcpSubnet("stateless", "2001:db8:b::/64", "2001:db8:b::1", ipv6_ra_mode="dhcpv6-stateless",
                   ipv6_address_mode="dhcpv6-stateless"),
        DhcpSubnet("slaac", "2001:db8:c::/64", "2001:db8:c::1", ipv6_ra_mode="slaac", ipv6_address_mode="slaac"),
    )  # fmt: skip
    hosts = (
        DhcpHost(MAC, "2001:db8:a::55", "vm6"),
        DhcpHost(MAC, "2001:db8:b:0:f816:3eff:fe11:2244", "vm6"),
        DhcpHost(MAC, "2001:db8:c:0:f816:3eff:fe11:2244", "vm6"),
    )
    return DhcpSpec(network_id="net6", netns=qdhcp, interface=TAP, subnets=subnets, hosts=hosts,
                    dns_servers=("2001:db8:a::2",), domain="fn.test")  # fmt: skip


def test_dhcpv6_modes_as_neutron(dhcp6_env):
    client, qdhcp, dm = dhcp6_env
    wanted = spec(qdhcp)
    argv = dm.argv(wanted)
    assert "--dhcp-range=set:subnet-stateful,2001:db8:a::,static,64,86400s" in argv
    assert "--dhcp-range=set:subnet-stateless,2001:db8:b::,static,64,86400s" in argv
    assert not any("2001:db8:c::" in a for a in argv)  # SLAAC: router advertisements only
    assert dm.ensure(wanted) == "started"
    d = dm.state_dir / "net6"
    assert (d / "host").read_text() == f"{MAC},[2001:db8:a::55],vm6\n"  # stateless/SLAAC: hosts form theirs
    names = (d / "addn_hosts").read_text()
    assert "2001:db8:c:0:f816:3eff:fe11:2244\tvm6.fn.test vm6" in names  # every address resolves
    assert "option6:domain-search,fn.test\n" in (d / "opts").read_text().splitlines(keepends=True)

    offer = dhcp6.ask(client, "eth0", MAC, stateful=True)
    assert offer is not None and offer.addresses == ("2001:db8:a::55",)
    assert offer.domains == ("fn.test",) and offer.dns_servers
    info = dhcp6.ask(client, "eth0", MAC, stateful=False)
    assert info is not None and not info.addresses and info.domains == ("fn.test",)
    assert set(info.dns_servers) <= {"2001:db8:a::2", "2001:db8:b::2"} and info.dns_servers
