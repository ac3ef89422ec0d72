"""floatnet.linux.nat (+ conntrack, links) on a mini topology of namespaces, checked with nft, conntrack and
traffic.

    upstream 203.0.113.1/24 --veth-- router: qg 203.0.113.100/24 + floating IP /32s
                                     router: qr 10.0.0.1/24 --veth-- switch (Linux bridge) --veth-- vm1
                                     10.0.0.5
                                                                                           --veth-- vm2
                                                                                           10.0.0.6
vm1 has floating IP 203.0.113.101; vm2 has none. Servers: every vm answers its own name on TCP 8080 and echoes
on 8081; upstream tells a client its source address on 9000 and echoes on 9001.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from floatnet.linux import arp, conntrack, links, nat, netns
from floatnet.linux.errors import KernelError
from tests.dataplane.conftest import kill_ns_processes, sh

GW_IP, FIP1, FIP2 = "203.0.113.100", "203.0.113.101", "203.0.113.102"
QG, QR = "qg-0123456789a", "qr-0123456789a"
VMS = {"vm1": "10.0.0.5", "vm2": "10.0.0.6"}


class Topology:
    def __init__(self, prefix: str) -> None:
        self.up, self.rtr, self.sw = f"{prefix}-up", f"{prefix}-rtr", f"{prefix}-sw"
        self.vm = {name: f"{prefix}-{name}" for name in VMS}
        self.procs: list[subprocess.Popen[bytes]] = []

    def namespaces(self) -> list[str]:
        return [self.up, self.rtr, self.sw, *self.vm.values()]

    def nat(self, fips: dict[str, str], enable_snat: bool = True) -> nat.RouterNat:
        return nat.RouterNat(GW_IP, QG, enable_snat, ["10.0.0.1/24"], fips)

    def build(self) -> None:
        for ns in self.namespaces():
            netns.ensure(ns)
        links.ensure_veth("eth0", "x", self.rtr, peer_name=QG, netns=self.up)
        links.add_address(self.up, "eth0", "203.0.113.1/24")
        links.ensure_veth("p0", "x", self.rtr, peer_name=QR, netns=self.sw)
        sh(["ip", "link", "add", "br0", "type", "bridge"], netns=self.sw)
        sh(["ip", "link", "set", "br0", "up"], netns=self.sw)
        sh(["ip", "link", "set", "p0", "master", "br0"], netns=self.sw)
        for i, (name, ip) in enumerate(VMS.items(), start=1):
            links.ensure_veth(f"p{i}", "x", self.vm[name], peer_name="eth0", netns=self.sw)
            sh(["ip", "link", "set", f"p{i}", "master", "br0"], netns=self.sw)
            links.add_address(self.vm[name], "eth0", f"{ip}/24")
            links.sync_routes(self.vm[name], "10.0.0.1")
            self.serve(self.vm[name], 8080, f"EXEC:echo {name}")
            self.serve(self.vm[name], 8081, "EXEC:cat")
        links.sync_addresses(self.rtr, QG, {f"{GW_IP}/24", f"{FIP1}/32"})
        links.add_address(self.rtr, QR, "10.0.0.1/24")
        links.sync_routes(self.rtr, "203.0.113.1")
        links.set_forwarding(self.rtr, True)
        self.serve(self.up, 9000, "SYSTEM:echo $SOCAT_PEERADDR")
        self.serve(self.up, 9001, "EXEC:cat")
        nat.replace(self.rtr, self.nat({FIP1: VMS["vm1"]}))

    def serve(self, ns: str, port: int, action: str) -> None:
        argv = ["ip", "netns", "exec", ns, "socat", f"TCP-LISTEN:{port},fork,reuseaddr", action]
        self.procs.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + 5
        while f":{port} " not in sh(["ss", "-ltnH"], netns=ns):
            assert time.monotonic() < deadline, f"socat on {ns}:{port} did not start"
            time.sleep(0.05)

    def ask(self, ns: str, ip: str, port: int) -> str:
        """One TCP request with socat from ``ns``; the server's answer, or '' if none came."""
        argv = ["socat", "-T", "2", "-", f"TCP:{ip}:{port},connect-timeout=2"]
        proc = subprocess.run(netns.exec_argv(ns, argv), input="", capture_output=True, text=True, timeout=10)
        return proc.stdout.strip()

    def teardown(self) -> None:
        for proc in self.procs:
            proc.kill()
            proc.wait()
        for ns in self.namespaces():
            kill_ns_processes(ns)
            netns.delete(ns)


@pytest.fixture(scope="module")
def topo(run_prefix: str) -> Iterator[Topology]:
    t = Topology(f"{run_prefix}n")
    try:
        t.build()
        yield t
    finally:
        t.teardown()


def handles(ns: str) -> dict[str, int]:
    """Handles of the table, chains, sets and rules, from the nft tool (changes if anything is re-created)."""
    out = json.loads(sh(["nft", "-j", "-a", "list", "table", "ip", "floatnet"], netns=ns))["nftables"]
    found = {}
    for obj in out:
        for kind in ("table", "chain", "map", "set", "rule"):
            if kind in obj:
                o = obj[kind]
                key = f"{kind}:{o.get('chain', '')}:{o.get('name', '')}:{o.get('comment', '')}"
                found[key] = o["handle"]
    return found


def map_elements(ns: str, name: str) -> dict[str, str]:
    out = json.loads(sh(["nft", "-j", "list", "map", "ip", "floatnet", name], netns=ns))["nftables"]
    return {k: v for obj in out if "map" in obj for k, v in obj["map"].get("elem", [])}


def test_table_layout_is_the_contract(topo):
    text = sh(["nft", "list", "ruleset"], netns=topo.rtr)
    assert "dnat to ip daddr map @fip_dnat" in text
    assert f'oifname "{QG}" snat to ip saddr map @fip_snat' in text
    assert f"snat to {GW_IP}" in text and "ct status & dnat == dnat" in text
    assert "ct status != dnat" not in text
    assert map_elements(topo.rtr, "fip_dnat") == {FIP1: "10.0.0.5"}
    assert map_elements(topo.rtr, "fip_snat") == {"10.0.0.5": FIP1}
    assert nat.observe(topo.rtr) == topo.nat({FIP1: "10.0.0.5"})
    assert nat.listing(topo.rtr).startswith("table ip floatnet")


def test_inbound_to_floating_ip_reaches_the_instance(topo):
    sh(["ping", "-c", "1", "-W", "2", FIP1], netns=topo.up)
    assert topo.ask(topo.up, FIP1, 8080) == "vm1"


def test_outbound_source_is_floating_ip_or_gateway(topo):
    assert topo.ask(topo.vm["vm1"], "203.0.113.1", 9000) == FIP1
    assert topo.ask(topo.vm["vm2"], "203.0.113.1", 9000) == GW_IP


def test_hairpin_to_another_instances_and_own_floating_ip(topo):
    assert topo.ask(topo.vm["vm2"], FIP1, 8080) == "vm1"
    assert topo.ask(topo.vm["vm1"], FIP1, 8080) == "vm1"
    sh(["ping", "-c", "1", "-W", "2", FIP1], netns=topo.vm["vm2"])


def test_add_fip_adds_elements_without_rebuild(topo):
    before = handles(topo.rtr)
    try:
        links.add_address(topo.rtr, QG, f"{FIP2}/32")
        nat.add_fip(topo.rtr, FIP2, "10.0.0.6")
        nat.add_fip(topo.rtr, FIP2, "10.0.0.6")  # idempotent
        assert handles(topo.rtr) == before
        assert map_elements(topo.rtr, "fip_dnat") == {FIP1: "10.0.0.5", FIP2: "10.0.0.6"}
        assert topo.ask(topo.up, FIP2, 8080) == "vm2"
        assert topo.ask(topo.vm["vm2"], "203.0.113.1", 9000) == FIP2
        assert nat.observe(topo.rtr) == topo.nat({FIP1: "10.0.0.5", FIP2: "10.0.0.6"})
    finally:
        nat.del_fip(topo.rtr, FIP2, "10.0.0.6")
        links.del_address(topo.rtr, QG, f"{FIP2}/32")
    assert handles(topo.rtr) == before
    assert map_elements(topo.rtr, "fip_snat") == {"10.0.0.5": FIP1}


def test_replace_rebuilds_the_whole_table_in_one_transaction(topo):
    """``replace`` neither observes nor diffs (the planner does): it always builds the table again, whatever it
    held, atomically — traffic follows the new rules."""
    base = topo.nat({FIP1: "10.0.0.5"})
    before = handles(topo.rtr)
    nat.replace(topo.rtr, base)
    assert handles(topo.rtr) != before and nat.observe(topo.rtr) == base
    no_snat = topo.nat({FIP1: "10.0.0.5"}, enable_snat=False)
    nat.replace(topo.rtr, no_snat)
    assert nat.observe(topo.rtr) == no_snat
    assert topo.ask(topo.vm["vm2"], "203.0.113.1", 9000) == ""  # no SNAT: upstream has no route back
    assert topo.ask(topo.vm["vm1"], "203.0.113.1", 9000) == FIP1
    nat.replace(topo.rtr, base)
    assert topo.ask(topo.vm["vm2"], "203.0.113.1", 9000) == GW_IP


def test_edit_internal_changes_set_elements_only(topo):
    """Internal networks are set elements: deleted and added in one transaction, rules untouched — also when
    the new set collapses with an old element (10.0.0.0/24 + 10.0.1.0/24 = 10.0.0.0/23)."""
    before = handles(topo.rtr)
    with_second = nat.RouterNat(GW_IP, QG, True, ["10.0.0.0/24", "10.0.1.0/24"], {FIP1: "10.0.0.5"})
    try:
        nat.edit_internal(topo.rtr, add=["10.0.0.0/23"], remove=["10.0.0.0/24"])
        assert nat.observe(topo.rtr) == with_second and handles(topo.rtr) == before
        assert topo.ask(topo.vm["vm2"], FIP1, 8080) == "vm1"  # hairpin still matches @internal
        with pytest.raises(KernelError):  # not there: the whole transaction is refused, nothing changes
            nat.edit_internal(topo.rtr, add=["10.0.9.0/24"], remove=["10.0.8.0/24"])
        assert nat.observe(topo.rtr) == with_second
    finally:
        nat.edit_internal(topo.rtr, add=["10.0.0.0/24"], remove=["10.0.0.0/23"])
    assert nat.observe(topo.rtr) == topo.nat({FIP1: "10.0.0.5"}) and handles(topo.rtr) == before


def open_session(ns: str, ip: str, port: int) -> socket.socket:
    """A TCP connection created inside ``ns`` (a socket keeps its namespace), checked to echo."""
    sock = netns.run_in(ns, socket.create_connection, (ip, port), 3)
    sock.settimeout(1.5)
    assert echo(sock)
    return sock


def echo(sock: socket.socket) -> bool:
    try:
        sock.sendall(b"hello\n")
        return sock.recv(100) == b"hello\n"
    except OSError:
        return False


def test_del_fip_and_conntrack_flush_cut_established_sessions(topo):
    inbound = open_session(topo.up, FIP1, 8081)
    outbound = open_session(topo.vm["vm1"], "203.0.113.1", 9001)
    try:
        assert conntrack.count_address(topo.rtr, FIP1) >= 2
        nat.del_fip(topo.rtr, FIP1, "10.0.0.5")
        links.del_address(topo.rtr, QG, f"{FIP1}/32")
        assert echo(inbound) and echo(outbound)  # OSSN-0020: NAT removal alone leaves sessions alive
        assert conntrack.flush_address(topo.rtr, FIP1) >= 2
        assert conntrack.count_address(topo.rtr, FIP1) == 0
        assert not echo(inbound)
        assert not echo(outbound)
        assert topo.ask(topo.up, FIP1, 8080) == ""
    finally:
        inbound.close()
        outbound.close()
        links.add_address(topo.rtr, QG, f"{FIP1}/32")
        nat.add_fip(topo.rtr, FIP1, "10.0.0.5")
    assert topo.ask(topo.up, FIP1, 8080) == "vm1"


def test_moving_a_floating_ip(topo):
    """Moving is the old pair deleted, then the new one added (the caller names both: the planner)."""
    try:
        nat.del_fip(topo.rtr, FIP1, "10.0.0.5")
        nat.add_fip(topo.rtr, FIP1, "10.0.0.6")
        assert map_elements(topo.rtr, "fip_snat") == {"10.0.0.6": FIP1}
        conntrack.flush_address(topo.rtr, FIP1)
        assert topo.ask(topo.up, FIP1, 8080) == "vm2"
    finally:
        nat.replace(topo.rtr, topo.nat({FIP1: "10.0.0.5"}))
        conntrack.flush_address(topo.rtr, FIP1)
    assert map_elements(topo.rtr, "fip_dnat") == {FIP1: "10.0.0.5"}
    assert topo.ask(topo.up, FIP1, 8080) == "vm1"


def test_gratuitous_arp_first_at_once_then_repeated_in_the_background(topo, monkeypatch):
    """The first request + reply leave before ``announce`` returns, the two repeats follow from the sender
    thread; announcing again on the same device enters no namespace (no thread per announcement)."""
    argv = ["tcpdump", "-l", "-nn", "-e", "-c", "6", "-i", "eth0", f"arp and host {FIP1}"]
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    cap = subprocess.Popen(netns.exec_argv(topo.up, argv), **pipes)  # type: ignore[call-overload]
    try:
        deadline = time.monotonic() + 5
        while "listening" not in (cap.stderr.readline() if cap.stderr else ""):
            assert time.monotonic() < deadline
        started = time.monotonic()
        arp.announce(topo.rtr, QG, [FIP1], count=3, interval=0.1)
        assert time.monotonic() - started < 0.05  # returns at once
        out, _ = cap.communicate(timeout=5)
    finally:
        cap.kill()
    qg_mac = links.get_link(topo.rtr, QG).mac
    lines = [line for line in out.splitlines() if FIP1 in line]
    assert len(lines) == 6 and all(qg_mac in line for line in lines)
    assert any("Request who-has" in line for line in lines) and any("Reply" in line for line in lines)
    entered: list[str | None] = []
    run_in = netns.run_in
    monkeypatch.setattr(netns, "run_in", lambda name, *rest: entered.append(name) or run_in(name, *rest))
    for _ in range(5):
        arp.announce(topo.rtr, QG, [FIP1], count=1)
    assert entered == []
    # a missing device is logged, never raised
    arp.announce(topo.rtr, "nosuchdev", [FIP1])
    arp.announce_later(topo.rtr, "nosuchdev", [FIP1])


def behind_the_back(ns: str, fixed: str) -> None:
    """Re-point FIP1 at ``fixed`` with the nft tool: the caller's idea of the pair is now wrong."""
    script = (
        "flush map ip floatnet fip_dnat\nflush map ip floatnet fip_snat\n"
        f"add element ip floatnet fip_dnat {{ {FIP1} : {fixed} }}\n"
        f"add element ip floatnet fip_snat {{ {fixed} : {FIP1} }}\n"
    )
    subprocess.run(netns.exec_argv(ns, ["nft", "-f", "-"]), input=script, text=True, check=True)


def test_element_ops_are_exact_and_keep_no_memory(topo):
    """No hint cache and no lookup: a pair the kernel does not hold (changed behind the caller's back) fails
    the transaction as a whole and changes nothing; the caller re-observes and names the right pair."""
    try:
        behind_the_back(topo.rtr, "10.0.0.6")
        with pytest.raises(KernelError):
            nat.add_fip(topo.rtr, FIP1, "10.0.0.5")  # FIP1 is mapped elsewhere
        with pytest.raises(KernelError):
            nat.del_fip(topo.rtr, FIP1, "10.0.0.5")  # not this pair
        assert map_elements(topo.rtr, "fip_dnat") == {FIP1: "10.0.0.6"}
        assert map_elements(topo.rtr, "fip_snat") == {"10.0.0.6": FIP1}
        held = nat.observe(topo.rtr)
        assert held is not None and held.fips == {FIP1: "10.0.0.6"}
        nat.del_fip(topo.rtr, FIP1, held.fips[FIP1])
        assert map_elements(topo.rtr, "fip_dnat") == {} and map_elements(topo.rtr, "fip_snat") == {}
    finally:
        nat.replace(topo.rtr, topo.nat({FIP1: "10.0.0.5"}))
        conntrack.flush_address(topo.rtr, FIP1)
    assert nat.observe(topo.rtr) == topo.nat({FIP1: "10.0.0.5"})
