"""floatnet.linux.netns and .links against the real kernel, checked with ``ip -j`` and ``ethtool``."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from floatnet.linux import links, netns
from floatnet.linux.errors import KernelError
from tests.dataplane.conftest import dev_name, sh


def ip_json(ns: str | None, *args: str) -> list[dict]:
    return json.loads(sh(["ip", "-j", *args], netns=ns) or "[]")


def test_namespace_lifecycle(run_prefix):
    name = f"{run_prefix}-life"
    try:
        assert netns.ensure(name) is True
        assert netns.ensure(name) is False
        assert netns.exists(name)
        assert name in netns.list_names([run_prefix])
        assert name in sh(["ip", "netns", "list"])
        lo = ip_json(name, "link", "show", "lo")[0]
        assert "UP" in lo["flags"]
    finally:
        assert netns.delete(name) is True
    assert netns.delete(name) is False
    assert not netns.exists(name)


def test_kill_processes_empties_only_that_namespace(make_ns):
    inside, outside = make_ns("kin"), make_ns("kout")
    procs = [subprocess.Popen(netns.exec_argv(ns, ["sleep", "30"])) for ns in (inside, outside)]
    try:
        for ns in (inside, outside):
            assert _wait(lambda ns=ns: sh(["ip", "netns", "pids", ns]).split()), f"sleep not running in {ns}"
        assert netns.kill_processes(inside) == 1
        assert procs[0].wait(timeout=5) == -signal.SIGKILL
        assert procs[1].poll() is None
        assert netns.kill_processes(inside) == 0
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(timeout=5)


def _wait(predicate, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.05)
    return predicate()


def test_run_in_enters_namespace_and_comes_back(make_ns):
    ns = make_ns("runin")
    root_ino = netns.run_in(None, lambda: __import__("os").stat("/proc/thread-self/ns/net").st_ino)
    inside = netns.run_in(ns, lambda: __import__("os").stat("/proc/thread-self/ns/net").st_ino)
    assert inside == netns.inode(ns) != root_ino
    with pytest.raises(ZeroDivisionError):
        netns.run_in(ns, lambda: 1 / 0)
    with pytest.raises(KernelError):
        netns.run_in(f"{ns}-missing", lambda: None)
    assert not netns.exists(f"{ns}-missing")


def test_veth_addresses_routes(make_ns):
    ns = make_ns("veth")
    outer = dev_name("o1")
    try:
        assert links.ensure_veth(outer, "ignored", ns, mac="fa:16:3e:00:00:05", mtu=1450, peer_name="eth0")
        again = links.ensure_veth(outer, "ignored", ns, mac="fa:16:3e:00:00:05", mtu=1450, peer_name="eth0")
        assert not again
        inner = ip_json(ns, "-d", "link", "show", "eth0")[0]
        assert inner["address"] == "fa:16:3e:00:00:05" and inner["mtu"] == 1450
        assert inner["linkinfo"]["info_kind"] == "veth" and "UP" in inner["flags"]
        root = ip_json(None, "link", "show", outer)[0]
        assert root["mtu"] == 1450 and not ip_json(None, "-4", "addr", "show", outer)

        changed = links.sync_addresses(ns, "eth0", {"10.1.0.5/24", "203.0.113.9/32"})
        assert changed.added == {"10.1.0.5/24", "203.0.113.9/32"}
        assert not links.sync_addresses(ns, "eth0", {"10.1.0.5/24", "203.0.113.9/32"})
        assert links.sync_addresses(ns, "eth0", {"10.1.0.5/24"}).removed == {"203.0.113.9/32"}
        info = ip_json(ns, "-4", "addr", "show", "eth0")[0]["addr_info"]
        assert {(a["local"], a["prefixlen"]) for a in info} == {("10.1.0.5", 24)}

        assert links.sync_routes(ns, "10.1.0.1", [("192.0.2.0/24", "10.1.0.2")])
        assert not links.sync_routes(ns, "10.1.0.1", [("192.0.2.0/24", "10.1.0.2")])
        routes = {(r["dst"], r.get("gateway")) for r in ip_json(ns, "-4", "route")}
        assert {("default", "10.1.0.1"), ("192.0.2.0/24", "10.1.0.2"), ("10.1.0.0/24", None)} <= routes
        links.sync_routes(ns, None, [])
        routes = {(r["dst"], r.get("gateway")) for r in ip_json(ns, "-4", "route")}
        assert routes == {("10.1.0.0/24", None)}

        # the agent's form: the planner names what to delete and add; nothing is read back or diffed here
        added = links.edit_routes(ns, add=[("0.0.0.0/0", "10.1.0.1"), ("192.0.2.0/24", "10.1.0.2")])
        assert added.added == {"0.0.0.0/0 via 10.1.0.1", "192.0.2.0/24 via 10.1.0.2"}
        changed = links.edit_routes(ns, add=[("198.51.100.0/24", "10.1.0.3")], remove=[("192.0.2.0/24", "10.1.0.2")])
        assert changed.removed == {"192.0.2.0/24 via 10.1.0.2"}
        assert not links.edit_routes(ns, remove=[("192.0.2.0/24", "10.1.0.2")]).removed  # already gone: no error
        assert links.get_routes(ns) == {"0.0.0.0/0": "10.1.0.1", "198.51.100.0/24": "10.1.0.3"}
    finally:
        links.delete_link(outer)
    assert not ip_json(ns, "link", "show", "type", "veth")


def test_half_pair_is_recreated(make_ns):
    ns = make_ns("half")
    outer = dev_name("o2")
    try:
        links.ensure_veth(outer, "x", ns, peer_name="eth1")
        links.delete_link("eth1", ns)  # takes the root end with it
        # a stale device of that name, paired elsewhere
        sh(["ip", "link", "add", "eth1", "type", "veth", "peer", "name", "eth1x"], netns=ns)
        assert links.ensure_veth(outer, "x", ns, peer_name="eth1")
        assert ip_json(ns, "-d", "link", "show", "eth1")[0]["linkinfo"]["info_kind"] == "veth"
    finally:
        links.delete_link(outer)


def test_forwarding_only_inside_namespaces(make_ns):
    ns = make_ns("fwd")
    before = Path("/proc/sys/net/ipv4/ip_forward").read_text()
    links.set_forwarding(ns, True)
    assert sh(["sysctl", "-n", "net.ipv4.ip_forward"], netns=ns).strip() == "1"
    assert links.get_forwarding(ns)
    assert Path("/proc/sys/net/ipv4/ip_forward").read_text() == before
    with pytest.raises(KernelError):
        links.set_forwarding(None, True)  # type: ignore[arg-type]
    with pytest.raises(KernelError):
        links.sync_addresses(None, "lo", set())


def test_tx_offload_off(make_ns):
    ns = make_ns("tx")
    outer = dev_name("o3")
    try:
        links.ensure_veth(outer, "x", ns, peer_name="eth0")
        links.tx_offload_off(outer)
        links.tx_offload_off("eth0", ns)
        for dev, where in ((outer, None), ("eth0", ns)):
            features = sh(["ethtool", "-k", dev], netns=where)
            assert "tx-checksumming: off" in features
    finally:
        links.delete_link(outer)


def test_errors_name_the_object(make_ns):
    ns = make_ns("err")
    with pytest.raises(KernelError) as info:
        links.ensure_veth("x" * 16, "y", ns)
    assert "x" * 16 in str(info.value)
    with pytest.raises(KernelError) as info:
        links.add_address(ns, "nosuchdev", "10.0.0.1/24")
    assert "nosuchdev" in str(info.value)
