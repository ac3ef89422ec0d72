"""``floatnet diagnose`` on the real seed (server + agent + OVS + lab): break one hop at a time, on purpose.

Every test breaks exactly one thing with the operator's own tools (``ip``, ``nft``, ``ovs-vsctl``,
``conntrack``, the API), runs the real ``floatnet diagnose FIP -f json`` and asserts that the first FAIL names
that hop and every check before it is ok; then it restores the hop and asserts the floating IP is healthy
again (exit 0). The agent repairs a broken kernel hop by itself within a second (issue 18), so those tests freeze
it (SIGSTOP) while the hop is broken: diagnose then sees what it sees while a repair is pending.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from floatnet.linux.names import dhcp_ns, qg_dev, qr_dev
from floatnet.linux.sg_render import qvo_dev
from tests.e2e.fabric import PHYSNET_EXT, PHYSNET_VLAN, Fabric, run, wait_until
from tests.e2e.topology import Seed, in_ns, wait_fip_status


def diagnose(f: Fabric, ref: str, fmt: str = "json") -> tuple[int, Any]:
    proc = run([sys.executable, "-m", "floatnet", "diagnose", ref, "-f", fmt], check=False, env=f.env())
    assert proc.returncode in (0, 1), f"diagnose crashed ({proc.returncode}): {proc.stdout}\n{proc.stderr}"
    return proc.returncode, (json.loads(proc.stdout) if fmt == "json" else proc.stdout)


def broken_hop(f: Fabric, ref: str) -> dict[str, Any]:
    """The first failed check (asserting exit status 1 and that every earlier check passed)."""
    code, doc = diagnose(f, ref)
    checks = doc["checks"]
    failing = [c for c in checks if c["status"] == "FAIL"]
    assert code == 1 and failing, f"expected a failure, got {[(c['name'], c['status']) for c in checks]}"
    first = failing[0]
    before = checks[: checks.index(first)]
    assert all(c["status"] == "ok" for c in before), [(c["name"], c["status"], c["reason"]) for c in before]
    assert doc["first_failure"] == first["name"]
    return dict(first)


def assert_healthy(f: Fabric, ref: str, timeout: float = 20.0) -> None:
    """Diagnose reports every check ok (waiting ``timeout`` for a restored hop to settle)."""

    def healthy() -> bool:
        code, doc = diagnose(f, ref)
        bad = [(c["name"], c["reason"]) for c in doc["checks"] if c["status"] != "ok"]
        if bad:
            raise AssertionError(bad)
        return code == 0

    wait_until(healthy, timeout, f"diagnose {ref} all ok", interval=0.5)


@contextmanager
def broken(seed: Seed, undo: Callable[[], object], thaw: Callable[[], None] = lambda: None) -> Iterator[None]:
    """Run the body, then ``undo`` the break and ``thaw`` the agent (even when an assertion failed) and check
    health came back."""
    try:
        yield
    finally:
        try:
            undo()
        finally:
            thaw()
    assert_healthy(seed.fabric, fip_address(seed))


def freeze(seed: Seed) -> Callable[[], None]:
    """Freeze (SIGSTOP) the agent so it does not repair the hop a test breaks; returns what thaws it. A frozen
    agent still counts as alive for ``agent_down_time``, longer than one diagnosis takes."""
    agent = seed.fabric.procs["agent"]
    agent.send_signal(signal.SIGSTOP)
    return lambda: agent.send_signal(signal.SIGCONT)


def fip_address(seed: Seed) -> str:
    return str(seed.fips["fip1"]["floating_ip_address"])


def fixed_ip(seed: Seed) -> str:
    return seed.vms["vm1"].ip


def router_port(seed: Seed, owner: str) -> dict[str, Any]:
    ports = seed.fabric.api("GET", "/ports", params={"device_id": seed.router["id"], "device_owner": owner})
    return dict(ports["ports"][0])


def sh(*argv: str) -> str:
    return run(list(argv)).stdout


@pytest.fixture(scope="module")
def healthy_seed(seed: Seed) -> Seed:
    """The seed with its floating IP proven healthy by diagnose itself before any test breaks something."""
    assert_healthy(seed.fabric, fip_address(seed), timeout=30)
    return seed


def test_healthy_floating_ip_all_ok(healthy_seed: Seed) -> None:
    f = healthy_seed.fabric
    code, doc = diagnose(f, fip_address(healthy_seed))
    assert code == 0 and doc["ok"] is True and doc["first_failure"] is None
    assert len(doc["checks"]) >= 25
    code, text = diagnose(f, healthy_seed.fips["fip1"]["id"], fmt="table")
    assert code == 0 and text.splitlines()[-1] == f"all {len(doc['checks'])} checks ok"
    assert all(line.split()[0] in ("ok", "diagnose", "all") for line in text.splitlines() if line[:1] != " ")


def test_unknown_floating_ip(healthy_seed: Seed) -> None:
    assert broken_hop(healthy_seed.fabric, "203.0.113.119")["name"] == "api.floatingip"


def test_fip_address_missing_on_qg(healthy_seed: Seed) -> None:
    seed, fip = healthy_seed, fip_address(healthy_seed)
    dev = qg_dev(router_port(seed, "network:router_gateway")["id"])
    thaw = freeze(seed)
    sh("ip", "-n", seed.router_ns, "addr", "del", f"{fip}/32", "dev", dev)
    with broken(seed, lambda: sh("ip", "-n", seed.router_ns, "addr", "replace", f"{fip}/32", "dev", dev), thaw):
        failure = broken_hop(seed.fabric, fip)
        assert failure["name"] == "router.fip_address"
        assert f"{fip}/32" in failure["reason"] and "addr add" in failure["fix"]


def test_dnat_element_removed(healthy_seed: Seed) -> None:
    seed, fip, fixed = healthy_seed, fip_address(healthy_seed), fixed_ip(healthy_seed)
    nft = ["ip", "netns", "exec", seed.router_ns, "nft"]
    thaw = freeze(seed)
    sh(*nft, "delete", "element", "ip", "floatnet", "fip_dnat", f"{{ {fip} }}")
    with broken(seed, lambda: sh(*nft, "add", "element", "ip", "floatnet", "fip_dnat", f"{{ {fip} : {fixed} }}"), thaw):
        failure = broken_hop(seed.fabric, fip)
        assert failure["name"] == "nat.dnat" and "no element" in failure["reason"]


def test_snat_element_points_elsewhere(healthy_seed: Seed) -> None:
    seed, fip, fixed = healthy_seed, fip_address(healthy_seed), fixed_ip(healthy_seed)
    nft = ["ip", "netns", "exec", seed.router_ns, "nft"]
    wrong = "203.0.113.118"

    def set_snat(to: str) -> None:
        sh(*nft, "delete", "element", "ip", "floatnet", "fip_snat", f"{{ {fixed} }}")
        sh(*nft, "add", "element", "ip", "floatnet", "fip_snat", f"{{ {fixed} : {to} }}")

    thaw = freeze(seed)
    set_snat(wrong)
    with broken(seed, lambda: set_snat(fip), thaw):
        failure = broken_hop(seed.fabric, fip)
        assert failure["name"] == "nat.snat" and wrong in failure["reason"]


def test_forwarding_off_in_router_namespace(healthy_seed: Seed) -> None:
    seed, fip = healthy_seed, fip_address(healthy_seed)
    sysctl = ("ip", "netns", "exec", seed.router_ns, "sysctl", "-qw")
    thaw = freeze(seed)
    sh(*sysctl, "net.ipv4.ip_forward=0")
    with broken(seed, lambda: sh(*sysctl, "net.ipv4.ip_forward=1"), thaw):
        failure = broken_hop(seed.fabric, fip)
        assert failure["name"] == "router.forwarding" and "ip_forward is 0" in failure["reason"]


def test_dnat_rule_flushed(healthy_seed: Seed) -> None:
    """The map still holds the element but no rule looks it up; the thawed agent restores it by itself."""
    seed, fip, f = healthy_seed, fip_address(healthy_seed), healthy_seed.fabric
    thaw = freeze(seed)
    sh("ip", "netns", "exec", seed.router_ns, "nft", "flush", "chain", "ip", "floatnet", "prerouting")
    with broken(seed, lambda: None, thaw):
        failure = broken_hop(f, fip)
        assert failure["name"] == "nat.rules" and "@fip_dnat" in failure["reason"]


def test_default_route_removed(healthy_seed: Seed) -> None:
    seed, fip = healthy_seed, fip_address(healthy_seed)
    dev = qg_dev(router_port(seed, "network:router_gateway")["id"])
    thaw = freeze(seed)
    sh("ip", "-n", seed.router_ns, "route", "del", "default")
    restore = ("ip", "-n", seed.router_ns, "route", "replace", "default", "via", "203.0.113.1", "dev", dev)
    with broken(seed, lambda: sh(*restore), thaw):
        assert broken_hop(seed.fabric, fip)["name"] == "router.default_route"


def test_qr_device_down(healthy_seed: Seed) -> None:
    seed, fip = healthy_seed, fip_address(healthy_seed)
    dev = qr_dev(router_port(seed, "network:router_interface")["id"])
    thaw = freeze(seed)
    sh("ip", "-n", seed.router_ns, "link", "set", dev, "down")
    with broken(seed, lambda: sh("ip", "-n", seed.router_ns, "link", "set", dev, "up"), thaw):
        failure = broken_hop(seed.fabric, fip)
        assert failure["name"] == "router.qr" and "not up" in failure["reason"]


def test_external_uplink_down(healthy_seed: Seed) -> None:
    seed, fip = healthy_seed, fip_address(healthy_seed)
    bridge = seed.fabric.bridges[PHYSNET_EXT]
    ports = seed.fabric.ovs_vsctl("list-ports", bridge).split()
    (uplink,) = [p for p in ports if p.startswith(seed.fabric.prefix)]
    ovs_ns = seed.fabric.ovs_netns
    sh("ip", "-n", ovs_ns, "link", "set", uplink, "down")
    with broken(seed, lambda: sh("ip", "-n", ovs_ns, "link", "set", uplink, "up")):
        failure = broken_hop(seed.fabric, fip)
        assert failure["name"] == "uplink.external" and uplink in failure["reason"]


def test_instance_port_unplugged(healthy_seed: Seed) -> None:
    seed, fip, vm1 = healthy_seed, fip_address(healthy_seed), healthy_seed.vms["vm1"]
    tap, bridge = qvo_dev(vm1.port_id), seed.fabric.bridges[PHYSNET_VLAN]  # the hybrid plug's OVS end
    external_ids = seed.fabric.ovs_vsctl("get", "Interface", tap, "external_ids").strip()
    tag = seed.fabric.ovs_vsctl("get", "Port", tap, "tag").strip()
    seed.fabric.ovs_vsctl("del-port", bridge, tap)

    def replug() -> None:
        seed.fabric.ovs_vsctl("--may-exist", "add-port", bridge, tap, f"tag={tag}",
                              "--", "set", "Interface", tap, f"external_ids={external_ids}")  # fmt: skip

    with broken(seed, replug):
        failure = broken_hop(seed.fabric, fip)
        assert failure["name"] == "ovs.instance" and "not plugged" in failure["reason"]


def test_instance_port_wrong_vlan_tag(healthy_seed: Seed) -> None:
    """The agent re-tags a port within milliseconds (it watches OVS), so it is frozen (SIGSTOP) while the tag
    is wrong: a frozen agent still counts as alive for ``agent_down_time``, longer than one diagnosis takes.
    """
    seed, fip, vm1 = healthy_seed, fip_address(healthy_seed), healthy_seed.vms["vm1"]
    tap = qvo_dev(vm1.port_id)
    thaw = freeze(seed)
    seed.fabric.ovs_vsctl("set", "Port", tap, "tag=101")
    with broken(seed, lambda: seed.fabric.ovs_vsctl("set", "Port", tap, "tag=100"), thaw):
        failure = broken_hop(seed.fabric, fip)
        assert failure["name"] == "ovs.instance" and "101" in failure["reason"] and "tag=100" in failure["fix"]


def _hosts_file(seed: Seed) -> Path:
    ns = dhcp_ns(seed.private["id"])
    for pid in sh("ip", "netns", "pids", ns).split():
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
        for word in argv:
            if word.startswith("--dhcp-hostsfile="):
                return Path(word.split("=", 1)[1])
    raise AssertionError(f"no dnsmasq with a hosts file in {ns}")


def test_dhcp_host_entry_missing(healthy_seed: Seed) -> None:
    seed, fip, vm1 = healthy_seed, fip_address(healthy_seed), healthy_seed.vms["vm1"]
    hosts = _hosts_file(seed)
    original = hosts.read_text()
    hosts.write_text("".join(line for line in original.splitlines(True) if vm1.mac.lower() not in line.lower()))
    with broken(seed, lambda: hosts.write_text(original)):
        failure = broken_hop(seed.fabric, fip)
        assert failure["name"] == "dhcp.host" and vm1.mac.lower() in failure["reason"]


def test_stale_conntrack_entry(healthy_seed: Seed) -> None:
    seed, fip = healthy_seed, fip_address(healthy_seed)
    old_fixed = "10.0.0.250"
    entry = ["-p", "tcp", "-s", "203.0.113.1", "-d", fip, "-r", old_fixed, "-q", "203.0.113.1",
             "--sport", "40000", "--dport", "80", "--reply-port-src", "80",
             "--reply-port-dst", "40000"]  # fmt: skip
    in_ns(seed.router_ns, "conntrack", "-I", *entry, "--state", "ESTABLISHED", "-t", "120", "-u", "ASSURED",
          check=True)  # fmt: skip
    with broken(seed, lambda: in_ns(seed.router_ns, "conntrack", "-D", "-d", fip, "-r", old_fixed)):
        failure = broken_hop(seed.fabric, fip)
        assert failure["name"] == "conntrack.stale" and old_fixed in failure["reason"]


def test_gateway_cleared_after_disassociation(healthy_seed: Seed) -> None:
    """Clearing the gateway needs the FIP disassociated first: the hop named is the association."""
    seed, fip = healthy_seed, fip_address(healthy_seed)
    f, fip_id, router_id = seed.fabric, seed.fips["fip1"]["id"], seed.router["id"]
    f.cli("floatingip-disassociate", fip_id, "-f", "table")
    f.cli("router-gateway-clear", router_id, "-f", "table")

    def restore() -> None:
        f.cli("router-gateway-set", router_id, seed.public["id"], "-f", "table")
        f.cli("floatingip-associate", fip_id, seed.vms["vm1"].port_id, "-f", "table")
        wait_fip_status(f, fip_id, "ACTIVE")

    with broken(seed, restore):
        failure = broken_hop(f, fip)
        assert failure["name"] == "api.associated" and "floatingip-associate" in failure["fix"]
        gateway = f.api("GET", f"/routers/{router_id}")["router"]["external_gateway_info"]
        assert not gateway


def test_agent_stopped(healthy_seed: Seed) -> None:
    seed, fip, f = healthy_seed, fip_address(healthy_seed), healthy_seed.fabric
    f.stop("agent")

    def agent_dead() -> bool:
        agents = f.api("GET", "/agents", params={"host": f.host})["agents"]
        return bool(agents) and not any(a["alive"] for a in agents)

    with broken(seed, f.start_agent):
        wait_until(agent_dead, 30, "the agent reported dead")
        failure = broken_hop(f, fip)
        assert failure["name"] == "agent.alive" and "dead" in failure["reason"]


def test_router_namespace_deleted(healthy_seed: Seed) -> None:
    """The most destructive break, last: the namespace goes; the thawed agent rebuilds it by itself."""
    seed, fip, f = healthy_seed, fip_address(healthy_seed), healthy_seed.fabric
    thaw = freeze(seed)
    subprocess.run(["ip", "netns", "delete", seed.router_ns], check=True)
    with broken(seed, lambda: None, thaw):
        failure = broken_hop(f, fip)
        assert failure["name"] == "router.namespace"
        code, doc = diagnose(f, fip)
        status = {c["name"]: c["status"] for c in doc["checks"]}
        assert status["nat.dnat"] == status["router.fip_address"] == "skipped"
