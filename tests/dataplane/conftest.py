"""Shared fixtures for tests against the real kernel (root only; otherwise every test here skips, saying why).

Reusable by every dataplane/e2e test module:

- ``run_prefix`` (session): a short unique prefix (``t`` + 4 hex) for every name a test run creates, so
  parallel runs never collide and the sweep at the end removes exactly this run's leftovers.
- ``make_ns`` (function): ``make_ns("vm")`` creates namespace ``<prefix>-vm`` (loopback up) and returns its
  name; at teardown it kills the processes left inside those namespaces (by PID) and deletes them.
- ``ovs`` (module): floatnet's own ovsdb-server + ovs-vswitchd in a temp rundir, running inside a namespace
  of their own (``ovs.netns``) so that their netdev tap devices never touch the root namespace and parallel
  runs do not fight over ``ovs-netdev``. Yields an :class:`OvsEnv`: ``.api`` (floatnet.linux.ovs.Ovs),
  ``.connection``, ``.netns`` (pass it as ``netns=`` to ``links.ensure_veth``/``tx_offload_off`` for the
  OVS end of a veth), ``.vsctl(*args)``, ``.daemons``. Stopped by PID at the end, namespace deleted.
- ``dev_name(tag)``: a device name ``<prefix><tag>`` (at most 15 characters, checked).
- ``sh(argv, netns=None)``: run a command (in a namespace) and return stdout; for independent assertions.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from floatnet.linux import netns as fl_netns
from floatnet.linux import ovs as fl_ovs
from floatnet.linux.ovs_daemon import OvsDaemons
from tests.privileged import kill_ns_pids, skip_items_under, skip_reason

TOOLS = ("ip", "nft", "ovs-vsctl", "ovsdb-server", "ovs-vswitchd")
_PREFIX = "t" + secrets.token_hex(2)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip every test under this directory with a clear reason when not root or tools are missing."""
    reason = skip_reason("needs root (namespaces, OVS, nftables)", TOOLS)
    skip_items_under(os.path.dirname(__file__), items, reason)


@pytest.fixture(scope="session")
def run_prefix() -> Iterator[str]:
    """This run's unique name prefix; namespaces still carrying it at the end are deleted."""
    yield _PREFIX
    for name in fl_netns.list_names([_PREFIX]):
        kill_ns_processes(name)
        fl_netns.delete(name)


def dev_name(tag: str) -> str:
    """A device name unique to this run: ``<prefix><tag>``, at most 15 characters."""
    name = _PREFIX + tag
    assert len(name) <= 15, f"device name {name!r} too long"
    return name


def kill_ns_processes(name: str) -> None:
    """SIGKILL the processes left inside one of this run's namespaces (by PID, as ``ip netns pids`` lists)."""
    if name.startswith(_PREFIX):
        kill_ns_pids(name)


@pytest.fixture
def make_ns(run_prefix: str) -> Iterator[Callable[[str], str]]:
    """Factory of throwaway namespaces ``<prefix>-<tag>``, removed (processes killed) after the test."""
    made: list[str] = []

    def make(tag: str) -> str:
        name = f"{run_prefix}-{tag}"
        fl_netns.ensure(name)
        made.append(name)
        return name

    yield make
    for name in reversed(made):
        kill_ns_processes(name)
        fl_netns.delete(name)


@dataclass
class OvsEnv:
    """A running private Open vSwitch: ``api`` for floatnet calls, ``netns`` where OVS ends of veths
    belong."""

    daemons: OvsDaemons
    api: fl_ovs.Ovs
    netns: str

    @property
    def connection(self) -> str:
        return self.daemons.connection

    def vsctl(self, *args: str) -> str:
        """Run ``ovs-vsctl`` against this OVS (an independent oracle for assertions)."""
        argv = ["ovs-vsctl", f"--db={self.connection}", "--timeout=10", *args]
        return subprocess.run(argv, capture_output=True, text=True, check=True).stdout


@pytest.fixture(scope="module")
def ovs(run_prefix: str) -> Iterator[OvsEnv]:
    """floatnet's own ovsdb-server + ovs-vswitchd (netdev datapath) in a temp rundir and a namespace of their
    own."""
    name = f"{run_prefix}-ovs{secrets.token_hex(2)}"
    fl_netns.ensure(name)
    rundir = tempfile.mkdtemp(prefix=f"{run_prefix}-ovs-")
    daemons = OvsDaemons(rundir, netns=name)
    try:
        daemons.start()
        yield OvsEnv(daemons, fl_ovs.Ovs(daemons.connection), name)
    finally:
        fl_ovs.disconnect(daemons.connection)
        daemons.stop()
        kill_ns_processes(name)
        fl_netns.delete(name)
        shutil.rmtree(rundir, ignore_errors=True)


def sh(argv: list[str], netns: str | None = None, check: bool = True, timeout: float = 20) -> str:
    """Run a command (in ``netns`` if given) and return its stdout; an independent oracle for assertions."""
    full = fl_netns.exec_argv(netns, argv)
    proc = subprocess.run(full, capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"{full} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout
