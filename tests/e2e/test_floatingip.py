"""Issue 5 end to end, items 1–5 (and the ``--disable-snat`` part of 2): the seed's floating IP for real.

Everything is observed from the lab's namespaces: the upstream namespace owns 203.0.113.1 and the "internet"
198.51.100.80, whose whoami server tells which source address it saw; instances run echo (7) and whoami (80).
"""

from __future__ import annotations

import json
import subprocess
import time

from tests.e2e.fabric import wait_until
from tests.e2e.topology import UPSTREAM, Seed, in_ns, ping, probe_argv, wait_fip_status, whoami


def _fip(seed: Seed) -> str:
    return str(seed.fips["fip1"]["floating_ip_address"])


def _upstream(seed: Seed) -> str:
    return f"{seed.fabric.prefix}upstream"


def test_upstream_reaches_vm1_through_fip(seed: Seed) -> None:
    f = seed.fabric
    assert f.sdk().network.get_ip(seed.fips["fip1"]["id"]).status == "ACTIVE"
    assert ping(_upstream(seed), _fip(seed), count=3)
    seen = whoami(_upstream(seed), _fip(seed))
    assert seen is not None and seen["server"] == "vm1", seen
    assert seen["peer"] == "203.0.113.1", "DNAT only: vm1 sees the real upstream address"


def test_snat_seen_as_fip_and_gateway(seed: Seed) -> None:
    vm1 = whoami(seed.vms["vm1"].ns, UPSTREAM)
    vm2 = whoami(seed.vms["vm2"].ns, UPSTREAM)
    assert vm1 is not None and vm1["peer"] == _fip(seed), vm1
    assert vm2 is not None and vm2["peer"] == seed.gateway_ip(), vm2


def test_hairpin_through_floating_ip(seed: Seed) -> None:
    from_vm2 = whoami(seed.vms["vm2"].ns, _fip(seed))
    assert from_vm2 is not None and from_vm2["server"] == "vm1", from_vm2
    from_vm1 = whoami(seed.vms["vm1"].ns, _fip(seed))
    assert from_vm1 is not None and from_vm1["server"] == "vm1", "an instance reaches its own floating IP"


def _natted_flows(seed: Seed, fip: str, fixed: str) -> list[str]:
    """Conntrack entries still translating between ``fip`` and ``fixed`` (to the FIP, or replies to it).

    Retransmissions after the cut may open fresh, untranslated entries (``[UNREPLIED]``, without ``fixed``):
    those are not stale sessions.
    """
    lines = []
    for flag in ("-d", "-q"):
        out = in_ns(seed.router_ns, "conntrack", "-L", flag, fip).stdout
        lines += [line for line in out.splitlines() if f"src={fixed} " in line]
    return lines


def test_disassociate_cuts_established_session(seed: Seed) -> None:
    f, fip = seed.fabric, _fip(seed)
    session = subprocess.Popen(
        ["ip", "netns", "exec", _upstream(seed), *probe_argv("session", fip, "7", "--duration", "8")],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert session.stdout is not None
        assert "connected" in session.stdout.readline()
        time.sleep(1.0)
        f.cli("floatingip-disassociate", seed.fips["fip1"]["id"], "-f", "table")
        cut_at = time.time()
        out, _ = session.communicate(timeout=15)
    finally:
        if session.poll() is None:
            session.kill()
    result = json.loads(out.strip().splitlines()[-1])
    assert result["last_ok"] is not None and result["last_ok"] > cut_at - 1.5, result
    assert result["last_ok"] <= cut_at + 1.0, f"session survived {result['last_ok'] - cut_at:.2f} s: {result}"
    assert result["reason"] != "duration", result
    assert _natted_flows(seed, fip, seed.vms["vm1"].ip) == [], "the floating IP's flows left conntrack"
    assert whoami(_upstream(seed), fip, timeout=1.0) is None, "new connections must fail"
    wait_fip_status(f, seed.fips["fip1"]["id"], "DOWN")


def test_reassociate_to_vm2_within_a_second(seed: Seed) -> None:
    f, fip = seed.fabric, _fip(seed)
    f.cli("floatingip-associate", seed.fips["fip1"]["id"], seed.vms["vm2"].port_id, "-f", "table")
    start = time.monotonic()

    def vm2_answers() -> bool:
        seen = whoami(_upstream(seed), fip, timeout=0.3)
        return seen is not None and seen["server"] == "vm2"

    wait_until(vm2_answers, 5.0, "vm2 behind the moved floating IP", interval=0.02)
    elapsed = time.monotonic() - start
    assert elapsed <= 1.0, f"vm2 reachable only after {elapsed:.2f} s"
    for _ in range(5):
        seen = whoami(_upstream(seed), fip)
        assert seen is not None and seen["server"] == "vm2", seen
    wait_fip_status(f, seed.fips["fip1"]["id"], "ACTIVE")


def test_disable_snat(seed: Seed) -> None:
    """Without default SNAT the instance without a floating IP leaves with its own address; the one with keeps
    its floating IP. Upstream gets a route back to 10.0.0.0/24 so the un-NATed reply can return."""
    f = seed.fabric
    gateway = seed.gateway_ip()
    f.cli("router-gateway-set", "--disable-snat", seed.router["id"], seed.public["id"], "-f", "table")
    router = f.api("GET", f"/routers/{seed.router['id']}")["router"]
    assert router["external_gateway_info"]["enable_snat"] is False
    assert seed.gateway_ip() == gateway
    in_ns(_upstream(seed), "ip", "route", "replace", "10.0.0.0/24", "via", gateway, check=True)
    vm1, vm2 = seed.vms["vm1"], seed.vms["vm2"]

    def unnatted() -> bool:
        seen = whoami(vm1.ns, UPSTREAM, timeout=1.0)
        return seen is not None and seen["peer"] == vm1.ip

    wait_until(unnatted, 5.0, "vm1 (no floating IP) seen with its fixed IP")
    with_fip = whoami(vm2.ns, UPSTREAM)
    assert with_fip is not None and with_fip["peer"] == _fip(seed), with_fip
