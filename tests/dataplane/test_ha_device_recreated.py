"""An HA router's ``ha-`` device deleted and re-created under a running keepalived and conntrackd (issue 15):
both bind to the device they found at their start — keepalived's VRRP instance stays FAULT on the old index,
conntrackd keeps its multicast membership on a device that is gone — and neither dies. Against the real kernel:
such a daemon observes as not running (so the agent's reconcile plans it) and ``ensure`` restarts it, which
brings the sync group membership back on the new device and the replica back to MASTER."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from floatnet.linux import conntrackd, daemons, keepalived
from tests.dataplane.conftest import sh
from tests.dataplane.test_keepalived import _wait

pytestmark = pytest.mark.skipif(
    shutil.which("keepalived") is None or shutil.which("conntrackd") is None,
    reason="needs keepalived and conntrackd (scripts/setup.sh)",
)
ROUTER, HA, HA_IP, VR_ID = "r1", "ha-x", "169.254.192.1", 9


def _make_ha(ns: str) -> None:
    sh(["ip", "link", "add", HA, "type", "veth", "peer", "name", "hp-x"], netns=ns)
    sh(["ip", "addr", "add", f"{HA_IP}/18", "dev", HA], netns=ns)
    for dev in (HA, "hp-x"):
        sh(["ip", "link", "set", dev, "up"], netns=ns)


def _master(ns: str) -> bool:
    return keepalived.Keepalived.is_master(ns, HA, VR_ID)


def test_keepalived_and_conntrackd_are_restarted_when_their_ha_device_is_recreated(
    make_ns: Callable[[str], str], tmp_path: Path
) -> None:
    ns = make_ns("hrd")
    sh(["ip", "link", "set", "lo", "up"], netns=ns)
    _make_ha(ns)
    vrrp, sync = keepalived.Keepalived(tmp_path / "k"), conntrackd.Conntrackd(tmp_path / "c")
    configs = {vrrp: keepalived.render(keepalived.HaInstance(VR_ID, HA, 0.2)),
               sync: conntrackd.render(conntrackd.SyncInstance(VR_ID, HA, HA_IP), sync.dir(ROUTER))}  # fmt: skip
    try:
        assert [daemon.ensure(ROUTER, ns, text) for daemon, text in configs.items()] == ["started", "started"]
        _wait(lambda: _master(ns), 20)
        _wait(lambda: conntrackd.SYNC_GROUP in sh(["ip", "maddr", "show", "dev", HA], netns=ns))
        pids = {daemon: daemon.pid(ROUTER) for daemon in configs}
        assert all(daemon.running_config(ROUTER, ns) == text for daemon, text in configs.items())
        for daemon in configs:  # as started by an agent from before the record: adopted, not restarted
            (daemon.dir(ROUTER) / daemons.BOUND).unlink()
        assert all(daemon.running_config(ROUTER, ns) == text for daemon, text in configs.items())
        assert all((daemon.dir(ROUTER) / daemons.BOUND).exists() for daemon in configs)

        sh(["ip", "link", "del", HA], netns=ns)
        _make_ha(ns)  # the agent's re-plug: same name, new ifindex
        assert all(daemon.pid(ROUTER) == pids[daemon] for daemon in configs)  # both live on, bound to the old one
        assert [daemon.running_config(ROUTER, ns) for daemon in configs] == [None, None]
        assert [daemon.ensure(ROUTER, ns, text) for daemon, text in configs.items()] == ["started", "started"]
        assert all(daemon.pid(ROUTER) not in (None, pids[daemon]) for daemon in configs)
        assert all(daemon.running_config(ROUTER, ns) == text for daemon, text in configs.items())
        _wait(lambda: conntrackd.SYNC_GROUP in sh(["ip", "maddr", "show", "dev", HA], netns=ns))
        _wait(lambda: _master(ns), 20)
        assert [daemon.ensure(ROUTER, ns, text) for daemon, text in configs.items()] == ["unchanged", "unchanged"]
    finally:
        for daemon in configs:
            daemon.stop(ROUTER)
