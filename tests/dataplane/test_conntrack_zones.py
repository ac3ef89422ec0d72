"""A port's conntrack zone is read by a kernel-filtered dump (floatnet.linux.conntrack.zone_entries): cutting one
port's or one rule's flows costs that port's entries, never the node's whole table. Entries are made with the
``conntrack`` tool in a scratch namespace."""

from __future__ import annotations

import socket
from collections.abc import Callable

from pyroute2.conntrack import Conntrack

from floatnet.linux import conntrack, netns, port_filter
from floatnet.linux import sg_render as r
from tests.dataplane.conftest import sh


def entries(ns: str, zone: int, count: int) -> None:
    for i in range(count):
        sh(["conntrack", "-I", "-p", "udp", "-s", f"10.7.{zone}.{i + 1}", "-d", "10.8.0.1", "--sport", "1000",
            "--dport", "53", "-t", "300", "-w", str(zone)], netns=ns)  # fmt: skip


def test_zone_entries_dump_only_the_asked_zones(make_ns: Callable[[str], str]) -> None:
    ns = make_ns("ct")
    entries(ns, 5, 2)
    entries(ns, 6, 1)
    entries(ns, 7, 40)

    def zones(asked: set[int]) -> list[int]:
        with Conntrack(nfgen_family=socket.AF_INET) as ct:
            return sorted(e.zone for e in conntrack.zone_entries(ct, asked))

    assert netns.run_in(ns, zones, {5, 6}) == [5, 5, 6]
    assert netns.run_in(ns, zones, {9}) == []


def test_cuts_touch_only_their_zones(make_ns: Callable[[str], str]) -> None:
    ns = make_ns("ct")
    entries(ns, 5, 2)
    entries(ns, 6, 3)
    assert port_filter.cut_zone(ns, 5) == 2
    assert (port_filter.count_zone(ns, 5), port_filter.count_zone(ns, 6)) == (0, 3)
    port = r.PortFilter("p6", 6, "02:00:00:00:00:06", ("10.8.0.1",))
    dns = r.Rule("ingress", protocol="udp", port_range_min=53, port_range_max=53)
    other = r.Rule("ingress", protocol="tcp", port_range_min=22, port_range_max=22)
    assert port_filter.cut_rules(ns, [other], [port]) == 0
    assert port_filter.cut_rules(ns, [other, dns], [port]) == 3
