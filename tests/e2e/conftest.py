"""Fixtures of the end-to-end tests: a whole floatnet (server, agent, private OVS, lab) per test module.

Needs root and the system tools; otherwise every test here is skipped with the reason. Each module gets a
unique prefix (``e`` + 4 hex + ``-``) for bridges, namespaces, devices and the agent's host name; teardown
runs even after failures: agent and server stopped by PID, ``floatnet lab down``, the namespaces of this
server's routers and networks removed (their processes killed by PID first), OVS stopped, and a final sweep of
the prefix.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from floatnet.lab.procs import cmdline
from floatnet.linux import netns as fl_netns
from floatnet.linux.names import dhcp_ns, router_ns
from floatnet.linux.ovs_daemon import OvsDaemons
from tests.e2e.fabric import Fabric
from tests.e2e.topology import Seed, build_seed
from tests.privileged import kill_ns_pids, skip_items_under, skip_reason

TOOLS = ("ip", "nft", "ovs-vsctl", "ovsdb-server", "ovs-vswitchd", "dnsmasq", "radvd", "udhcpc", "dhclient", "tcpdump",
         "dig", "conntrack", "ethtool")  # fmt: skip


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip every test under this directory with a clear reason when not root or tools are missing."""
    reason = skip_reason("end-to-end tests need root (namespaces, OVS, nftables, dnsmasq)", TOOLS)
    skip_items_under(os.path.dirname(__file__), items, reason)


LOG_TAIL_LINES = 40
LOG_FILES = 24
LOG_NAMES = ("log", "host")  # dnsmasq's log and the hosts it was told to serve
WORK_DIRS = ("workdir", "state")  # the attributes naming a fixture's work directory (fabric, nodes, demo run)


def _log_tails(workdir: Path) -> str:
    """The last lines of the logs under a fixture's work directory (server, agents, OVS, the instances' DHCP
    clients, dnsmasq's ``log`` and ``host`` file): what a failure on a CI machine, whose work directories are
    gone afterwards, is diagnosed from."""
    logs = [path for path in workdir.rglob("*") if path.suffix == ".log" or path.name in LOG_NAMES]
    parts = []
    for path in sorted(logs)[:LOG_FILES]:
        lines = path.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
        parts.append("\n".join([f"== {path.relative_to(workdir)}", *lines]))
    return "\n".join(parts)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed test's report carries the log tails of every fixture with a work directory (fabric, nodes, lab
    cluster, demo run)."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when != "call" or not report.failed:
        return
    for name, value in getattr(item, "funcargs", {}).items():
        for attribute in WORK_DIRS:
            workdir = getattr(value, attribute, None)
            if isinstance(workdir, Path) and workdir.is_dir():
                report.sections.append((f"floatnet logs of {name} ({workdir})", _log_tails(workdir)))


def _owned_namespaces(fabric: Fabric) -> set[str]:
    """qrouter-/qdhcp- namespaces of this fabric: named after its server's routers and networks (UUIDs: nobody
    else's), or running a process whose command line names its work directory (its dnsmasq)."""
    owned: set[str] = set()
    for path, key, name_of in (("/routers", "routers", router_ns), ("/networks", "networks", dhcp_ns)):
        try:
            owned |= {name_of(item["id"]) for item in fabric.api("GET", path)[key]}
        except Exception:  # a broken server must not stop the teardown
            continue
    for ns in fl_netns.list_names(["qrouter-", "qdhcp-"]):
        pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True, check=False).stdout
        if any(str(fabric.workdir) in (cmdline(int(pid)) or "") for pid in pids.split()):
            owned.add(ns)
    return owned


def _teardown(fabric: Fabric) -> None:
    fabric.stop("agent")
    owned = _owned_namespaces(fabric)
    fabric.lab("down", check=False)
    fabric.stop("server")
    for ns in sorted(owned) + fl_netns.list_names([fabric.prefix]):
        if fl_netns.exists(ns):
            kill_ns_pids(ns)
            fl_netns.delete(ns)
    if fabric.ovs is not None:
        fabric.ovs.stop()
    kill_ns_pids(fabric.ovs_netns)
    fl_netns.delete(fabric.ovs_netns)


@pytest.fixture(scope="module")
def fabric() -> Iterator[Fabric]:
    """Server + agent + OVS + ``lab up`` for one test module; all removed afterwards."""
    yield from make_fabric(own_ovs=False)


def make_fabric(own_ovs: bool) -> Iterator[Fabric]:
    """A fabric; with ``own_ovs`` the agent starts floatnet's own OVS daemons itself (no ``ovsdb_connection``),
    as ``floatnet up`` does on a machine without Open vSwitch running."""
    prefix = f"e{secrets.token_hex(2)}-"
    workdir = Path(tempfile.mkdtemp(prefix=f"floatnet-{prefix}"))
    resolv_before = _digest(Path("/etc/resolv.conf"))
    fab = Fabric(prefix=prefix, workdir=workdir, own_ovs=own_ovs)
    try:
        fl_netns.ensure(fab.ovs_netns)
        fab.ovs = OvsDaemons(workdir / ("state/ovs" if own_ovs else "ovs"), netns=fab.ovs_netns)
        if not own_ovs:
            fab.ovs.start()
        fab.write_config()
        fab.start_server()
        fab.start_agent()
        fab.lab("up")
        yield fab
    finally:
        _teardown(fab)
        assert _digest(Path("/etc/resolv.conf")) == resolv_before, "the host's /etc/resolv.conf was changed"
        if os.environ.get("FLOATNET_E2E_KEEP") is None:
            shutil.rmtree(workdir, ignore_errors=True)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else ""


@pytest.fixture(scope="module")
def seed(fabric: Fabric) -> Seed:
    """The seed's topology (VLAN 100, flat external, router) with instances vm1, vm2 and vm1's floating IP."""
    return build_seed(fabric)
