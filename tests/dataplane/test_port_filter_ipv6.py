"""IPv6 through a port's filter (floatnet.linux.port_filter), judged at the receiver (issue 19).

The world of :mod:`tests.dataplane.test_port_filter`: ``a`` filtered behind the hybrid plug, ``b`` an unfiltered
neighbour on the same bridge. ``a`` sends frames built byte by byte (:mod:`tests.dataplane.frames6`) and a packet
socket on ``b``'s device says which arrived. ``a``'s groups admit all IPv6 egress (as Neutron's default group
does), so only the anti-spoofing rules stand between ``a`` and ``b``: what Neutron refuses an instance whatever
its groups — router advertisements, redirects, DHCPv6 server replies, sources not its own — must not arrive,
from its link-local address or from ``::``; its neighbour discovery (and DAD and MLD from ``::``) must.
Each refusal is checked to be the filter's: with port security off the same frames arrive.
"""

from __future__ import annotations

import json
import time

from floatnet.linux import port_filter
from floatnet.linux import sg_render as r
from tests.dataplane import frames6 as f6
from tests.dataplane.conftest import sh
from tests.dataplane.test_port_filter import A_IP, A_MAC, B_MAC, World, clean, world  # noqa: F401

A_IP6, SPOOFED6 = "2001:db8:66::5", "2001:db8:66::77"
A_LLA, B_LLA = r.link_local(A_MAC), r.link_local(B_MAC)
EGRESS_ALL = (r.Rule("egress"), r.Rule("egress", ethertype="IPv6"))


def _filter(w: World) -> None:
    w.filter(*EGRESS_ALL, fixed_ips=(A_IP, A_IP6))


def _delivered(w: World, frames: list[f6.Frame]) -> set[str]:
    """Which of ``frames``, sent from ``a``'s eth0, reached ``b``'s."""
    sock = f6.capture(w.b, "eth0")
    try:
        f6.send(w.a, "eth0", frames)
        return f6.arrived(sock, frames)
    finally:
        sock.close()


def _from_a(what: str, src: str, dst: str, proto: int, l4: bytes, unicast: bool = False) -> f6.Frame:
    return f6.frame(what, A_MAC, src, dst, proto, l4, B_MAC if unicast else None)


def _rogue() -> list[f6.Frame]:
    """What a rogue router or DHCPv6 server on ``a`` sends (the RA's fields all zero — router lifetime 0 —, so
    that ``b``, which gets them once port security is off, takes no default route from it)."""
    ra = f6.icmpv6(f6.RA, bytes(12))
    return [
        _from_a("RA", A_LLA, f6.ALL_NODES, f6.ICMPV6, ra),
        _from_a("RA from ::", "::", f6.ALL_NODES, f6.ICMPV6, ra),
        _from_a("redirect", A_LLA, B_LLA, f6.ICMPV6, f6.redirect(A_LLA, "2001:db8:77::1"), unicast=True),
        _from_a("DHCPv6 reply", A_LLA, B_LLA, f6.UDP, f6.dhcp6_reply(), unicast=True),
        _from_a("DHCPv6 reply from its global address", A_IP6, B_LLA, f6.UDP, f6.dhcp6_reply(), unicast=True),
        _from_a("DHCPv6 reply from ::", "::", B_LLA, f6.UDP, f6.dhcp6_reply(), unicast=True),
    ]


def test_router_advertisements_redirects_and_dhcpv6_replies_from_an_instance_dropped(clean: World) -> None:  # noqa: F811
    _filter(clean)
    assert _delivered(clean, _rogue()) == set()
    port_filter.delete_port(clean.ovs.netns, clean.pid)
    frames = _rogue()
    assert _delivered(clean, frames) == {frame.what for frame in frames}  # the probe itself works


def test_ipv6_source_not_the_ports_own_dropped(clean: World) -> None:  # noqa: F811
    """UDP from the port's own global and link-local addresses arrives; from another address, or from ``::``
    (only neighbour solicitations and MLD reports may come from there), it does not — nor an ICMPv6 echo."""
    _filter(clean)

    def datagrams() -> list[f6.Frame]:
        return [
            _from_a(f"UDP from {src}", src, B_LLA, f6.UDP, f6.udp(5000, 5001, b""), unicast=True)
            for src in (A_IP6, A_LLA, SPOOFED6, "::")
        ] + [_from_a("echo from ::", "::", B_LLA, f6.ICMPV6, f6.icmpv6(128, bytes(4)), unicast=True)]

    assert _delivered(clean, datagrams()) == {f"UDP from {A_IP6}", f"UDP from {A_LLA}"}
    port_filter.delete_port(clean.ovs.netns, clean.pid)
    assert len(_delivered(clean, datagrams())) == 5


def test_dhcpv6_client_traffic_passes_only_the_server_port_is_refused(clean: World) -> None:  # noqa: F811
    _filter(clean)
    frames = [
        _from_a("Solicit", A_LLA, f6.ALL_DHCP, f6.UDP, f6.udp(546, 547, bytes([1]) + bytes(3))),
        _from_a("UDP to the client port", A_LLA, B_LLA, f6.UDP, f6.udp(5000, 546, b""), unicast=True),
    ]
    assert _delivered(clean, frames) == {"Solicit", "UDP to the client port"}


def _link_local_ready(ns: str) -> bool:
    info = json.loads(sh(["ip", "-j", "-6", "addr", "show", "dev", "eth0", "scope", "link"], netns=ns))
    return any(not a.get("tentative") for i in info for a in i.get("addr_info", []))


def test_neighbour_discovery_dad_and_mld_pass_the_filter(clean: World) -> None:  # noqa: F811
    """Crafted: a neighbour solicitation and advertisement from the link-local address, DAD's solicitation
    and an MLDv2 report from ``::`` all arrive. Real: ``a`` pings ``b``'s link-local address, which needs
    both neighbour discovery directions through the filter, and ``a`` then knows ``b``'s MAC."""
    _filter(clean)
    frames = [
        _from_a("NS", A_LLA, f6.solicited_node(B_LLA), f6.ICMPV6, f6.neighbour_solicit(B_LLA)),
        _from_a("NA", A_LLA, B_LLA, f6.ICMPV6, f6.neighbour_advert(A_LLA), unicast=True),
        _from_a("DAD NS from ::", "::", f6.solicited_node(A_IP6), f6.ICMPV6, f6.neighbour_solicit(A_IP6)),
        _from_a("MLD report from ::", "::", "ff02::16", f6.ICMPV6, f6.mld2_report()),
    ]
    assert _delivered(clean, frames) == {frame.what for frame in frames}
    deadline = time.monotonic() + 10
    while not (_link_local_ready(clean.a) and _link_local_ready(clean.b)) and time.monotonic() < deadline:
        time.sleep(0.1)
    sh(["ip", "-6", "neigh", "flush", "dev", "eth0"], netns=clean.a)
    sh(["ping", "-6", "-c", "1", "-W", "3", f"{B_LLA}%eth0"], netns=clean.a)
    neighbours = json.loads(sh(["ip", "-j", "-6", "neigh", "show", "dev", "eth0"], netns=clean.a))
    assert {"dst": B_LLA, "lladdr": B_MAC} in [{k: n.get(k) for k in ("dst", "lladdr")} for n in neighbours]
