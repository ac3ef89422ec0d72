"""floatnet.linux.conntrackd's pure parts: the configuration (FTFW over multicast on the HA device, a port per
VRRP id, the router's own lock/socket/log), the notify script keepalived runs, and keepalived's notify lines."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from floatnet.linux import conntrackd, keepalived

DIR = Path("/var/lib/floatnet/conntrackd/r1")


def test_render_syncs_ftfw_over_the_ha_device_on_a_port_of_its_own() -> None:
    text = conntrackd.render(conntrackd.SyncInstance(7, "ha-0123456789a", "169.254.192.3"), DIR)
    for line in ("Mode FTFW {", "StartupResync on", "IPv4_address 225.0.0.50", "Group 3787",
                 "IPv4_interface 169.254.192.3", "Interface ha-0123456789a", f"LockFile {DIR}/lock",
                 "Path /proc/self/cwd/ctl\n", f"LogFile {DIR}/conntrackd.log",
                 "IPv4_address 169.254.0.0/16"):  # fmt: skip
        assert line in text
    other = conntrackd.render(conntrackd.SyncInstance(8, "ha-0123456789a", "169.254.192.3"), DIR)
    assert "Group 3788" in other  # two routers of a project share the HA network, never a port


@pytest.mark.parametrize(
    ("instance", "directory", "why"),
    [
        (conntrackd.SyncInstance(0, "ha-x", "169.254.192.3"), DIR, "outside 1..254"),
        (conntrackd.SyncInstance(7, "ha-x", "not-an-ip"), DIR, "IPv4"),
    ],
)
def test_render_refuses_what_conntrackd_would(instance: conntrackd.SyncInstance, directory: Path, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        conntrackd.render(instance, directory)


def test_a_deep_state_directory_renders_a_socket_path_conntrackd_can_bind() -> None:
    """A lab node's state directory is ~120 bytes deep: the control socket's absolute path would exceed a unix
    socket's 107, which made the render raise and the router's whole plan (keepalived too) fail."""
    deep = Path("/tmp/floatnet-bhxxxx-abcdefgh/state-a/lab/bhxxxx-files/nodes/net1/state/conntrackd") / ("r" * 36)
    text = conntrackd.render(conntrackd.SyncInstance(7, "ha-x", "169.254.192.3"), deep)
    assert "        Path /proc/self/cwd/ctl\n" in text and f"LockFile {deep}/lock" in text


def _run(script: Path, state: str, tmp_path: Path) -> list[str]:
    """Run the notify script with a fake ``conntrackd`` on PATH that logs its arguments."""
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    (fake / "conntrackd").write_text(f"#!/bin/sh\nprintf '%s\\n' \"$3\" >>{tmp_path}/calls\n")
    (fake / "conntrackd").chmod(0o755)
    (tmp_path / "calls").unlink(missing_ok=True)
    subprocess.run(["sh", str(script), state], env={"PATH": f"{fake}:/usr/bin:/bin"}, check=True)
    return (tmp_path / "calls").read_text().split() if (tmp_path / "calls").exists() else []


def test_a_backup_holds_the_synced_sessions_in_its_kernel_and_the_notify_script_commits_nothing(
    tmp_path: Path,
) -> None:
    """The entries a BACKUP receives go straight into its kernel (no external cache to commit at the takeover,
    which lost the race with the instance's next packet); nothing purges the kernel when a MASTER steps down
    (it would remove those entries)."""
    text = conntrackd.render(conntrackd.SyncInstance(7, "ha-x", "169.254.192.3"), tmp_path)
    assert "        DisableExternalCache On\n" in text and "PurgeTimeout" not in text
    script = tmp_path / "notify.sh"
    script.write_text(conntrackd.notify_script(tmp_path))
    assert _run(script, "backup", tmp_path) == ["-n"]  # ask the MASTER for its state
    assert _run(script, "master", tmp_path) == ["-f", "-R", "-B"]  # caches from the kernel, sent to the others
    assert _run(script, "backup", tmp_path) == ["-n"]  # a former MASTER: no purge
    assert _run(script, "fault", tmp_path) == ["-n"]


def test_notify_script_bounds_every_conntrackd_call(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A conntrackd that never answers (busy resyncing, wedged) holds a transition only CLIENT_TIMEOUT per
    call; the script runs in the router's directory, where the socket's path points."""
    monkeypatch.setattr(conntrackd, "CLIENT_TIMEOUT", 1)
    script = tmp_path / "notify.sh"
    script.write_text(conntrackd.notify_script(tmp_path))
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "conntrackd").write_text("#!/bin/sh\npwd >>calls\nexec sleep 60\n")
    (fake / "conntrackd").chmod(0o755)
    started = time.monotonic()
    subprocess.run(["sh", str(script), "backup"], env={"PATH": f"{fake}:/usr/bin:/bin"}, check=True, timeout=30)
    assert time.monotonic() - started < 5
    assert (tmp_path / "calls").read_text().split() == [str(tmp_path)]


def test_keepalived_runs_the_notify_script_on_every_transition_only_when_given() -> None:
    plain = keepalived.HaInstance(7, "ha-x", 2)
    assert "notify" not in keepalived.render(plain)
    text = keepalived.render(keepalived.HaInstance(7, "ha-x", 2, notify="/d/notify.sh"))
    for state in ("master", "backup", "fault"):
        assert f'    notify_{state} "/bin/sh /d/notify.sh {state}"\n' in text
