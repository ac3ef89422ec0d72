"""The lab on its own (no server or agent needed).

``floatnet lab up`` builds the outside world into a private OVS; ``lab down`` removes all of it: processes by
PID, devices, namespaces, even ones that escaped the record.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from floatnet.lab.procs import cmdline
from floatnet.linux import netns as fl_netns
from floatnet.linux.ovs_daemon import OvsDaemons
from tests.e2e.fabric import run

INI = """[DEFAULT]
state_dir = {state}
[ml2_type_flat]
flat_networks = public_eth0
[ml2_type_vlan]
network_vlan_ranges = public_eth1:100:199
[ovs]
bridge_mappings = public_eth0:{prefix}ex,public_eth1:{prefix}vl
ovsdb_connection = {ovsdb}
"""


@dataclass
class Bench:
    prefix: str
    workdir: Path
    ovs: OvsDaemons
    ovs_ns: str

    @property
    def upstream(self) -> str:
        return f"{self.prefix}upstream"

    def lab(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "floatnet", "lab", "--config", str(self.workdir / "f.ini"),
                "--prefix", self.prefix, "--ovs-netns", self.ovs_ns, *args]  # fmt: skip
        return run(argv, check=check, env=dict(os.environ, OS_URL="http://127.0.0.1:9"))

    def vsctl(self, *args: str) -> str:
        return run(["ovs-vsctl", f"--db={self.ovs.connection}", "--timeout=10", *args]).stdout.strip()

    def state(self) -> dict[str, object]:
        path = self.workdir / "state" / "lab" / f"{self.prefix}lab.json"
        return dict(json.loads(path.read_text())) if path.exists() else {}


@pytest.fixture(scope="module")
def bench() -> Iterator[Bench]:
    prefix = f"l{secrets.token_hex(2)}-"
    workdir = Path(tempfile.mkdtemp(prefix=f"floatnet-{prefix}"))
    ovs_ns = f"ovs-{prefix}"
    fl_netns.ensure(ovs_ns)
    ovs = OvsDaemons(workdir / "ovs", netns=ovs_ns)
    bench = Bench(prefix, workdir, ovs, ovs_ns)
    try:
        ovs.start()
        (workdir / "f.ini").write_text(
            INI.format(state=workdir / "state", prefix=prefix, ovsdb=ovs.connection)
        )
        yield bench
    finally:
        bench.lab("down", check=False)
        ovs.stop()
        fl_netns.delete(ovs_ns)
        for ns in fl_netns.list_names([prefix]):
            fl_netns.delete(ns)
        shutil.rmtree(workdir, ignore_errors=True)


def _ns(ns: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return run(["ip", "netns", "exec", ns, *argv], check=False)


def test_up_builds_the_outside_world(bench: Bench) -> None:
    bench.lab("up")
    addrs = json.loads(_ns(bench.upstream, "ip", "-j", "-4", "addr").stdout)
    by_dev = {d["ifname"]: {f"{a['local']}/{a['prefixlen']}" for a in d["addr_info"]} for d in addrs}
    assert "203.0.113.1/24" in by_dev[f"{bench.prefix}u0"]
    assert not by_dev.get(f"{bench.prefix}u1"), "the VLAN physnet's link is a bare trunk"
    assert {"198.51.100.53/32", "198.51.100.80/32"} <= by_dev["lo"]
    assert bench.vsctl("port-to-br", f"{bench.prefix}p0") == f"{bench.prefix}ex"
    assert bench.vsctl("port-to-br", f"{bench.prefix}p1") == f"{bench.prefix}vl"
    owner = bench.vsctl("get", "Interface", f"{bench.prefix}p1", "external_ids:floatnet-lab")
    assert owner.strip('"') == bench.prefix
    offload = _ns(bench.ovs_ns, "ethtool", "-k", f"{bench.prefix}p0").stdout
    assert "tx-checksumming: off" in offload


def test_upstream_dns_and_whoami(bench: Bench) -> None:
    answer = _ns(
        bench.upstream, "dig", "+short", "+time=1", "@198.51.100.53", "www.example.test"
    ).stdout.split()
    assert answer == ["198.51.100.80"]
    missing = _ns(bench.upstream, "dig", "+time=1", "@198.51.100.53", "nope.example.test").stdout
    assert "NXDOMAIN" in missing
    probe = _ns(bench.upstream, sys.executable, "-m", "floatnet.lab.probe", "get", "198.51.100.80", "80")
    assert json.loads(probe.stdout) == {"peer": "198.51.100.80", "server": bench.upstream}


def test_up_again_changes_nothing(bench: Bench) -> None:
    before = bench.state()
    bench.lab("up")
    assert bench.state() == before


def test_down_removes_everything_even_unrecorded(bench: Bench) -> None:
    pids = [proc["pid"] for proc in bench.state()["procs"].values()]  # type: ignore[attr-defined]
    stray_ns, stray_dev = f"{bench.prefix}stray", f"{bench.prefix}sx"
    fl_netns.ensure(stray_ns)
    _ns(
        bench.ovs_ns,
        "ip",
        "link",
        "add",
        stray_dev,
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        stray_ns,
    )
    bench.lab("down")
    assert fl_netns.list_names([bench.prefix]) == []
    links = json.loads(_ns(bench.ovs_ns, "ip", "-j", "-d", "link").stdout)
    veths = [dev["ifname"] for dev in links if dev.get("linkinfo", {}).get("info_kind") == "veth"]
    assert not [name for name in veths if name.startswith(bench.prefix)], veths
    assert all(cmdline(pid) is None for pid in pids)
    assert bench.state() == {}
    assert bench.lab("down").returncode == 0
