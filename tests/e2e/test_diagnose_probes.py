"""diagnose's kernel probes against real kernel objects built here by hand (no floatnet agent involved).

A router-like namespace wired to an "upstream" namespace by a veth, an ``ip floatnet`` table with its maps, a
conntrack entry, a process inside the namespace and a private ovsdb-server: each probe must read back exactly
what was built. Names carry a per-run prefix and everything is removed afterwards.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from floatnet.diagnose import probe

NFT_TABLE = """
table ip floatnet {
  map fip_dnat { type ipv4_addr : ipv4_addr; elements = { 203.0.113.101 : 10.0.0.5 } }
  map fip_snat { type ipv4_addr : ipv4_addr; elements = { 10.0.0.5 : 203.0.113.101 } }
  chain prerouting { type nat hook prerouting priority dstnat;
    dnat to ip daddr map @fip_dnat
  }
  chain postrouting { type nat hook postrouting priority srcnat;
    oifname "qg-x" snat to ip saddr map @fip_snat
  }
}
"""


def sh(*argv: str) -> str:
    return subprocess.run(list(argv), capture_output=True, text=True, check=True, timeout=20).stdout


@dataclass
class Pair:
    router: str
    upstream: str
    dev: str


@pytest.fixture(scope="module")
def pair() -> Iterator[Pair]:
    prefix = f"d{secrets.token_hex(2)}-"
    made = Pair(router=f"{prefix}r", upstream=f"{prefix}u", dev=f"{prefix}qg")
    try:
        sh("ip", "netns", "add", made.router)
        sh("ip", "netns", "add", made.upstream)
        sh("ip", "-n", made.router, "link", "add", "name", made.dev, "type", "veth", "peer", "name", "up0",
           "netns", made.upstream)  # fmt: skip
        sh("ip", "-n", made.router, "addr", "add", "203.0.113.100/24", "dev", made.dev)
        sh("ip", "-n", made.router, "addr", "add", "203.0.113.101/32", "dev", made.dev)
        sh("ip", "-n", made.upstream, "addr", "add", "203.0.113.1/24", "dev", "up0")
        for ns, dev in ((made.router, made.dev), (made.upstream, "up0")):
            sh("ip", "-n", ns, "link", "set", dev, "up")
        sh("ip", "-n", made.router, "route", "add", "default", "via", "203.0.113.1")
        subprocess.run(["ip", "netns", "exec", made.router, "nft", "-f", "-"], input=NFT_TABLE, text=True,
                       check=True)  # fmt: skip
        yield made
    finally:
        for ns in (made.router, made.upstream):
            subprocess.run(["ip", "netns", "delete", ns], capture_output=True, check=False)


def test_links_addresses_routes(pair: Pair) -> None:
    assert {pair.router, pair.upstream} <= probe.netns_names()
    link = probe.links(pair.router)[pair.dev]
    assert probe.is_up(link) and probe.link_kind(link) == "veth"
    assert probe.ipv4_cidrs(link) == {"203.0.113.100/24", "203.0.113.101/32"}
    (default,) = probe.routes(pair.router, "default")
    assert (default["gateway"], default["dev"]) == ("203.0.113.1", pair.dev)


def test_upstream_arp(pair: Pair) -> None:
    assert probe.ping_once(pair.router, "203.0.113.1")
    assert probe.arping_once(pair.router, pair.dev, "203.0.113.1")
    entry = probe.neighbour(pair.router, "203.0.113.1", pair.dev)
    assert entry is not None and entry["lladdr"] and "REACHABLE" in entry["state"]
    assert not probe.arping_once(pair.router, pair.dev, "203.0.113.77")


def test_nat_table_and_missing_table(pair: Pair) -> None:
    table = probe.nat_table(pair.router)
    assert table is not None
    assert table.maps == {"fip_dnat": {"203.0.113.101": "10.0.0.5"}, "fip_snat": {"10.0.0.5": "203.0.113.101"}}
    assert table.hook_has("prerouting", '"dnat"', '"@fip_dnat"')
    assert table.hook_has("postrouting", '"snat"', '"@fip_snat"')
    assert not table.hook_has("prerouting", '"@fip_snat"') and not table.hook_has("output", '"dnat"')
    assert probe.nat_table(pair.upstream) is None


def test_sysctl_inside_namespace(pair: Pair) -> None:
    sh("ip", "netns", "exec", pair.router, "sysctl", "-qw", "net.ipv4.ip_forward=1")
    assert probe.ns_sysctl(pair.router, "net/ipv4/ip_forward") == "1"
    assert probe.ns_sysctl(pair.upstream, "net/ipv4/ip_forward") == "0"


def test_conntrack_flows(pair: Pair) -> None:
    entry = ["-p", "tcp", "-s", "203.0.113.1", "-d", "203.0.113.101", "-r", "10.0.0.9", "-q", "203.0.113.1",
             "--sport", "40000", "--dport", "80", "--reply-port-src", "80",
             "--reply-port-dst", "40000"]  # fmt: skip
    sh("ip", "netns", "exec", pair.router, "conntrack", "-I", *entry, "--state", "ESTABLISHED", "-t", "60")
    (flow,) = probe.conntrack_flows(pair.router, "-d", "203.0.113.101")
    assert (flow.src, flow.dst, flow.reply_src, flow.reply_dst) == (
        "203.0.113.1", "203.0.113.101", "10.0.0.9", "203.0.113.1",
    )  # fmt: skip
    assert probe.conntrack_flows(pair.router, "-q", "203.0.113.101") == []
    assert probe.conntrack_flows(pair.upstream, "-d", "203.0.113.101") == []


def test_processes_in_netns(pair: Pair) -> None:
    proc = subprocess.Popen(["ip", "netns", "exec", pair.router, "sleep", "30"])
    try:
        for _ in range(50):
            found = probe.processes_in_netns(pair.router, "sleep")
            if found:
                break
            subprocess.run(["sleep", "0.1"], check=True)
        assert [p.argv for p in found] == [["sleep", "30"]]
        assert probe.processes_in_netns(pair.upstream, "sleep") == []
        assert probe.processes_in_netns("no-such-namespace-here", "sleep") == []
    finally:
        proc.kill()
        proc.wait(5)


@pytest.fixture
def ovsdb() -> Iterator[str]:
    """A private ovsdb-server (no vswitchd: ``ovs-vsctl --no-wait`` edits the database only)."""
    rundir = Path(tempfile.mkdtemp(prefix="fn-diag-ovs-"))
    sh("ovsdb-tool", "create", str(rundir / "conf.db"), "/usr/share/openvswitch/vswitch.ovsschema")
    sock = f"unix:{rundir / 'db.sock'}"
    sh("ovsdb-server", str(rundir / "conf.db"), f"--remote=p{sock}", f"--unixctl={rundir / 'ctl'}",
       f"--pidfile={rundir / 'pid'}", "--detach", f"--log-file={rundir / 'log'}")  # fmt: skip
    try:
        yield sock
    finally:
        pid = int((rundir / "pid").read_text())
        if "ovsdb-server" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
            os.kill(pid, signal.SIGTERM)
        shutil.rmtree(rundir, ignore_errors=True)


def test_ovs_snapshot(ovsdb: str) -> None:
    vsctl = ["ovs-vsctl", f"--db={ovsdb}", "--no-wait"]
    sh(*vsctl, "init")
    sh(*vsctl, "add-br", "br-ex", "--", "add-br", "br-vl")
    sh(*vsctl, "add-port", "br-ex", "uplink0", "--", "add-port", "br-vl", "tapvm", "tag=100", "--", "set",
       "Interface", "tapvm", "external_ids:iface-id=port-1")  # fmt: skip
    snap = probe.ovs_snapshot(ovsdb)
    assert snap.bridges == ["br-ex", "br-vl"]
    (tap,) = snap.by_iface_id("port-1")
    assert (tap.name, tap.bridge, tap.tag) == ("tapvm", "br-vl", 100)
    uplinks = [p for p in snap.on_bridge("br-ex") if not p.iface_id and p.iface_type == ""]
    assert [p.name for p in uplinks] == ["uplink0"]
