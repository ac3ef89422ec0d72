"""Port forwardings in a router's NAT table (floatnet.linux.nat + nat_pf + conntrack), on the mini topology of
tests/dataplane/test_linux_nat.py, checked with real traffic: two instances share floating IP 203.0.113.102 by
port (vm1 answers "vm1" on 8080 and echoes on 8081; vm2 the same), a range to one port (N-1) and a range to a
range (N-N), hairpin from an instance, and removing one forwarding cuts only that forwarding's sessions.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from floatnet.linux import conntrack, links, nat
from floatnet.linux.errors import KernelError
from floatnet.linux.nat_pf import elements
from tests.dataplane.test_linux_nat import FIP1, FIP2, QG, VMS, Topology, echo, open_session

SSH_VM1 = elements(FIP2, "tcp", (2222, 2222), VMS["vm1"], (8080, 8080))
SSH_VM2 = elements(FIP2, "tcp", (2223, 2223), VMS["vm2"], (8080, 8080))
ECHO_VM1 = elements(FIP2, "tcp", (2224, 2224), VMS["vm1"], (8081, 8081))
ECHO_VM2 = elements(FIP2, "tcp", (2225, 2225), VMS["vm2"], (8081, 8081))


@pytest.fixture(scope="module")
def topo(run_prefix: str) -> Iterator[Topology]:
    t = Topology(f"{run_prefix}f")
    try:
        t.build()
        links.add_address(t.rtr, QG, f"{FIP2}/32")
        forwardings = frozenset(SSH_VM1 + SSH_VM2 + ECHO_VM1 + ECHO_VM2)
        nat.replace(t.rtr, nat.RouterNat("203.0.113.100", QG, True, ["10.0.0.1/24"], {FIP1: VMS["vm1"]}, forwardings))
        yield t
    finally:
        t.teardown()


def test_two_instances_share_one_floating_ip_by_port(topo: Topology) -> None:
    assert topo.ask(topo.up, FIP2, 2222) == "vm1"
    assert topo.ask(topo.up, FIP2, 2223) == "vm2"
    assert topo.ask(topo.up, FIP2, 2299) == ""  # no forwarding, nothing answers
    assert topo.ask(topo.up, FIP1, 8080) == "vm1"  # the plain floating IP next to it still works


def test_observe_reads_forwardings_back(topo: Topology) -> None:
    seen = nat.observe(topo.rtr)
    assert seen is not None
    assert seen.forwardings == frozenset(SSH_VM1 + SSH_VM2 + ECHO_VM1 + ECHO_VM2)


def test_ranges_n_to_1_and_n_to_n_one_element_per_port(topo: Topology) -> None:
    many_to_one = elements(FIP2, "tcp", (3000, 3009), VMS["vm2"], (8080, 8080))
    many_to_many = elements(FIP2, "tcp", (4080, 4081), VMS["vm1"], (8080, 8081))
    assert len(many_to_one) == 10 and {e.internal_port for e in many_to_one} == {8080}
    assert [(e.ext_lo, e.internal_port) for e in sorted(many_to_many)] == [(4080, 8080), (4081, 8081)]
    nat.add_forwarding(topo.rtr, many_to_one + many_to_many)
    try:
        assert topo.ask(topo.up, FIP2, 3005) == "vm2"
        assert topo.ask(topo.up, FIP2, 4080) == "vm1"
        session = open_session(topo.up, FIP2, 4081)  # 4081 -> 8081, the echo: the offset is kept
        session.close()
    finally:
        nat.del_forwarding(topo.rtr, many_to_one + many_to_many)
    assert topo.ask(topo.up, FIP2, 3005) == ""


def test_hairpin_from_an_instance(topo: Topology) -> None:
    assert topo.ask(topo.vm["vm1"], FIP2, 2223) == "vm2"
    assert topo.ask(topo.vm["vm2"], FIP2, 2223) == "vm2"  # its own forwarding


def test_deleting_one_forwarding_flushes_only_its_sessions(topo: Topology) -> None:
    mine, other = open_session(topo.up, FIP2, 2224), open_session(topo.up, FIP2, 2225)
    try:
        nat.del_forwarding(topo.rtr, ECHO_VM1)
        assert echo(mine)  # the element alone does not end a translated session
        assert conntrack.flush_socket(topo.rtr, FIP2, "tcp", 2224, 2224) >= 1
        assert not echo(mine)
        assert echo(other)  # the floating IP's other forwarding keeps its session
    finally:
        mine.close()
        other.close()
        nat.add_forwarding(topo.rtr, ECHO_VM1)
    assert topo.ask(topo.up, FIP2, 2222) == "vm1"


def test_a_clashing_element_is_refused_atomically(topo: Topology) -> None:
    clash = elements(FIP2, "tcp", (2220, 2223), VMS["vm2"], (8080, 8080))  # 2222 maps to vm1 already
    with pytest.raises(KernelError):
        nat.add_forwarding(topo.rtr, clash)
    assert topo.ask(topo.up, FIP2, 2222) == "vm1" and topo.ask(topo.up, FIP2, 2220) == ""
