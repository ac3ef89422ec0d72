"""NAT scale: agent work on a router's nftables table holding N floating IPs or N port forwardings (JSON).

Measures, in a throwaway namespace (``bnat-<hex>``, removed at the end), the way the agent does it: the
planner (:func:`floatnet.agent.plan.plan_nat` for a whole router, the fast path's
:class:`floatnet.agent.plan_fips.FipDiff` for one floating IP) decides against the view, and the agent's
action handlers run the result through floatnet.linux.nat (libnftables over ctypes, context cached per
namespace). Each time covers planning, dispatch and the kernel:

- ``cold_sync_s``: planning a router with N floating IPs against no table, and building it (target <= 5 s);
- ``noop_replace_s``: observing the table and planning again with nothing changed (no action, no write);
- ``add_fip_ms`` / ``del_fip_ms``: adding/removing one floating IP to/from the table holding N (target
  <= 1 ms), p50/p99/mean over ``--rounds``; the table's handles are checked unchanged (no rebuild);
- ``move_fip_ms``: re-associating one existing floating IP to another fixed IP (old pair out, new pair in);
- ``forwardings``: the same for a table holding ``--forwardings`` port forwardings (one shared floating IP,
  one element each): ``cold_sync_s``, ``add_forwarding_ms`` (target <= 1 ms) and ``del_forwarding_ms`` (the
  elements out plus the conntrack flush of exactly that socket, as the agent's action does). New
  connections/s through a forwarding at N = 10,000 against N = 1: ``bench/datapath.py`` (its ``forwarding``
  layout, target >= 0.95).

Run as root: ``.venv/bin/python bench/nat_scale.py [--fips 10000] [--forwardings 10000] [--rounds 200]``.
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

from floatnet.agent import actions as A
from floatnet.agent.apply import run_actions
from floatnet.agent.handlers import handlers
from floatnet.agent.plan import plan_nat
from floatnet.agent.plan_fips import FipDiff
from floatnet.agent.state import NatTable
from floatnet.linux import nat, netns, nft
from floatnet.linux.nat_pf import PfElement, elements

RUN = handlers(None)  # type: ignore[arg-type]  # the NAT handlers never use the dataplane


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


def apply(actions: list[A.Action]) -> None:
    result = run_actions(actions, RUN)
    assert not result.errors, result.errors


def view(ns: str) -> NatTable | None:
    """The table as the agent's observation holds it."""
    held = nat.observe(ns)
    if held is None:
        return None
    cidrs = frozenset(held.internal_cidrs)
    return NatTable(held.gateway_ip, held.gateway_dev, held.enable_snat, cidrs, held.fips, held.forwardings)


def whole(ns: str, have: NatTable | None, want: NatTable) -> list[A.Action]:
    """The whole-router planner's NAT actions (unmap first, then the table or its elements)."""
    unmap, rest, _ = plan_nat(ns, have, want, {ip: ip for ip in want.fips}, ())
    return unmap + rest


def one(ns: str, before: dict[str, str], after: dict[str, str]) -> float:
    """The fast path for one floating IP: diff the changed one only, unmap/map, apply; milliseconds."""
    t0 = time.perf_counter()
    diff = FipDiff.between(before, after, {ip: ip for ip in after})
    apply(diff.unmap(ns) + diff.map(ns))
    return (time.perf_counter() - t0) * 1000


SHARED_FIP = "203.0.113.200"


def forwardings(n: int) -> frozenset[PfElement]:
    """N forwardings of one floating IP: tcp 10000+i -> 10.0.(i // 250).(i % 250 + 2):22."""
    return frozenset(e for i in range(n) for e in elements(
        SHARED_FIP, "tcp", (10000 + i, 10000 + i), f"10.0.{i // 250}.{i % 250 + 2}", (22, 22)))  # fmt: skip


def one_pf(ns: str, before: frozenset[PfElement], after: frozenset[PfElement]) -> float:
    """The fast path for one forwarding: diff, delete (with its socket's conntrack flush) / add; ms."""
    t0 = time.perf_counter()
    diff = FipDiff.between({}, {}, {}, before, after)
    apply(diff.unmap(ns) + diff.map(ns))
    return (time.perf_counter() - t0) * 1000


def measure_forwardings(ns: str, n: int, rounds: int) -> dict[str, object]:
    table = NatTable("203.0.113.100", "qg-bench000000", True, frozenset({"10.0.0.0/17"}), {}, forwardings(n))
    nat.remove(ns)
    started = time.perf_counter()
    apply(whole(ns, None, table))
    cold = time.perf_counter() - started
    before = handles(ns)
    adds, dels = [], []
    for i in range(rounds):
        new = frozenset(elements(SHARED_FIP, "udp", (20000 + i, 20000 + i), "10.0.100.2", (53, 53)))
        adds.append(one_pf(ns, frozenset(), new))
        dels.append(one_pf(ns, new, frozenset()))
    assert handles(ns) == before, "table was rebuilt"
    assert view(ns) == table
    return {"forwardings": n, "cold_sync_s": round(cold, 3), "add_forwarding_ms": percentiles(adds),
            "del_forwarding_ms": percentiles(dels), "targets": {"add_forwarding_ms": 1.0}}  # fmt: skip


def measure(ns: str, n: int, rounds: int) -> dict[str, object]:
    table = NatTable("203.0.113.100", "qg-bench000000", True, frozenset({"10.0.0.0/17"}), fips(n))
    started = time.perf_counter()
    apply(whole(ns, None, table))
    cold = time.perf_counter() - started
    started = time.perf_counter()
    assert whole(ns, view(ns), table) == []
    noop = time.perf_counter() - started
    before = handles(ns)
    adds, dels = [], []
    for i in range(rounds):
        fip, fixed = f"10.129.{i // 250}.{i % 250 + 1}", f"10.0.{100 + i // 250}.{i % 250 + 1}"
        adds.append(one(ns, {}, {fip: fixed}))
        dels.append(one(ns, {fip: fixed}, {}))
    moves = []
    for i in range(rounds):
        fip = str(ipaddress.IPv4Address(int(ipaddress.IPv4Address("10.128.0.1")) + i))
        original, fixed = table.fips[fip], f"10.0.127.{i % 250 + 1}"
        moves.append(one(ns, {fip: original}, {fip: fixed}))
        one(ns, {fip: fixed}, {fip: original})
    assert handles(ns) == before, "table was rebuilt"
    assert view(ns) == table
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
    parser.add_argument("--forwardings", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args(argv)
    ns = f"bnat-{secrets.token_hex(3)}"
    netns.ensure(ns)
    try:
        result = measure(ns, args.fips, args.rounds)
        result["forwardings"] = measure_forwardings(ns, args.forwardings, args.rounds)
    finally:
        netns.delete(ns)
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
