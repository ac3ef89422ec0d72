"""floatnet.linux.radvd against the real kernel: a host behind the advertising device autoconfigures its EUI-64
address from a SLAAC prefix, learns the MTU and the flags, and takes the router as its default gateway;
a new configuration is re-read, stop leaves nothing running."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from floatnet.linux import links, netns, radvd
from floatnet.linux.ovs_daemon import pid_alive
from tests.dataplane.conftest import sh

ROUTER_MAC, HOST_MAC = "fa:16:3e:00:00:01", "fa:16:3e:12:34:56"
HOST_EUI64 = "2001:db8:1:0:f816:3eff:fe12:3456"
pytestmark = pytest.mark.skipif(shutil.which("radvd") is None, reason="needs radvd (scripts/setup.sh installs it)")


def _wait(predicate, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("timed out")


def host_state(ns: str) -> tuple[set[str], list[dict], str]:
    info = json.loads(sh(["ip", "-j", "-6", "addr", "show", "eth0"], netns=ns))[0]["addr_info"]
    routes = json.loads(sh(["ip", "-j", "-6", "route", "show", "default"], netns=ns) or "[]")
    mtu = sh(["cat", "/proc/sys/net/ipv6/conf/eth0/mtu"], netns=ns).strip()
    return {a["local"] for a in info if a.get("scope") == "global"}, routes, mtu


def test_radvd_advertises_slaac_prefix_mtu_and_gateway(make_ns, tmp_path: Path):
    router_ns, host_ns = make_ns("rar"), make_ns("rah")
    links.set_forwarding(router_ns, True)
    sh(["ip", "link", "add", "qr-ra", "address", ROUTER_MAC, "type", "veth", "peer", "name", "eth0",
        "address", HOST_MAC, "netns", host_ns], netns=router_ns)  # fmt: skip
    sh(["ip", "link", "set", "eth0", "mtu", "1500", "up"], netns=host_ns)
    sh(["sysctl", "-qw", "net.ipv6.conf.eth0.accept_ra=1"], netns=host_ns)
    sh(["ip", "link", "set", "qr-ra", "up"], netns=router_ns)
    links.sync_addresses(router_ns, "qr-ra", {"2001:db8:1::1/64"})
    daemons = radvd.Radvd(tmp_path)
    config = radvd.render((radvd.RaInterface("qr-ra", 1450, (radvd.RaPrefix("2001:db8:1::/64", "slaac"),)),))
    assert daemons.ensure("r1", router_ns, config) == "started"
    try:
        assert daemons.running_config("r1", router_ns) == config
        assert daemons.ensure("r1", router_ns, config) == "unchanged"
        addresses, routes, mtu = _wait(lambda: (s := host_state(host_ns))[0] and s[1] and s)
        assert addresses == {HOST_EUI64}
        assert routes[0]["gateway"].startswith("fe80::") and routes[0]["dev"] == "eth0"
        assert mtu == "1450"

        stateful = radvd.render(
            (radvd.RaInterface("qr-ra", 1450, (radvd.RaPrefix("2001:db8:1::/64", "dhcpv6-stateful"),)),)
        )
        assert daemons.ensure("r1", router_ns, stateful) == "reloaded"
        assert daemons.running_config("r1", router_ns) == stateful
    finally:
        pid = daemons.pid("r1")
        assert daemons.stop("r1")
    assert pid is not None and not pid_alive(pid, str(tmp_path)) and daemons.running_config("r1", router_ns) is None
    assert not (tmp_path / "r1").exists()


def test_radvd_left_in_a_deleted_namespace_is_replaced(make_ns, tmp_path: Path):
    """The router's namespace deleted and re-created under the same name: the old radvd advertises on nothing,
    so it does not count as running there, and ensure replaces it."""
    router_ns = make_ns("rad")
    sh(["ip", "link", "add", "qr-rd", "type", "veth", "peer", "name", "qr-rdp"], netns=router_ns)
    sh(["ip", "link", "set", "qr-rd", "up"], netns=router_ns)
    daemons = radvd.Radvd(tmp_path)
    config = radvd.render((radvd.RaInterface("qr-rd", None, (radvd.RaPrefix("2001:db8:9::/64", "slaac"),)),))
    daemons.ensure("r2", router_ns, config)
    old = daemons.pid("r2")
    try:
        netns.delete(router_ns)
        netns.ensure(router_ns)
        sh(["ip", "link", "add", "qr-rd", "type", "veth", "peer", "name", "qr-rdp"], netns=router_ns)
        sh(["ip", "link", "set", "qr-rd", "up"], netns=router_ns)
        assert old is not None and daemons.pid("r2") == old and daemons.running_config("r2", router_ns) is None
        assert daemons.ensure("r2", router_ns, config) == "started"
        assert daemons.pid("r2") != old and not pid_alive(old, str(tmp_path))
        assert daemons.running_config("r2", router_ns) == config
    finally:
        daemons.stop("r2")
