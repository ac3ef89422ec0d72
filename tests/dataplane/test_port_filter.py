"""Security groups in the kernel (floatnet.linux.port_filter), judged at the receiver.

One private OVS (netdev) with two instances: ``a`` behind the hybrid plug (tap -- qbr -- qvb/qvo -- OVS) and
filtered, ``b`` plugged straight into OVS without a filter (a neighbour with port security off). Whatever must
not arrive is checked where it would arrive: b's (or a's) sockets and neighbour table, never nft counters.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from floatnet.linux import links, netns, port_filter
from floatnet.linux import sg_render as r
from tests.dataplane.conftest import OvsEnv, dev_name, sh

A_IP, B_IP, PAIR_IP, A_MAC, B_MAC = "10.66.0.5", "10.66.0.6", "10.66.0.50", "02:66:00:00:00:05", "02:66:00:00:00:06"
BR = "br-sgt"
LISTEN = """
import socket, sys, threading
def serve(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(64)
    while True:
        c, _ = s.accept(); threading.Thread(target=echo, args=(c,), daemon=True).start()
def echo(c):
    try:
        while (d := c.recv(100)): c.sendall(d)
    except OSError: pass
for p in sys.argv[1:]: threading.Thread(target=serve, args=(int(p),), daemon=True).start()
threading.Event().wait()
"""
CONNECT = """
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close(); print("open")
except OSError: print("closed")
"""
UDP_RECV = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.settimeout(float(sys.argv[2])); print("ready", flush=True)
try:
    data, src = s.recvfrom(100); print("got", src[0])
except OSError: print("nothing")
"""
SESSION = """
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1)
c.sendall(b"a"); c.recv(1); print("up", flush=True); sys.stdin.readline()
try:
    c.sendall(b"b"); print("alive" if c.recv(1) else "closed")
except OSError:
    print("cut")
"""
ARP_REQUEST = """
import socket, sys
dev, mac, spa, tpa = sys.argv[1:5]
m = bytes.fromhex(mac.replace(":", ""))
arp = bytes.fromhex("0001080006040001") + m + socket.inet_aton(spa) + b"\\0" * 6 + socket.inet_aton(tpa)
frame = b"\\xff" * 6 + m + b"\\x08\\x06" + arp
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind((dev, 0))
for _ in range(3): s.send(frame)
"""
UDP_SEND = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
for _ in range(3): s.sendto(b"x", (sys.argv[3], int(sys.argv[4])))
"""


@dataclass
class World:
    ovs: OvsEnv
    a: str
    b: str
    pid: str
    procs: list[subprocess.Popen[bytes]]

    def port(self, **kw: object) -> r.PortFilter:
        args: dict[str, object] = {"fixed_ips": (A_IP,), "groups": ("sga",), "tap": dev_name("ta")}
        args.update(kw)
        zone = args.pop("zone", 10)
        return r.PortFilter(self.pid, zone, A_MAC, **args)  # type: ignore[arg-type]

    def filter(self, *rules: r.Rule, **kw: object) -> r.PortFilter:
        port_filter.replace_group(self.ovs.netns, r.GroupRules("sga", rules))
        port = self.port(**kw)
        port_filter.replace_port(self.ovs.netns, port)
        return port


def py(ns: str, script: str, *args: str) -> str:
    return sh([sys.executable, "-c", script, *args], netns=ns).strip()


def udp_arrives(world: World, src_ns: str, src_ip: str, sport: int, dst: str, dport: int, dst_ns: str) -> str:
    """Send UDP from ``src_ip:sport``; return the source the receiver in ``dst_ns`` saw, or ``nothing``."""
    argv = netns.exec_argv(dst_ns, [sys.executable, "-c", UDP_RECV, str(dport), "1.5"])
    recv = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    assert recv.stdout is not None and recv.stdout.readline().strip() == "ready"
    py(src_ns, UDP_SEND, src_ip, str(sport), dst, str(dport))
    out = recv.communicate(timeout=10)[0].strip()
    return out.split()[-1]


def tcp(ns: str, ip: str, port: int) -> str:
    return py(ns, CONNECT, ip, str(port))


@pytest.fixture(scope="module")
def world(ovs: OvsEnv, run_prefix: str) -> Iterator[World]:
    a, b = f"{run_prefix}-sga", f"{run_prefix}-sgb"
    pid = run_prefix + "pfa"
    ta, tb = dev_name("ta"), dev_name("tb")
    for ns in (a, b):
        netns.ensure(ns)
    ovs.api.ensure_bridge(BR)
    links.ensure_veth(ta, "x", a, mac=A_MAC, peer_name="eth0", netns=ovs.netns)
    links.ensure_veth(tb, "x", b, mac=B_MAC, peer_name="eth0", netns=ovs.netns)
    qvo = port_filter.ensure_plug(ovs.netns, pid, ta)
    for dev in (ta, tb, qvo, r.qvb_dev(pid)):
        links.tx_offload_off(dev, ovs.netns)
    for ns in (a, b):
        links.tx_offload_off("eth0", ns)
    ovs.api.ensure_port(BR, qvo)
    ovs.api.ensure_port(BR, tb)
    links.add_address(a, "eth0", f"{A_IP}/24")
    links.add_address(b, "eth0", f"{B_IP}/24")
    procs = [subprocess.Popen(netns.exec_argv(ns, [sys.executable, "-c", LISTEN, "80", "81"])) for ns in (a, b)]
    time.sleep(0.5)
    try:
        yield World(ovs, a, b, pid, procs)
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
        port_filter.delete_plug(ovs.netns, pid)
        for ns in (a, b):
            netns.kill_processes(ns)
            netns.delete(ns)


@pytest.fixture
def clean(world: World) -> Iterator[World]:
    """Each test starts with no filter (port security off) and leaves none."""
    port_filter.delete_port(world.ovs.netns, world.pid)
    yield world
    port_filter.delete_port(world.ovs.netns, world.pid)
    port_filter.delete_group(world.ovs.netns, "sga")


EGRESS = r.Rule("egress")
OPEN_80 = r.Rule("ingress", protocol="tcp", port_range_min=80, port_range_max=80)


def test_port_security_off_means_no_filter(clean: World) -> None:
    assert tcp(clean.b, A_IP, 81) == "open"
    clean.filter(EGRESS)
    assert tcp(clean.b, A_IP, 81) == "closed"
    port_filter.delete_port(clean.ovs.netns, clean.pid)
    assert tcp(clean.b, A_IP, 81) == "open"
    assert udp_arrives(clean, clean.a, A_IP, 67, B_IP, 68, clean.b) == A_IP


def test_default_deny_ingress_and_rule_opens(clean: World) -> None:
    clean.filter(EGRESS)
    assert tcp(clean.b, A_IP, 80) == "closed"
    assert tcp(clean.a, B_IP, 80) == "open"  # egress, and its replies as established
    clean.filter(EGRESS, OPEN_80)
    assert tcp(clean.b, A_IP, 80) == "open"
    assert tcp(clean.b, A_IP, 81) == "closed"


def test_rule_removal_cuts_established_session(clean: World) -> None:
    port = clean.filter(EGRESS, OPEN_80)
    argv = netns.exec_argv(clean.b, [sys.executable, "-c", SESSION, A_IP, "80"])
    session = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert session.stdout is not None and session.stdin is not None
    assert session.stdout.readline().strip() == "up"
    port_filter.replace_group(clean.ovs.netns, r.GroupRules("sga", (EGRESS,)))
    assert port_filter.cut_rules(clean.ovs.netns, [OPEN_80], [port]) >= 1
    session.stdin.write("\n")
    session.stdin.flush()
    assert session.communicate(timeout=10)[0].strip() == "cut"


def test_remote_group_membership(clean: World) -> None:
    rule = r.Rule("ingress", protocol="tcp", port_range_min=80, port_range_max=80, remote_group_id="sgb")
    clean.filter(EGRESS, rule)
    assert tcp(clean.b, A_IP, 80) == "closed"
    port_filter.add_members(clean.ovs.netns, "sgb", [B_IP])
    assert tcp(clean.b, A_IP, 80) == "open"
    port_filter.remove_members(clean.ovs.netns, "sgb", [B_IP, "10.66.0.99"])
    assert tcp(clean.b, A_IP, 80) == "closed"
    assert port_filter.observe(clean.ovs.netns).members["sgb"] == set()


def test_egress_limited_to_rules(clean: World) -> None:
    clean.filter(r.Rule("egress", protocol="tcp", port_range_min=80, port_range_max=80, remote_ip_prefix=f"{B_IP}/32"))
    assert tcp(clean.a, B_IP, 80) == "open"
    assert tcp(clean.a, B_IP, 81) == "closed"


def test_spoofed_source_ip_and_mac_dropped_pair_passes(clean: World) -> None:
    clean.filter(EGRESS, allowed_pairs=((f"{PAIR_IP}/32", None),))
    links.add_address(clean.a, "eth0", "10.66.0.77/24")
    links.add_address(clean.a, "eth0", f"{PAIR_IP}/24")
    try:
        assert udp_arrives(clean, clean.a, "10.66.0.77", 5000, B_IP, 5001, clean.b) == "nothing"
        assert udp_arrives(clean, clean.a, PAIR_IP, 5000, B_IP, 5001, clean.b) == PAIR_IP
        assert udp_arrives(clean, clean.a, A_IP, 5000, B_IP, 5001, clean.b) == A_IP
        sh(["ip", "neigh", "replace", B_IP, "lladdr", B_MAC, "dev", "eth0"], netns=clean.a)
        sh(["ip", "link", "set", "eth0", "address", "02:66:00:00:00:99"], netns=clean.a)
        assert udp_arrives(clean, clean.a, A_IP, 5000, B_IP, 5001, clean.b) == "nothing"
    finally:
        sh(["ip", "link", "set", "eth0", "address", A_MAC], netns=clean.a)
        links.del_address(clean.a, "eth0", "10.66.0.77/24")
        links.del_address(clean.a, "eth0", f"{PAIR_IP}/24")


def test_dhcp_server_answer_from_instance_dropped(clean: World) -> None:
    clean.filter(EGRESS)
    assert udp_arrives(clean, clean.a, A_IP, 67, B_IP, 68, clean.b) == "nothing"
    assert udp_arrives(clean, clean.a, A_IP, 5000, B_IP, 68, clean.b) == A_IP


def test_arp_spoof_dropped(clean: World) -> None:
    clean.filter(EGRESS)
    sh(["ip", "neigh", "flush", "dev", "eth0"], netns=clean.b)
    py(clean.a, ARP_REQUEST, "eth0", A_MAC, PAIR_IP, B_IP)
    time.sleep(0.3)
    assert PAIR_IP not in sh(["ip", "neigh", "show", "dev", "eth0"], netns=clean.b)
    port_filter.delete_port(clean.ovs.netns, clean.pid)
    py(clean.a, ARP_REQUEST, "eth0", A_MAC, PAIR_IP, B_IP)
    time.sleep(0.3)
    assert PAIR_IP in sh(["ip", "neigh", "show", "dev", "eth0"], netns=clean.b)  # the probe itself works


def test_replace_is_idempotent_and_observed(clean: World) -> None:
    port = clean.filter(EGRESS, OPEN_80)
    clean.filter(EGRESS, OPEN_80)
    seen = port_filter.observe(clean.ovs.netns)
    expected = port_filter.InstalledPort(10, dev_name("ta"), True, port.fingerprint(), r.port_parts(port))
    assert seen.ports[clean.pid] == expected
    assert seen.groups["sga"] == r.GroupRules("sga", (EGRESS, OPEN_80)).fingerprint()
    assert port_filter.delete_port(clean.ovs.netns, clean.pid) is True
    assert port_filter.delete_port(clean.ovs.netns, clean.pid) is False


def test_hand_edits_show_in_observe(clean: World) -> None:
    """Drift the agent must see: a rule added to a group chain, an element of the port deleted, a port chain
    emptied — each changes what observe reports (then the agent replaces what differs)."""
    port = clean.filter(EGRESS, OPEN_80)
    ns, table = clean.ovs.netns, r.TABLE
    sh(["nft", "insert", "rule", "inet", table, r.group_chain("sga", "ingress"), "accept"], netns=ns)
    assert port_filter.observe(ns).groups["sga"] is None
    element = f'{{ "{port.tap}" . {A_IP} }}'
    sh(["nft", "delete", "element", "bridge", table, "port_src4", element], netns=ns)
    seen = port_filter.observe(ns).ports[clean.pid]
    assert seen.fingerprint == port.fingerprint() and seen.parts != r.port_parts(port)
    sh(["nft", "flush", "chain", "inet", table, r.port_chain(clean.pid, "ingress")], netns=ns)
    assert port_filter.observe(ns).ports[clean.pid].fingerprint is None
    clean.filter(EGRESS, OPEN_80)
    assert port_filter.observe(ns).ports[clean.pid].parts == r.port_parts(port)


def test_inet_table_lost_port_takes_a_new_zone(clean: World) -> None:
    """The inet table deleted by hand takes the zones with it: the agent allocates the port a new zone, and the
    bridge table still marks its devices with the old one — the replace must swap those marks, not fail."""
    clean.filter(EGRESS, OPEN_80)
    ns = clean.ovs.netns
    sh(["nft", "delete", "table", "inet", r.TABLE], netns=ns)
    port_filter.replace_group(ns, r.GroupRules("sga", (EGRESS, OPEN_80)))
    moved = clean.port(zone=11)
    port_filter.replace_port(ns, moved)
    assert port_filter.observe(ns).ports[clean.pid].parts == r.port_parts(moved)
    assert tcp(clean.b, A_IP, 80) == "open"
    assert tcp(clean.b, A_IP, 81) == "closed"
