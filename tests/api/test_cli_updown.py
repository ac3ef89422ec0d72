"""``floatnet up``/``down`` with real processes (server only: the agent is exercised by the e2e tests).

Checks: ``up --detach`` returns once the API answers and leaves PID files whose processes ``down`` stops;
``up`` in the foreground streams prefixed logs and stops its children on SIGINT; ``down`` ignores a PID
file whose process is not floatnet; ``router-nat-show`` explains a router namespace that is not on this node.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from floatnet.cli import supervise
from tests.conftest import free_port


def floatnet(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "floatnet", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _gone(pid: int, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not supervise.cmdline(pid):
            return True
        time.sleep(0.1)
    return False


def test_up_detach_then_down(tmp_path: Path) -> None:
    state = tmp_path / "state"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    started = floatnet(
        "up", "--detach", "--no-agent", "--state-dir", str(state), "--bind", f"127.0.0.1:{port}"
    )
    pid = supervise.read_pid(state / "run" / "server.pid")
    try:
        assert started.returncode == 0, started.stderr
        assert f"export OS_URL={url}" in started.stdout
        assert pid is not None and supervise.is_floatnet(pid, "server")
        listed = floatnet("--os-url", url, "net-list", "-f", "json")
        assert (listed.returncode, listed.stdout.strip()) == (0, "[]")
        again = floatnet(
            "up", "--detach", "--no-agent", "--state-dir", str(state), "--bind", f"127.0.0.1:{port}"
        )
        assert again.returncode == 1 and "already running" in again.stderr
        assert (state / "logs" / "server.log").read_text()
    finally:
        stopped = floatnet("down", "--state-dir", str(state))
    assert stopped.returncode == 0 and f"Stopped floatnet server (pid {pid}" in stopped.stdout
    assert pid is not None and _gone(pid)
    assert not (state / "run" / "server.pid").exists()
    assert floatnet("--os-url", url, "net-list").returncode == 1


def test_down_ignores_a_pid_that_is_not_floatnet(tmp_path: Path) -> None:
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        supervise.write_pid(tmp_path / "run" / "server.pid", sleeper.pid)
        done = floatnet("down", "--state-dir", str(tmp_path))
        assert done.returncode == 0 and "not running" in done.stdout
        assert sleeper.poll() is None
        assert not (tmp_path / "run" / "server.pid").exists()
    finally:
        sleeper.kill()
        sleeper.wait()


def test_up_foreground_prefixed_logs_and_sigint(tmp_path: Path) -> None:
    port = free_port()
    argv = [sys.executable, "-m", "floatnet", "up", "--no-agent", "--state-dir", str(tmp_path)]
    proc = subprocess.Popen(
        [*argv, "--bind", f"127.0.0.1:{port}"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("floatnet API on"):
                break
        assert any(line.startswith("server | ") for line in lines), lines
        server_pids = [pid for pid in _children(proc.pid) if supervise.is_floatnet(pid, "server")]
        assert len(server_pids) == 1
        os.kill(proc.pid, signal.SIGINT)
        assert proc.wait(30) == 0
        assert _gone(server_pids[0])
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _children(pid: int) -> list[int]:
    tasks = Path(f"/proc/{pid}/task")
    found: list[int] = []
    for task in tasks.iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(child) for child in text)
    return found


def test_router_nat_show_without_namespace_explains(tmp_path: Path) -> None:
    router_id = str(uuid.uuid4())
    done = floatnet("--os-url", f"http://127.0.0.1:{free_port()}", "router-nat-show", router_id)
    assert done.returncode == 1
    assert f"has no namespace qrouter-{router_id} on this node" in done.stderr
    assert "Traceback" not in done.stderr
