"""Issue 18: floatnet's own Open vSwitch daemons, killed under a running agent, are restarted by it and the
floating IP carries traffic again — without restarting the agent. Here the agent owns its OVS (no
``ovsdb_connection``), as ``floatnet up`` does on a machine without Open vSwitch.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest

from tests.e2e.conftest import make_fabric
from tests.e2e.fabric import Fabric, wait_until
from tests.e2e.topology import Seed, whoami


@pytest.fixture(scope="module")
def fabric() -> Iterator[Fabric]:
    yield from make_fabric(own_ovs=True)


def _reachable(seed: Seed) -> bool:
    seen = whoami(f"{seed.fabric.prefix}upstream", seed.fips["fip1"]["floating_ip_address"], timeout=0.5)
    return seen is not None and seen["server"] == "vm1"


@pytest.mark.parametrize("daemon", ["ovs-vswitchd", "ovsdb-server"])
def test_own_ovs_daemon_killed_is_restarted(seed: Seed, daemon: str) -> None:
    f = seed.fabric
    assert f.ovs is not None
    wait_until(lambda: _reachable(seed), 10, "the floating IP reachable before the fault")
    agent_pid, old = f.procs["agent"].pid, f.ovs.pid(daemon)
    assert old is not None
    log_before = len(f.log("agent"))
    started = time.monotonic()
    os.kill(old, signal.SIGKILL)
    wait_until(lambda: f.ovs.pid(daemon) not in (None, old) and _reachable(seed), 20, f"{daemon} restarted")
    took = time.monotonic() - started
    assert f.procs["agent"].pid == agent_pid and f.procs["agent"].poll() is None, "the agent was restarted"
    assert "Open vSwitch daemon floatnet runs exited" in f.log("agent")[log_before:]
    assert took < 20
