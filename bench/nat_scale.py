"""NAT scale: agent work on a router's nftables table holding N floating IPs (prints JSON).

Measures, in a throwaway namespace (``bnat-<hex>``, removed at the end), with floatnet.linux.nat through
libnftables (ctypes, context cached per namespace):

- ``cold_sync_s``: ``nat.replace`` of a router with N floating IPs into an empty namespace (target <= 5 s);
- ``noop_replace_s``: ``nat.replace`` again with nothing changed (observe only, no write);
- ``add_fip_ms`` / ``del_fip_ms``: adding/removing one floating IP to/from the table holding N (target
  <= 1 ms), p50/p99/mean over ``--rounds``; the table's handles are checked unchanged (no rebuild);
- ``move_fip_ms``: re-associating one existing floating IP to another fixed IP (one transaction).

Run as root: ``.venv/bin/python bench/nat_scale.py [--fips 10000] [--rounds 200]``.
The floating IPs are map entries only (10.128.0.0/17 -> 10.0.0.0/17), never put on an interface.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import secrets
import statistics
import sys
import time

from floatnet.linux import nat, netns, nft


def fips(n: int) -> dict[str, str]:
    fip_base = int(ipaddress.IPv4Address("10.128.0.1"))
    fixed_base = int(ipaddress.IPv4Address("10.0.0.2"))
    return {
        str(ipaddress.IPv4Address(fip_base + i)): str(ipaddress.IPv4Address(fixed_base + i)) for i in range(n)
    }


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {
        "p50": round(pick(0.5), 4),
        "p99": round(pick(0.99), 4),
        "mean": round(statistics.fmean(ordered), 4),
    }


def handles(ns: str) -> list[tuple[str, int]]:
    out = json.loads(nft.run(ns, "list chains"))["nftables"]
    return sorted((o["chain"]["name"], o["chain"]["handle"]) for o in out if "chain" in o)


def measure(ns: str, n: int, rounds: int) -> dict[str, object]:
    table = nat.RouterNat("203.0.113.100", "qg-bench000000", True, ("10.0.0.1/17",), fips(n))
    started = time.perf_counter()
    nat.replace(ns, table)
    cold = time.perf_counter() - started
    started = time.perf_counter()
    assert nat.replace(ns, table) is False
    noop = time.perf_counter() - started
    before = handles(ns)
    adds, dels = [], []
    for i in range(rounds):
        fip, fixed = f"10.129.{i // 250}.{i % 250 + 1}", f"10.0.{100 + i // 250}.{i % 250 + 1}"
        t0 = time.perf_counter()
        nat.add_fip(ns, fip, fixed)
        t1 = time.perf_counter()
        nat.del_fip(ns, fip, fixed)
        t2 = time.perf_counter()
        adds.append((t1 - t0) * 1000)
        dels.append((t2 - t1) * 1000)
    moves = []
    for i in range(rounds):
        fip, fixed = (
            str(ipaddress.IPv4Address(int(ipaddress.IPv4Address("10.128.0.1")) + i)),
            f"10.0.127.{i % 250 + 1}",
        )
        original = table.fips[fip]
        t0 = time.perf_counter()
        nat.add_fip(ns, fip, fixed)
        moves.append((time.perf_counter() - t0) * 1000)
        nat.add_fip(ns, fip, original)
    assert handles(ns) == before, "table was rebuilt"
    observed = nat.observe(ns)
    assert observed is not None and len(observed.fips) == n
    return {
        "fips": n,
        "cold_sync_s": round(cold, 3),
        "noop_replace_s": round(noop, 3),
        "add_fip_ms": percentiles(adds),
        "del_fip_ms": percentiles(dels),
        "move_fip_ms": percentiles(moves),
        "rounds": rounds,
        "libnftables": nft.available(),
        "targets": {"add_fip_ms": 1.0, "cold_sync_s": 5.0},
        "loadavg": os.getloadavg()[0],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fips", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args(argv)
    ns = f"bnat-{secrets.token_hex(3)}"
    netns.ensure(ns)
    try:
        result = measure(ns, args.fips, args.rounds)
    finally:
        netns.delete(ns)
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
