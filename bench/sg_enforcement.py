"""Security-group enforcement point, measured: OpenFlow ct() (Neutron's openvswitch driver) vs hybrid plug +
nftables (Neutron's hybrid driver, floatnet.linux.port_filter). Prints JSON; run as root.

    client ns 10.77.0.2 --veth-- OVS (own ovs-vswitchd, netdev datapath, own namespace) --+-- tap -- VM 10.77.0.5
                                                                      hybrid: qvo--qvb[qbr]tap --+

Per design: new TCP connections/s (client opens and RST-closes for ``--seconds``; per-connection latency p50
and p99) with 1 ingress rule and with 1,000 (the admitting rule last); the time to add and remove a rule and
a remote-group member with 1,000 ports' filters installed; correctness probes (a port no rule opens stays
closed, removing the rule cuts the established session, a spoofed source is dropped). ``none`` is the same
path without filtering. Everything lives in namespaces ``bsg<hex>-*``, removed at the end; OVS is stopped by
PID.

Run: ``.venv/bin/python bench/sg_enforcement.py [--rules 1000] [--ports 1000] [--seconds 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from floatnet.linux import links, netns, ovs, port_filter
from floatnet.linux import sg_render as r
from floatnet.linux.ovs_daemon import OvsDaemons

VM_IP, CLI_IP, PORT, CLOSED = "10.77.0.5", "10.77.0.2", 5201, 5202
VM_MAC, PID, BR, ZONE = "02:77:00:00:00:05", "benchvm0000", "br-sg", 1
TAP = "tap" + PID
SERVER = """
import socket, sys, threading
def serve(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(4096)
    while True:
        c, _ = s.accept(); threading.Thread(target=hold, args=(c,), daemon=True).start()
def hold(c):
    try:
        while c.recv(100): c.sendall(b"x")
    except OSError: pass
    c.close()
for p in (5201, 5202): threading.Thread(target=serve, args=(p,), daemon=True).start()
threading.Event().wait()
"""
CLIENT = """
import json, socket, struct, sys, time
ip, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
linger = struct.pack("ii", 1, 0); lat = []; fail = 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    c = socket.socket(); c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger); c.settimeout(1)
    t = time.perf_counter()
    try:
        c.connect((ip, port)); lat.append(time.perf_counter() - t)
    except OSError:
        fail += 1
    c.close()
lat.sort()
print(json.dumps({"ok": len(lat), "fail": fail, "p50_ms": 1000 * lat[len(lat) // 2] if lat else None,
                  "p99_ms": 1000 * lat[int(len(lat) * 0.99)] if lat else None}))
"""
SESSION = """
import socket, sys, time
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1)
c.sendall(b"a"); c.recv(1); print("up", flush=True); sys.stdin.readline()
try:
    c.sendall(b"b"); print("alive" if c.recv(1) else "closed")
except OSError:
    print("cut")
"""


class Lab:
    """Namespaces, a private OVS and the VM's server; ``design`` switches between none/openflow/hybrid."""

    def __init__(self) -> None:
        tag = f"bsg{secrets.token_hex(2)}"
        self.ovsns, self.cli, self.vm = f"{tag}-ovs", f"{tag}-cli", f"{tag}-vm"
        self.rundir = tempfile.mkdtemp(prefix=f"{tag}-")
        self.daemons = OvsDaemons(self.rundir, netns=self.ovsns)
        self.server: subprocess.Popen[bytes] | None = None
        self.api: ovs.Ovs | None = None

    def build(self) -> None:
        for ns in (self.ovsns, self.cli, self.vm):
            netns.ensure(ns)
        self.daemons.start()
        self.api = ovs.Ovs(self.daemons.connection)
        self.api.ensure_bridge(BR)
        links.ensure_veth("clibench0000", "x", self.cli, peer_name="eth0", netns=self.ovsns)
        links.ensure_veth(TAP, "x", self.vm, mac=VM_MAC, peer_name="eth0", netns=self.ovsns)
        for ns, dev in ((self.ovsns, "clibench0000"), (self.ovsns, TAP), (self.cli, "eth0"), (self.vm, "eth0")):
            links.tx_offload_off(dev, ns)
        links.add_address(self.cli, "eth0", f"{CLI_IP}/24")
        links.add_address(self.vm, "eth0", f"{VM_IP}/24")
        self.api.ensure_port(BR, "clibench0000")
        argv = netns.exec_argv(self.vm, [sys.executable, "-c", SERVER])
        self.server = subprocess.Popen(argv, stderr=subprocess.DEVNULL)
        time.sleep(0.5)

    def ofctl(self, *args: str, stdin: str | None = None) -> str:
        sock = f"unix:{self.rundir}/{BR}.mgmt"
        opts = [a for a in args if a.startswith("--")]
        cmd = [a for a in args if not a.startswith("--")]
        argv = ["ovs-ofctl", "-O", "OpenFlow13", *opts, cmd[0], sock, *cmd[1:]]
        return subprocess.run(argv, input=stdin, capture_output=True, text=True, check=True).stdout

    def appctl(self, *args: str) -> str:
        argv = ["ovs-appctl", "-t", f"{self.rundir}/ovs-vswitchd.ctl", *args]
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout

    def attach(self, dev: str) -> None:
        """Make ``dev`` (the tap or the qvo) the VM's OVS port; the other one leaves the bridge."""
        assert self.api is not None
        for other in {TAP, r.qvo_dev(PID)} - {dev}:
            self.api.delete_port(None, other)
        self.api.ensure_port(BR, dev)

    def client(self, argv: list[str], timeout: float) -> str:
        full = netns.exec_argv(self.cli, [sys.executable, "-c", *argv])
        return subprocess.run(full, capture_output=True, text=True, timeout=timeout, check=True).stdout

    def rate(self, seconds: float) -> dict[str, Any]:
        self.client([CLIENT, VM_IP, str(PORT), "0.5"], 30)  # warm-up (ARP, flow caches)
        out: dict[str, Any] = json.loads(self.client([CLIENT, VM_IP, str(PORT), str(seconds)], seconds + 30))
        out["conn_per_s"] = round(out.pop("ok") / seconds, 1)
        return out

    def reaches(self, port: int) -> bool:
        out = self.client([CLIENT, VM_IP, str(port), "0.3"], 30)
        return bool(json.loads(out)["ok"])

    def session(self) -> subprocess.Popen[str]:
        argv = netns.exec_argv(self.cli, [sys.executable, "-c", SESSION, VM_IP, str(PORT)])
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "up"
        return proc

    def teardown(self) -> None:
        if self.server is not None:
            self.server.kill()
            self.server.wait()
        ovs.disconnect(self.daemons.connection)
        self.daemons.stop()
        for ns in (self.ovsns, self.cli, self.vm):
            netns.kill_processes(ns)
            netns.delete(ns)
        shutil.rmtree(self.rundir, ignore_errors=True)


def timed(fn: Callable[[], object], repeat: int = 20) -> dict[str, float]:
    """Median and max wall time of ``fn`` in milliseconds."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return {"median_ms": round(statistics.median(times), 3), "max_ms": round(max(times), 3)}


def ingress_ports(n: int) -> list[int]:
    """N destination ports for N rules, the admitting one (PORT) last: a linear list's worst case."""
    return [*range(10000, 10000 + n - 1), PORT]


class OpenFlow:
    """Neutron's openvswitch-driver style: every IP packet through ct(zone) and a rule table of ct_state=+new
    flows; remote groups as conjunctions (a member = one ``nw_src`` flow)."""

    name = "openflow"

    def __init__(self, lab: Lab) -> None:
        self.lab = lab

    def install(self, rules: int, ports: int) -> None:
        lab = self.lab
        lab.attach(TAP)
        vm = lab.ofctl("dump-ports-desc").split(f"({TAP})")[0].rsplit("\n", 1)[-1].strip()
        flows = [
            "table=0,priority=100,ip,actions=ct(zone=1,table=1)", "table=0,priority=0,actions=NORMAL",
            "table=1,priority=100,ct_state=+trk+est,ip,actions=NORMAL",
            "table=1,priority=100,ct_state=+trk+rel,ip,actions=NORMAL",
            "table=1,priority=100,ct_state=+trk+inv,ip,actions=drop",
            f"table=1,priority=90,ct_state=+trk+new,ip,in_port={vm},actions=ct(commit,zone=1),NORMAL",
            "table=1,priority=0,actions=drop",
        ]  # fmt: skip
        flows += [
            f"table=1,priority=50,ct_state=+trk+new,tcp,nw_dst={VM_IP},tp_dst={p},actions=ct(commit,zone=1),NORMAL"
            for p in ingress_ports(rules)
        ]
        # other ports' flows (a zone and a rule each), so that adds are measured in a populated table
        flows += [
            f"table=1,priority=40,ct_state=+trk+new,tcp,nw_dst=10.200.{i // 250}.{i % 250 + 1},tp_dst=22,"
            "actions=ct(commit,zone=1),NORMAL"
            for i in range(ports)
        ]
        lab.ofctl("del-flows")
        lab.ofctl("add-flows", "-", stdin="\n".join(flows) + "\n")

    def rule_times(self) -> dict[str, Any]:
        flow = "table=1,priority=50,ct_state=+trk+new,tcp,nw_dst=10.77.0.5,tp_dst=9999,actions=ct(commit,zone=1),NORMAL"
        match = "table=1,ct_state=+trk+new,tcp,nw_dst=10.77.0.5,tp_dst=9999"
        member = "table=1,priority=60,ct_state=+trk+new,ip,nw_src=10.201.0.9,actions=conjunction(7,1/2)"
        return {
            "add_rule": timed(lambda: self.lab.ofctl("add-flow", flow)),
            "remove_rule": timed(lambda: self.lab.ofctl("--strict", "del-flows", match)),
            "add_member": timed(lambda: self.lab.ofctl("add-flow", member)),
            "note": "one ovs-ofctl process per change (os-ken in Neutron keeps one OpenFlow connection)",
        }

    def open_port(self, port: int) -> None:
        self.lab.ofctl("add-flow", f"table=1,priority=55,ct_state=+trk+new,tcp,nw_dst={VM_IP},tp_dst={port},"
                       "actions=ct(commit,zone=1),NORMAL")  # fmt: skip

    def close_port(self, port: int) -> None:
        self.lab.ofctl("del-flows", f"table=1,tcp,nw_dst={VM_IP},tp_dst={port}")
        self.lab.appctl("dpctl/flush-conntrack", "zone=1")

    def spoof_dropped(self) -> bool | None:
        return None  # the bench installs no anti-spoofing flows for this design


class Hybrid:
    """Neutron's hybrid plug, floatnet's implementation: qbr per port, nftables (floatnet.linux.port_filter)."""

    name = "hybrid"

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.port = r.PortFilter(PID, ZONE, VM_MAC, (VM_IP,), groups=("benchsg",), tap=TAP)

    def install(self, rules: int, ports: int) -> None:
        lab = self.lab
        lab.ofctl("del-flows")
        lab.ofctl("add-flow", "actions=NORMAL")
        qvo = port_filter.ensure_plug(lab.ovsns, PID)
        for dev in (qvo, r.qvb_dev(PID)):
            links.tx_offload_off(dev, lab.ovsns)
        lab.attach(qvo)
        self.reset()
        rule_list = [
            r.Rule("ingress", protocol="tcp", port_range_min=p, port_range_max=p) for p in ingress_ports(rules)
        ]
        port_filter.replace_group(lab.ovsns, r.GroupRules("benchsg", (r.Rule("egress"), *rule_list)))
        port_filter.replace_port(lab.ovsns, self.port)
        self.others(ports)

    def reset(self) -> None:
        for fam in ("bridge", "inet"):
            port_filter._run(self.lab.ovsns, [f"add table {fam} {r.TABLE}", f"delete table {fam} {r.TABLE}"], "reset")

    def others(self, ports: int) -> None:
        """``ports`` more ports (taps need not exist: maps are keyed by name) in 100 groups with remote-group
        rules, 10 members per group set, installed in batches."""
        ns = self.lab.ovsns
        for g in range(100):
            rule = r.Rule("ingress", protocol="tcp", port_range_min=22, port_range_max=22, remote_group_id=f"g{g}")
            port_filter.replace_group(ns, r.GroupRules(f"g{g}", (r.Rule("egress"), rule)))
        lines: list[str] = []
        members: dict[str, list[str]] = {}
        for i in range(ports):
            ip = f"10.200.{i // 250}.{i % 250 + 1}"
            p = r.PortFilter(
                f"other{i:06d}", 100 + i, f"02:00:00:00:{i // 256:02x}:{i % 256:02x}", (ip,), groups=(f"g{i % 100}",)
            )
            lines += r.port_lines(p)
            members.setdefault(f"g{i % 100}", []).append(ip)
            if len(lines) > 5000:
                port_filter._run(ns, lines, "bench ports")
                lines = []
        if lines:
            port_filter._run(ns, lines, "bench ports")
        for group_id, addresses in members.items():
            port_filter.add_members(ns, group_id, addresses)

    def rule_times(self) -> dict[str, Any]:
        ns = self.lab.ovsns
        base = r.GroupRules(
            "g1",
            (
                r.Rule("egress"),
                r.Rule("ingress", protocol="tcp", port_range_min=22, port_range_max=22, remote_group_id="g1"),
            ),
        )
        fresh, gone = (f"10.201.0.{i}" for i in range(1, 250)), (f"10.201.0.{i}" for i in range(1, 250))
        more = r.GroupRules(
            "g1", (*base.rules, r.Rule("ingress", protocol="tcp", port_range_min=9999, port_range_max=9999))
        )
        return {
            "add_rule": timed(lambda: port_filter.replace_group(ns, more)),
            "remove_rule": timed(lambda: port_filter.replace_group(ns, base)),
            "add_member": timed(lambda: port_filter.add_members(ns, "g1", [next(fresh)])),
            "remove_member": timed(lambda: port_filter.remove_members(ns, "g1", [next(gone)])),
            "replace_port": timed(lambda: port_filter.replace_port(ns, self.port)),
            "note": "libnftables in-process; a rule change replaces that group's chains in one transaction",
        }

    def open_port(self, port: int) -> None:
        rule = r.Rule("ingress", protocol="tcp", port_range_min=port, port_range_max=port)
        port_filter.replace_group(self.lab.ovsns, r.GroupRules("benchsg", (r.Rule("egress"), rule)))

    def close_port(self, port: int) -> None:
        rule = r.Rule("ingress", protocol="tcp", port_range_min=port, port_range_max=port)
        port_filter.replace_group(self.lab.ovsns, r.GroupRules("benchsg", (r.Rule("egress"),)))
        port_filter.cut_rules(self.lab.ovsns, [rule], [self.port])

    def spoof_dropped(self) -> bool:
        vm = self.lab.vm
        links.add_address(vm, "eth0", "10.77.0.66/32")
        try:
            argv = netns.exec_argv(vm, ["ping", "-c1", "-W1", "-I", "10.77.0.66", CLI_IP])
            return subprocess.run(argv, capture_output=True, check=False).returncode != 0
        finally:
            links.del_address(vm, "eth0", "10.77.0.66/32")


def probes(lab: Lab, design: OpenFlow | Hybrid) -> dict[str, Any]:
    """Judged at the client (the receiver of replies): closed port closed, rule opens, removal cuts."""
    design.install(1, 0)
    found: dict[str, Any] = {"closed_port_blocked": not lab.reaches(CLOSED), "allowed_port_open": lab.reaches(PORT)}
    design.open_port(CLOSED)
    found["rule_opens"] = lab.reaches(CLOSED)
    design.open_port(PORT)
    session = lab.session()
    design.close_port(PORT)
    assert session.stdin is not None and session.stdout is not None
    session.stdin.write("\n")
    session.stdin.flush()
    found["removal_cuts_session"] = session.stdout.readline().strip() != "alive"
    session.wait(10)
    found["spoofed_source_dropped"] = design.spoof_dropped()
    return found


def measure(lab: Lab, design: OpenFlow | Hybrid, args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"probes": probes(lab, design)}
    for n in (1, args.rules):
        design.install(n, 0)
        out[f"rate@{n}_rules"] = lab.rate(args.seconds)
    design.install(1, args.ports)
    out[f"changes@{args.ports}_ports"] = design.rule_times()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--ports", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args(argv)
    lab = Lab()
    result: dict[str, Any] = {"kernel": os.uname().release, "datapath": "netdev",
                              "openvswitch_module": os.path.isdir("/sys/module/openvswitch")}  # fmt: skip
    try:
        lab.build()
        lab.attach(TAP)
        lab.ofctl("del-flows")
        lab.ofctl("add-flow", "actions=NORMAL")
        result["none"] = {"rate": lab.rate(args.seconds), "closed_port_reachable": lab.reaches(CLOSED)}
        for design in (OpenFlow(lab), Hybrid(lab)):
            result[design.name] = measure(lab, design, args)
        Hybrid(lab).reset()  # the plug (qbr + veth) stays, the filter goes: what the plug alone costs
        result["hybrid_plug_unfiltered"] = {"rate": lab.rate(args.seconds)}
        lab.attach(TAP)
        result["none_again"] = {"rate": lab.rate(args.seconds)}
    finally:
        lab.teardown()
    result["loadavg"] = os.getloadavg()[0]
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
