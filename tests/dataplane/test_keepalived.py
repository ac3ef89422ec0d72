"""floatnet.linux.keepalived against the real kernel: two replicas of a router (namespaces) joined by an HA
network and an external network (Linux bridges in a namespace of their own), keepalived in each. One becomes
MASTER and holds the addresses; a dead MASTER (its keepalived SIGKILLed by PID and its links gone, as a node
that fails) is replaced within a few advertisement intervals, announced by gratuitous ARP; an upstream
namespace asking ARP every 20 ms never hears two replicas answer; a replica that comes back does not preempt;
a floating IP added by reload appears without a transition; stop leaves nothing running."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from floatnet.linux import keepalived
from floatnet.linux.ovs_daemon import pid_alive
from tests.dataplane.conftest import sh

pytestmark = pytest.mark.skipif(shutil.which("keepalived") is None, reason="needs keepalived (scripts/setup.sh)")
ADVERT = 0.2  # seconds; a MASTER is declared dead after ~3 intervals
VR_ID = 7
GW, FIP, FIP2, UPSTREAM = "203.0.113.10/24", "203.0.113.20/32", "203.0.113.21/32", "203.0.113.1"
MACS = {"a": "fa:16:3e:00:0a:0a", "b": "fa:16:3e:00:0b:0b"}

# ARP watcher run in the upstream namespace: every PERIOD it asks who has the VIP and records which MACs
# answered in that round; it also records gratuitous ARPs (sender IP == target IP == VIP) and their MAC.
WATCHER = r"""
import json, socket, struct, sys, time, select
dev, mine, vip, seconds, period = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5])
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0806)); sock.bind((dev, 0))
mac = sock.getsockname()[4]
req = (b"\xff" * 6 + mac + b"\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac
       + socket.inet_aton(mine) + b"\x00" * 6 + socket.inet_aton(vip))
rounds, garps, end = [], [], time.monotonic() + seconds
while time.monotonic() < end:
    start, seen = time.monotonic(), set()
    sock.send(req)
    while (left := start + period - time.monotonic()) > 0:
        if not select.select([sock], [], [], left)[0]:
            break
        data = sock.recv(64)
        op, sha, spa, tpa = struct.unpack("!H", data[20:22])[0], data[22:28], data[28:32], data[38:42]
        if spa != socket.inet_aton(vip):
            continue
        text = ":".join(f"{b:02x}" for b in sha)
        if tpa == spa:
            garps.append([start, text])
        elif op == 2:
            seen.add(text)
    rounds.append([start, sorted(seen)])
print(json.dumps({"rounds": rounds, "garps": garps}))
"""


def _wait(predicate: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("timed out")


class Lab:
    """Two replicas (``a``, ``b``) and an upstream, wired through bridges in a namespace of their own."""

    def __init__(self, make_ns: Callable[[str], str], tmp_path: Path) -> None:
        self.ns = {"a": make_ns("kaa"), "b": make_ns("kab")}
        self.up, self.br = make_ns("kup"), make_ns("kbr")
        for bridge in ("brha", "brex"):
            sh(["ip", "link", "add", bridge, "type", "bridge"], netns=self.br)
            sh(["ip", "link", "set", bridge, "up"], netns=self.br)
        for side, ha_ip in (("a", "169.254.192.1/18"), ("b", "169.254.192.2/18")):
            self._plug(self.ns[side], f"ha-{side}", f"h{side}", "brha", None)
            self._plug(self.ns[side], f"qg-{side}", f"g{side}", "brex", MACS[side])
            sh(["ip", "addr", "add", ha_ip, "dev", f"ha-{side}"], netns=self.ns[side])
        self._plug(self.up, "up0", "gup", "brex", None)
        sh(["ip", "addr", "add", f"{UPSTREAM}/24", "dev", "up0"], netns=self.up)
        self.daemons = {side: keepalived.Keepalived(tmp_path / side) for side in ("a", "b")}
        self.dead: set[str] = set()

    def _plug(self, ns: str, dev: str, peer: str, bridge: str, mac: str | None) -> None:
        extra = ["address", mac] if mac else []
        sh(["ip", "link", "add", dev, *extra, "type", "veth", "peer", "name", peer, "netns", self.br], netns=ns)
        sh(["ip", "link", "set", dev, "up"], netns=ns)
        sh(["ip", "link", "set", peer, "master", bridge, "up"], netns=self.br)

    def config(self, side: str, *fips: str) -> str:
        vips = (keepalived.Vip(GW, f"qg-{side}"), *(keepalived.Vip(f, f"qg-{side}") for f in fips))
        route = keepalived.VirtualRoute("0.0.0.0/0", UPSTREAM, f"qg-{side}")
        return keepalived.render(keepalived.HaInstance(VR_ID, f"ha-{side}", ADVERT, vips, (route,)))

    def start(self, side: str, *fips: str) -> str:
        return self.daemons[side].ensure("r1", self.ns[side], self.config(side, *fips))

    def holds(self, side: str, cidr: str) -> bool:
        out = json.loads(sh(["ip", "-j", "-4", "addr", "show", "dev", f"qg-{side}"], netns=self.ns[side]))
        return any(f"{a['local']}/{a['prefixlen']}" == cidr for info in out for a in info["addr_info"])

    def master(self) -> str | None:
        """The one live replica holding the addresses (asserting there is at most one; a dead node keeps the
        addresses it had, unreachable)."""
        live = [s for s in ("a", "b") if s not in self.dead]
        masters = [s for s in live if keepalived.Keepalived.is_master(self.ns[s], f"ha-{s}", VR_ID)]
        assert len(masters) <= 1, masters
        return masters[0] if masters and self.holds(masters[0], FIP) else None

    def watch(self, vip: str, seconds: float) -> subprocess.Popen[str]:
        """Start the ARP watcher (see ``WATCHER``) in the upstream namespace."""
        argv = ["ip", "netns", "exec", self.up, sys.executable, "-c", WATCHER, "up0", UPSTREAM, vip.split("/")[0],
                str(seconds), "0.02"]  # fmt: skip
        return subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)

    def fail(self, side: str) -> None:
        """The replica's node dies: its keepalived processes SIGKILLed by PID, its links gone."""
        daemon = self.daemons[side]
        pids = [pid for pid in (daemon.pid("r1"), daemon.vrrp_pid("r1")) if pid is not None]
        assert len(pids) == 2
        for pid in pids:
            subprocess.run(["kill", "-KILL", str(pid)], check=True)
        for dev in (f"qg-{side}", f"ha-{side}"):
            sh(["ip", "link", "set", dev, "down"], netns=self.ns[side])
        self.dead.add(side)

    def revive(self, side: str) -> str:
        """The node returns (a reboot: none of the router's addresses left) and starts keepalived again."""
        for dev in (f"qg-{side}", f"ha-{side}"):
            sh(["ip", "addr", "flush", "dev", dev, "scope", "global"], netns=self.ns[side])
        sh(["ip", "addr", "add", "169.254.192.1/18" if side == "a" else "169.254.192.2/18", "dev", f"ha-{side}"],
           netns=self.ns[side])  # fmt: skip
        for dev in (f"qg-{side}", f"ha-{side}"):
            sh(["ip", "link", "set", dev, "up"], netns=self.ns[side])
        self.dead.discard(side)
        return self.start(side, FIP)


def test_a_returning_replica_whose_path_is_not_ready_yet_stays_backup(make_ns, tmp_path: Path) -> None:
    """A node coming back starts keepalived as soon as its devices exist, before its switch forwards on the HA
    network (OVS still adding the port); a BACKUP that hears no advertisement for ~3 intervals elects itself,
    and two replicas answer ARP for the floating IP (issue 15). keepalived's startup delay covers that window."""
    lab = Lab(make_ns, tmp_path)
    try:
        assert lab.start("a", FIP) == "started"
        assert _wait(lambda: lab.master()) == "a"
        sh(["ip", "link", "set", "hb", "nomaster"], netns=lab.br)  # b's HA port not on the switch yet
        watcher = lab.watch(FIP, keepalived.VRRP_STARTUP_DELAY + 3.0)
        assert lab.start("b", FIP) == "started"
        time.sleep(keepalived.VRRP_STARTUP_DELAY - 1.0)  # still inside the window; then the switch forwards
        sh(["ip", "link", "set", "hb", "master", "brha"], netns=lab.br)
        found = _rounds(watcher)
        assert {tuple(macs) for _start, macs in found["rounds"]} == {(MACS["a"],)}  # never two, never b
        assert lab.master() == "a"
    finally:
        for side in ("a", "b"):
            lab.daemons[side].stop("r1")


def test_a_replica_whose_dead_vrrp_childs_pid_was_reused_starts_again(make_ns, tmp_path: Path) -> None:
    """After a node's power loss ``vrrp.pid`` still names the dead VRRP child; once any process has that PID,
    keepalived exits at start ("already running", exit 0, no pidfile) — the replica never came back (issue 15's
    failover that never completed). The stale file is removed before a start."""
    lab = Lab(make_ns, tmp_path)
    stranger = subprocess.Popen(["sleep", "60"])  # the process that now has the dead child's PID
    try:
        assert lab.start("a", FIP) == "started"
        assert _wait(lambda: lab.master()) == "a"
        lab.fail("a")
        (tmp_path / "a" / "r1" / "vrrp.pid").write_text(f"{stranger.pid}\n")
        assert lab.revive("a") == "started"
        assert _wait(lambda: lab.master()) == "a"
        assert stranger.poll() is None  # not ours: left alone
    finally:
        stranger.kill()
        stranger.wait(5)
        lab.daemons["a"].stop("r1")


def _rounds(watcher: subprocess.Popen[str]) -> dict[str, Any]:
    out, _ = watcher.communicate(timeout=60)
    assert watcher.returncode == 0
    return dict(json.loads(out))


def _longest_silence(rounds: list[list[Any]]) -> float:
    """The longest time between two rounds in which someone answered."""
    answered = [start for start, macs in rounds if macs]
    return max((b - a for a, b in zip(answered, answered[1:], strict=False)), default=float("inf"))


def test_one_master_fails_over_never_two_no_preempt_reload_without_transition(make_ns, tmp_path: Path) -> None:
    lab = Lab(make_ns, tmp_path)
    try:
        assert lab.start("a", FIP) == "started" and lab.start("b", FIP) == "started"
        first = _wait(lambda: lab.master())
        time.sleep(5 * ADVERT)
        assert lab.master() == first  # settled: one MASTER
        other = "b" if first == "a" else "a"
        assert not lab.holds(other, FIP) and not lab.holds(other, GW)
        assert lab.daemons[first].running_config("r1", lab.ns[first]) == lab.config(first, FIP)

        watcher = lab.watch(FIP, 4.0)
        time.sleep(1.0)
        lab.fail(first)
        found = _rounds(watcher)
        assert all(len(macs) <= 1 for _start, macs in found["rounds"]), "two replicas answered at once"
        assert {macs[0] for _start, macs in found["rounds"] if macs} == {MACS[first], MACS[other]}
        assert found["rounds"][-1][1] == [MACS[other]]
        assert _longest_silence(found["rounds"]) <= 6 * ADVERT + 1.0  # ~3 intervals + skew, on a busy machine
        assert MACS[other] in {mac for _start, mac in found["garps"]}  # the takeover announced itself
        assert lab.master() == other and lab.holds(other, GW)

        watcher = lab.watch(FIP, 3.0)
        assert lab.revive(first) == "started"
        found = _rounds(watcher)
        assert {tuple(macs) for _start, macs in found["rounds"]} == {(MACS[other],)}  # no preemption, no loss
        assert lab.master() == other

        watcher = lab.watch(FIP, 3.0)
        assert lab.start(other, FIP, FIP2) == "reloaded" and lab.start(first, FIP, FIP2) == "reloaded"
        _wait(lambda: lab.holds(other, FIP2), timeout=3)
        found = _rounds(watcher)
        assert {tuple(macs) for _start, macs in found["rounds"]} == {(MACS[other],)}  # no transition
        assert lab.master() == other and not lab.holds(first, FIP2)
    finally:
        pids = [p for d in lab.daemons.values() for p in (d.pid("r1"), d.vrrp_pid("r1")) if p is not None]
        stopped = [lab.daemons[side].stop("r1") for side in ("a", "b")]
    assert stopped == [True, True] and not any(pid_alive(pid, "keepalived") for pid in pids)
    assert lab.daemons["a"].running() == {} and not (tmp_path / "a" / "r1").exists()

