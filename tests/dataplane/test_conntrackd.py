"""floatnet.linux.conntrackd against the real kernel: test_keepalived's two replicas, now each with a ``qr-``
device on an internal network where an instance's server lives, floatnet's NAT table with a port forwarding
(floating IP tcp/8080 -> server tcp/5001, DNAT) and, when synced, conntrackd with keepalived's notify script.
A client upstream opens a TCP session to the floating IP's port; the server pushes a numbered line every 20 ms;
the MASTER fails (keepalived and conntrackd SIGKILLed by PID, links down). Judged at the receiver (the client):
with conntrackd the session goes on (every line arrives, in order, through to the server's close); without it
the session is cut.

Why a port forwarding and the server talking: the kernel picks a TCP session up mid-stream
(``nf_conntrack_tcp_loose``), so after a takeover without conntrackd the first packet the new MASTER sees
creates a fresh entry. For a 1:1 floating IP that entry NATs as the lost one did (either direction), so such a
session often survives anyway (not always: it was cut in one of three trial runs), and a test of it could not
fail for the right reason. A port-forwarded session whose first packet after the takeover comes from the
instance (its retransmission: the client has nothing to send) is picked up as plain outbound traffic and
SNATed to the gateway address, not the floating IP: the client resets it. Only the synced entry keeps it.
"""

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

from floatnet.linux import conntrackd, keepalived, nat, nat_pf
from floatnet.linux.nat_render import RouterNat
from floatnet.linux.ovs_daemon import pid_alive
from tests.dataplane.conftest import sh
from tests.dataplane.test_keepalived import FIP, GW, UPSTREAM, VR_ID, Lab, _wait

pytestmark = pytest.mark.skipif(
    shutil.which("keepalived") is None or shutil.which("conntrackd") is None,
    reason="needs keepalived and conntrackd (scripts/setup.sh)",
)
INTERNAL_GW, SERVER, PORT, EXTERNAL_PORT = "10.9.0.1/24", "10.9.0.5", 5001, 8080
QR_MACS = {"a": "fa:16:3e:00:1a:1a", "b": "fa:16:3e:00:1b:1b"}
HA_IPS = {"a": "169.254.192.1", "b": "169.254.192.2"}
# conntrackd's files as deep as on a lab node (a router id under <tmp>/state-a/lab/<prefix>-files/nodes/<node>/state):
# an absolute control-socket path there exceeds a unix socket's 107 bytes
ROUTER = "1a8d70f7-d3ba-4776-95ee-acc1323b1b6e"
DEEP = "lab-node-state-" * 5

# The instance's server: accept one session, push a numbered line every 20 ms for argv[3] seconds, close.
SENDER = r"""
import json, socket, sys, time
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((sys.argv[1], int(sys.argv[2]))); srv.listen(1); srv.settimeout(30)
conn, _ = srv.accept(); conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
end, n, error = time.monotonic() + float(sys.argv[3]), 0, None
try:
    while time.monotonic() < end:
        conn.sendall(b"%d\n" % n); n += 1; time.sleep(0.02)
    conn.close()
except OSError as exc:
    error = type(exc).__name__
print(json.dumps({"sent": n, "error": error}))
"""
# The upstream client (the receiver, which judges): connect, read numbered lines until EOF or an error.
RECEIVER = r"""
import json, socket, sys
sock = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5); sock.settimeout(float(sys.argv[3]))
got, ended, buf = [], "eof", b""
try:
    while chunk := sock.recv(4096):
        buf += chunk
        *lines, buf = buf.split(b"\n")
        got += [int(line) for line in lines]
except OSError as exc:
    ended = type(exc).__name__
print(json.dumps({"got": got, "ended": ended}))
"""


class NatLab(Lab):
    """test_keepalived's lab plus an internal network with a server, NAT in each replica and, with ``sync``,
    conntrackd in each replica."""

    def __init__(self, make_ns: Callable[[str], str], tmp_path: Path, sync: bool) -> None:
        super().__init__(make_ns, tmp_path)
        self.server = make_ns("ksv")
        sh(["ip", "link", "add", "brin", "type", "bridge"], netns=self.br)
        sh(["ip", "link", "set", "brin", "up"], netns=self.br)
        for side in ("a", "b"):
            self._plug(self.ns[side], f"qr-{side}", f"r{side}", "brin", QR_MACS[side])
            sh(["sysctl", "-qw", "net.ipv4.ip_forward=1"], netns=self.ns[side])
            pf = nat_pf.elements(FIP.split("/")[0], "tcp", (EXTERNAL_PORT, EXTERNAL_PORT), SERVER, (PORT, PORT))
            table = RouterNat(GW.split("/")[0], f"qg-{side}", True, ("10.9.0.0/24",), {}, frozenset(pf))
            nat.replace(self.ns[side], table)
        self._plug(self.server, "sv0", "gsv", "brin", None)
        sh(["ip", "addr", "add", f"{SERVER}/24", "dev", "sv0"], netns=self.server)
        sh(["ip", "route", "add", "default", "via", INTERNAL_GW.split("/")[0]], netns=self.server)
        self.sync = {s: conntrackd.Conntrackd(tmp_path / DEEP / f"c{s}") for s in ("a", "b")} if sync else {}

    def config(self, side: str, *fips: str) -> str:
        vips = (keepalived.Vip(GW, f"qg-{side}"), keepalived.Vip(INTERNAL_GW, f"qr-{side}"),
                *(keepalived.Vip(f, f"qg-{side}") for f in fips))  # fmt: skip
        route = keepalived.VirtualRoute("0.0.0.0/0", UPSTREAM, f"qg-{side}")
        notify = str(self.sync[side].dir(ROUTER) / conntrackd.NOTIFY) if self.sync else ""
        return keepalived.render(keepalived.HaInstance(VR_ID, f"ha-{side}", 0.2, vips, (route,), notify))

    def start(self, side: str, *fips: str) -> str:
        if self.sync:
            daemon = self.sync[side]
            text = conntrackd.render(conntrackd.SyncInstance(VR_ID, f"ha-{side}", HA_IPS[side]), daemon.dir(ROUTER))
            assert daemon.ensure(ROUTER, self.ns[side], text) == "started"
        return super().start(side, *fips)

    def fail(self, side: str) -> None:
        if self.sync:
            pid = self.sync[side].pid(ROUTER)
            assert pid is not None
            subprocess.run(["kill", "-KILL", str(pid)], check=True)
        super().fail(side)

    def run(self, netns: str, script: str, *args: str) -> subprocess.Popen[str]:
        argv = ["ip", "netns", "exec", netns, sys.executable, "-c", script, *args]
        return subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)


def _report(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, _ = proc.communicate(timeout=60)
    return dict(json.loads(out))


def _synced(lab: NatLab, side: str) -> bool:
    """Whether ``side``'s kernel holds the forwarded session, as its conntrackd injected it from the MASTER."""
    argv = ["conntrack", "-L", "-p", "tcp", "--orig-port-dst", str(EXTERNAL_PORT)]
    return f"dport={EXTERNAL_PORT}" in sh(argv, netns=lab.ns[side], check=False)


def _session_across_failover(lab: NatLab) -> tuple[dict[str, Any], dict[str, Any]]:
    """Open the session, fail the MASTER 2 s into it; the receiver's (client's) and the sender's reports."""
    assert lab.start("a", FIP) == "started" and lab.start("b", FIP) == "started"
    first = _wait(lambda: lab.master())
    time.sleep(1.0)  # settled, and the BACKUP's conntrackd has joined the group
    sender = lab.run(lab.server, SENDER, SERVER, str(PORT), "7")
    _wait(lambda: f":{PORT}" in sh(["ss", "-ltn"], netns=lab.server))
    receiver = lab.run(lab.up, RECEIVER, FIP.split("/")[0], str(EXTERNAL_PORT), "8")
    time.sleep(2.0)
    if lab.sync:  # the premise is the BACKUP holding the session, not a sleep long enough on a busy machine
        _wait(lambda: _synced(lab, "b" if first == "a" else "a"))
    lab.fail(first)
    _wait(lambda: lab.master() not in (None, first))
    return _report(receiver), _report(sender)


@pytest.mark.parametrize("sync", [True, False], ids=["conntrackd", "no-conntrackd"])
def test_established_tcp_session_through_the_floating_ip_survives_the_takeover_only_with_conntrackd(
    make_ns: Callable[[str], str], tmp_path: Path, sync: bool
) -> None:
    lab = NatLab(make_ns, tmp_path, sync)
    try:
        got, sent = _session_across_failover(lab)
    finally:
        pids = [p for d in lab.sync.values() for p in [d.pid(ROUTER)] if p is not None]
        for side in ("a", "b"):
            lab.daemons[side].stop("r1")  # keepalived's (test_keepalived's lab)
            if sync:
                lab.sync[side].stop(ROUTER)
    assert not any(pid_alive(pid, "conntrackd") for pid in pids)
    lines = got["got"]
    assert len(lines) >= 50 and lines[:50] == list(range(50))  # the session carried data before the failover
    if sync:
        assert sent["error"] is None and got["ended"] == "eof", (got["ended"], sent)
        assert lines == list(range(sent["sent"])), "every line arrived, in order, across the takeover"
        assert not (tmp_path / DEEP / "ca" / ROUTER).exists()
    else:
        assert got["ended"] != "eof" and len(lines) < sent["sent"], "the session was cut"
