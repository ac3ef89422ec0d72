"""Issue 18 end to end: the running agent repairs every fault of the issue's table by itself, without a
restart, and the repair is proven by traffic (a TCP connect from the lab's upstream to the floating IP) and
by independent oracles (``ip``, ``nft``, ``ip netns pids``, ``dig``).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Callable

import pytest

from tests.e2e.fabric import run, wait_until
from tests.e2e.topology import Seed, in_ns, whoami

REPAIR_TIMEOUT = 10.0  # the target is 2 s (bench/drift.py measures it); generous on a loaded CI machine


def _upstream(seed: Seed) -> str:
    return f"{seed.fabric.prefix}upstream"


def _fip(seed: Seed) -> str:
    return str(seed.fips["fip1"]["floating_ip_address"])


def _qg(seed: Seed) -> str:
    links = json.loads(in_ns(seed.router_ns, "ip", "-j", "link", "show", check=True).stdout)
    return next(str(link["ifname"]) for link in links if link["ifname"].startswith("qg-"))


def _reachable(seed: Seed) -> bool:
    seen = whoami(_upstream(seed), _fip(seed), timeout=0.5)
    return seen is not None and seen["server"] == "vm1"


def _inject_and_expect_repair(seed: Seed, inject: Callable[[], None], oracle: Callable[[], bool], what: str) -> float:
    """Inject a fault into the running dataplane; wait for traffic and the oracle; the seconds it took."""
    f = seed.fabric
    agent_pid = f.procs["agent"].pid
    wait_until(lambda: _reachable(seed), 10, "the floating IP reachable before the fault")
    log_before = len(f.log("agent"))
    started = time.monotonic()
    inject()
    wait_until(lambda: _reachable(seed) and oracle(), REPAIR_TIMEOUT, f"repair of: {what}")
    took = time.monotonic() - started
    assert f.procs["agent"].pid == agent_pid and f.procs["agent"].poll() is None, "the agent was restarted"
    wait_until(lambda: "drift repaired" in f.log("agent")[log_before:], 5, f"the repair of {what} logged")
    repaired = [line for line in f.log("agent")[log_before:].splitlines() if "drift repaired" in line]
    assert len(repaired) == 1, repaired
    return took


def _nft_rules(seed: Seed) -> int:
    out = in_ns(seed.router_ns, "nft", "-j", "list", "table", "ip", "floatnet").stdout
    return sum(1 for item in json.loads(out or '{"nftables": []}')["nftables"] if "rule" in item)


@pytest.mark.parametrize("command", [("flush", "table"), ("delete", "table")], ids=["flush", "delete"])
def test_nft_table_flushed_or_deleted(seed: Seed, command: tuple[str, str]) -> None:
    rules = _nft_rules(seed)
    assert rules >= 3
    _inject_and_expect_repair(
        seed,
        lambda: in_ns(seed.router_ns, "nft", *command, "ip", "floatnet", check=True) and None,
        lambda: _nft_rules(seed) == rules,
        f"nft {' '.join(command)} ip floatnet",
    )


def _qg_has_fip(seed: Seed) -> bool:
    out = json.loads(in_ns(seed.router_ns, "ip", "-j", "-4", "addr", "show", "dev", _qg(seed), check=True).stdout)
    return any(a["local"] == _fip(seed) and a["prefixlen"] == 32 for a in out[0]["addr_info"])


def test_fip_address_deleted_from_qg(seed: Seed) -> None:
    def inject() -> None:
        in_ns(seed.router_ns, "ip", "addr", "del", f"{_fip(seed)}/32", "dev", _qg(seed), check=True)
        in_ns(_upstream(seed), "ip", "neigh", "flush", "to", _fip(seed))  # as if its ARP entry expired

    _inject_and_expect_repair(seed, inject, lambda: _qg_has_fip(seed), "floating IP /32 deleted")


def test_qg_set_down(seed: Seed) -> None:
    def up() -> bool:
        out = json.loads(in_ns(seed.router_ns, "ip", "-j", "link", "show", _qg(seed), check=True).stdout)
        return "UP" in out[0]["flags"]

    def inject() -> None:
        in_ns(seed.router_ns, "ip", "link", "set", _qg(seed), "down", check=True)

    _inject_and_expect_repair(seed, inject, up, "qg- set down")


def test_router_namespace_deleted(seed: Seed) -> None:
    def inject() -> None:
        in_ns(seed.router_ns, "true", check=True)
        assert os.system(f"ip netns delete {seed.router_ns}") == 0

    _inject_and_expect_repair(seed, inject, lambda: _nft_rules(seed) >= 3 and _qg_has_fip(seed), "qrouter- deleted")


def _dnsmasq_pids(seed: Seed) -> list[int]:
    ns = f"qdhcp-{seed.private['id']}"
    out = in_ns(ns, "sh", "-c", "for p in $(ip netns pids " + ns + "); do echo $p $(cat /proc/$p/comm); done")
    return [int(line.split()[0]) for line in out.stdout.splitlines() if line.endswith("dnsmasq")]


def test_dnsmasq_killed(seed: Seed) -> None:
    (old,) = _dnsmasq_pids(seed)
    vm = seed.vms["vm1"]

    def serves() -> bool:
        pids = _dnsmasq_pids(seed)
        if not pids or old in pids:
            return False
        answer = in_ns(vm.ns, "dig", "+short", "+time=1", "+tries=1", "@10.0.0.2", "-x", vm.ip).stdout
        return bool(answer.strip())

    took = _inject_and_expect_repair(seed, lambda: os.kill(old, signal.SIGKILL), serves, "dnsmasq killed")
    assert took < REPAIR_TIMEOUT


def test_diagnose_shows_the_last_repair(seed: Seed) -> None:
    """After the repairs above, ``floatnet diagnose`` tells when the agent last repaired this path and what."""
    f = seed.fabric

    def shown() -> str:
        proc = run([sys.executable, "-m", "floatnet", "diagnose", _fip(seed), "-f", "json"], check=False, env=f.env())
        checks = {c["name"]: c for c in json.loads(proc.stdout)["checks"]}
        reason = str(checks["agent.alive"]["reason"])
        return reason if "last repaired" in reason else ""

    reason = wait_until(shown, 10, "diagnose showing the last repair")
    # the last of the faults above: a namespace deleted, qg- set down (its default route goes with the link, so
    # the route may be put back by a step of its own once the re-plugged device has carrier), an nft table
    assert any(what in reason for what in ("namespace deleted", "set down", "nft", "routes [default")), reason
