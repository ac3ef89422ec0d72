"""Data path: new TCP connections/s through a floating IP with 1 and N floating IPs, and through a port
forwarding with 1 and N forwardings (prints JSON).

Compares floatnet's layout (nftables maps, floatnet.linux.nat) with a linear rule list like Neutron's
iptables layout (one DNAT rule per floating IP in prerouting, one SNAT rule per fixed IP in postrouting),
generated here only as the baseline. Direct veths, no OVS (the netdev datapath would be the bottleneck):

    client ns 203.0.113.1 --veth-- router ns (qg 203.0.113.100 + FIP /32, NAT) --veth-- server ns 10.0.0.5

The client opens and RST-closes connections (SO_LINGER 0) for ``--seconds`` per measurement; the server
accepts and closes. The router namespace's conntrack entries are flushed after every measurement, so the
(global) conntrack table never fills. Everything lives in namespaces ``bdp<hex>-*``, removed at the end.
The ``forwarding`` layout holds no floating-IP pair but N port forwardings (the measured one, FIP:5201 ->
10.0.0.5:5201, among N-1 others of other floating IPs). Targets: floatnet at N >= 0.95 x floatnet at 1, and
forwarding at N >= 0.95 x forwarding at 1.

Run as root: ``.venv/bin/python bench/datapath.py [--fips 10000] [--seconds 3] [--rounds 2]``.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import secrets
import statistics
import subprocess
import sys
import time
from typing import Any

from floatnet.linux import conntrack, links, nat, netns, nft
from floatnet.linux.nat_pf import elements

GW, FIP, FIXED, PORT = "203.0.113.100", "203.0.113.101", "10.0.0.5", 5201
QG, QR = "qg-bench000000", "qr-bench000000"
SERVER = """
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", %d)); s.listen(4096)
while True:
    c, _ = s.accept(); c.close()
"""
CLIENT = """
import socket, struct, sys, time
ip, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
linger = struct.pack("ii", 1, 0)
n = fail = 0
end = time.monotonic() + seconds
while time.monotonic() < end:
    c = socket.socket(); c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger); c.settimeout(1)
    try:
        c.connect((ip, port)); n += 1
    except OSError:
        fail += 1
    c.close()
print(n, fail)
"""


def others(n: int) -> dict[str, str]:
    """N-1 extra floating IPs (map entries / rules only, never on an interface)."""
    fip0, fixed0 = int(ipaddress.IPv4Address("10.128.0.1")), int(ipaddress.IPv4Address("10.0.128.1"))
    return {
        str(ipaddress.IPv4Address(fip0 + i)): str(ipaddress.IPv4Address(fixed0 + i)) for i in range(n - 1)
    }


def linear_table(fips: dict[str, str]) -> list[dict[str, Any]]:
    """The baseline: a rule per floating IP, like Neutron's iptables float-snat/DNAT chains (nft syntax)."""
    t = {"family": "ip", "table": "linear"}
    cmds: list[dict[str, Any]] = [
        {"add": {"table": {"family": "ip", "name": "linear"}}},
        {"add": {"chain": {**t, "name": "pre", "type": "nat", "hook": "prerouting", "prio": -100}}},
        {"add": {"chain": {**t, "name": "post", "type": "nat", "hook": "postrouting", "prio": 100}}},
    ]
    daddr = {"payload": {"protocol": "ip", "field": "daddr"}}
    saddr = {"payload": {"protocol": "ip", "field": "saddr"}}
    for fip, fixed in fips.items():
        match = {"match": {"op": "==", "left": daddr, "right": fip}}
        cmds.append({"add": {"rule": {**t, "chain": "pre", "expr": [match, {"dnat": {"addr": fixed}}]}}})
    for fip, fixed in fips.items():
        match = {"match": {"op": "==", "left": saddr, "right": fixed}}
        cmds.append({"add": {"rule": {**t, "chain": "post", "expr": [match, {"snat": {"addr": fip}}]}}})
    return cmds


def ordered(n: int) -> dict[str, str]:
    """N floating IPs with the measured one in the middle of the list (a linear list's average case)."""
    items = list(others(n).items())
    items.insert(len(items) // 2, (FIP, FIXED))
    return dict(items)


class Bench:
    def __init__(self) -> None:
        tag = f"bdp{secrets.token_hex(2)}"
        self.cli, self.rtr, self.srv = f"{tag}-cli", f"{tag}-rtr", f"{tag}-srv"
        self.server: subprocess.Popen[bytes] | None = None

    def build(self) -> None:
        for ns in (self.cli, self.rtr, self.srv):
            netns.ensure(ns)
        links.ensure_veth("eth0", "x", self.rtr, peer_name=QG, netns=self.cli)
        links.ensure_veth("eth0", "x", self.rtr, peer_name=QR, netns=self.srv)
        links.add_address(self.cli, "eth0", "203.0.113.1/24")
        links.sync_addresses(self.rtr, QG, {f"{GW}/24", f"{FIP}/32"})
        links.add_address(self.rtr, QR, "10.0.0.1/24")
        links.add_address(self.srv, "eth0", f"{FIXED}/24")
        links.sync_routes(self.srv, "10.0.0.1")
        links.sync_routes(self.rtr, "203.0.113.1")
        links.set_forwarding(self.rtr, True)
        argv = netns.exec_argv(self.srv, [sys.executable, "-c", SERVER % PORT])
        self.server = subprocess.Popen(argv, stderr=subprocess.DEVNULL)
        time.sleep(0.5)

    def layout(self, kind: str, n: int) -> None:
        fips = ordered(n)
        nat.remove(self.rtr)
        nft.run_json(self.rtr, [{"add": {"table": {"family": "ip", "name": "linear"}}},
                                {"delete": {"table": {"family": "ip", "name": "linear"}}}])  # fmt: skip
        if kind == "floatnet":
            nat.replace(self.rtr, nat.RouterNat(GW, QG, True, ("10.0.0.1/24",), fips))
        elif kind == "forwarding":
            forwardings = frozenset(e for fip, fixed in fips.items() for e in elements(fip, "tcp", (PORT, PORT), fixed,
                                                                                        (PORT, PORT)))  # fmt: skip
            nat.replace(self.rtr, nat.RouterNat(GW, QG, True, ("10.0.0.1/24",), {}, forwardings))
        else:
            nft.run_json(self.rtr, linear_table(fips))

    def rate(self, seconds: float) -> float:
        argv = netns.exec_argv(self.cli, [sys.executable, "-c", CLIENT, FIP, str(PORT), str(seconds)])
        out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30, check=True).stdout
        ok, failed = (int(x) for x in out.split())
        conntrack.flush_address(self.rtr, FIP)
        if failed:
            raise RuntimeError(f"{failed} connections failed")
        return ok / seconds

    def teardown(self) -> None:
        if self.server is not None:
            self.server.kill()
            self.server.wait()
        for ns in (self.cli, self.rtr, self.srv):
            netns.delete(ns)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fips", type=int, default=10000)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    bench = Bench()
    configs = [(k, n) for k in ("floatnet", "forwarding", "linear") for n in (1, args.fips)]
    rates: dict[str, list[float]] = {f"{k}@{n}": [] for k, n in configs}
    try:
        bench.build()
        for _ in range(args.rounds):
            for kind, n in configs:
                bench.layout(kind, n)
                bench.rate(0.5)  # warm-up
                rates[f"{kind}@{n}"].append(bench.rate(args.seconds))
    finally:
        bench.teardown()
    med = {k: round(statistics.median(v), 1) for k, v in rates.items()}
    big = args.fips
    result = {
        "conn_per_s": med,
        "samples": {k: [round(x, 1) for x in v] for k, v in rates.items()},
        "floatnet_ratio_N_over_1": round(med[f"floatnet@{big}"] / med["floatnet@1"], 3),
        "forwarding_ratio_N_over_1": round(med[f"forwarding@{big}"] / med["forwarding@1"], 3),
        "linear_ratio_N_over_1": round(med[f"linear@{big}"] / med["linear@1"], 3),
        "fips": big, "seconds": args.seconds, "rounds": args.rounds, "loadavg": os.getloadavg()[0],
        "target": "floatnet_ratio_N_over_1 >= 0.95 and forwarding_ratio_N_over_1 >= 0.95",
    }  # fmt: skip
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
