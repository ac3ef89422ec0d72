"""floatnet.linux.events against the real kernel: what each fault of issue 18 makes readable, and nothing
while nothing changes (the agent's idle cost)."""

from __future__ import annotations

import subprocess
import time

from floatnet.linux import events, links, netns
from tests.dataplane.conftest import sh


def _settle(monitor: events.NsMonitor) -> None:
    time.sleep(0.05)
    monitor.drain()


def _fired(monitor: events.NsMonitor) -> bool:
    time.sleep(0.05)
    readiness = events.Readiness()
    for fd in monitor.fileno_list():
        readiness.add(fd)
    ready = bool(readiness.ready())
    monitor.drain()
    return ready


def test_namespace_monitor_sees_links_addresses_routes_and_nftables(make_ns) -> None:
    ns, other = make_ns("ev"), make_ns("ev2")
    links.ensure_veth("evA", "x", ns, peer_name="qg-ev", netns=ns)
    links.add_address(ns, "qg-ev", "203.0.113.5/24")
    sh(["nft", "add", "table", "ip", "floatnet"], netns=ns)
    sh(["nft", "add", "chain", "ip", "floatnet", "c"], netns=ns)
    sh(["nft", "add", "rule", "ip", "floatnet", "c", "accept"], netns=ns)
    monitor = events.NsMonitor(ns)
    try:
        _settle(monitor)
        assert not _fired(monitor), "nothing changed: nothing to read"
        faults = [
            ["ip", "addr", "add", "203.0.113.101/32", "dev", "qg-ev"],
            ["ip", "addr", "del", "203.0.113.101/32", "dev", "qg-ev"],
            ["ip", "route", "add", "192.0.2.0/24", "via", "203.0.113.1"],
            ["ip", "link", "set", "qg-ev", "down"],
            ["nft", "flush", "table", "ip", "floatnet"],
            ["nft", "delete", "table", "ip", "floatnet"],
        ]
        for argv in faults:
            sh(argv, netns=ns)
            assert _fired(monitor), argv
        sh(["ip", "link", "add", "oa", "type", "veth", "peer", "name", "ob"], netns=other)  # not this monitor's
        assert not _fired(monitor)
    finally:
        monitor.close()


def test_pidfd_and_namespace_generation(make_ns) -> None:
    proc = subprocess.Popen(["sleep", "30"])
    fd = events.pidfd(proc.pid)
    assert fd is not None
    readiness = events.Readiness()
    readiness.add(fd)
    assert not readiness.ready()
    proc.kill()
    proc.wait()
    assert readiness.ready() == {fd}
    readiness.remove(fd)
    assert not readiness.ready()
    before = events.netns_generation()
    name = make_ns("gen")
    assert events.netns_generation() != before
    middle = events.netns_generation()
    netns.delete(name)
    assert events.netns_generation() != middle
