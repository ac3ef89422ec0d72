"""Child processes for ``floatnet up``/``down``: start, stream prefixed logs, stop gently, PID files.

The children are ``python -m floatnet server|agent …`` — separate processes, never imported code, so the CLI
stays HTTP-only. Each child gets its own session (``start_new_session``): a terminal's Ctrl-C reaches only
``up``, which then stops them in order (agent first, so it never reconciles against a vanished server). A PID
file is trusted only while ``/proc/PID/cmdline`` still shows that floatnet role, so ``down`` never signals a
recycled PID.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session

STOP_TIMEOUT = 15.0


def floatnet_argv(role: str, *options: str) -> list[str]:
    """``<this python> -m floatnet <role> <options>``."""
    return [sys.executable, "-m", "floatnet", role, *options]


def child_env() -> dict[str, str]:
    """The environment for children: unbuffered output so their log lines arrive as they are written."""
    return dict(os.environ, PYTHONUNBUFFERED="1")


def start(argv: Sequence[str], log: IO[str] | int) -> subprocess.Popen[str]:
    """Start a child in its own session with stdout and stderr going to ``log`` (a file, or PIPE)."""
    return subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        env=child_env(),
        start_new_session=True,
    )


def pump(proc: subprocess.Popen[str], prefix: str, out: IO[str]) -> threading.Thread:
    """Copy a child's output to ``out`` line by line, each line prefixed (``server | …``), in a thread."""

    def copy() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            out.write(f"{prefix} | {line.rstrip()}\n")
            out.flush()

    thread = threading.Thread(target=copy, name=f"log-{prefix.strip()}", daemon=True)
    thread.start()
    return thread


def stop_pid(pid: int, timeout: float = STOP_TIMEOUT) -> bool:
    """SIGTERM ``pid``, wait up to ``timeout`` for it to go, then SIGKILL; True if it had to be killed."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return False
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    return True


def stop_child(proc: subprocess.Popen[str], timeout: float = STOP_TIMEOUT) -> int:
    """Stop a child we started (SIGTERM, then SIGKILL after ``timeout``) and reap it; its exit status."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()


def _alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (a zombie child of ours counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    if state == "Z":
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        return False
    return True


def cmdline(pid: int) -> list[str]:
    """The argv of ``pid`` from /proc (empty if it is gone)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def is_floatnet(pid: int, role: str) -> bool:
    """True if ``pid`` is alive and runs ``… floatnet <role> …`` (guards against recycled PIDs)."""
    argv = cmdline(pid)
    if not argv or not _alive(pid):
        return False
    runs_floatnet = any(part == "floatnet" or part.endswith("/floatnet") for part in argv)
    return runs_floatnet and role in argv


def write_pid(path: Path, pid: int) -> None:
    """Write a PID file atomically (never a half-written PID for ``down`` to read)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    partial.write_text(f"{pid}\n")
    partial.replace(path)


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


SERVER_PID_HEADER = "X-Floatnet-Server-Pid"  # floatnet.api.routes_core names the answering process


def wait_until_own_server(
    url: str, proc: subprocess.Popen[str], timeout: float, stop: threading.Event | None = None
) -> str | None:
    """Poll ``GET url`` until the server ``proc`` runs answers it; None then, else why not (a sentence).

    An answer counts only when its ``X-Floatnet-Server-Pid`` is ``proc``'s PID: another server already
    listening on the URL must never pass for the one just started (its agent would work against someone
    else's server). A child that exits ends the wait at once (a taken port ends it within a second).
    """
    probe = session.Session(timeout=0.5)  # short: a listener that never answers must not hide our child's exit
    deadline = time.monotonic() + timeout
    foreign: str | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return f"exited with status {proc.returncode} before answering on {url}"
        if stop is not None and stop.is_set():
            return "stopped while starting"
        try:
            answer = probe.get(url, raise_exc=False, authenticated=False)
        except ks_exc.ClientException:
            time.sleep(0.2)
            continue
        pid = answer.headers.get(SERVER_PID_HEADER)
        if pid == str(proc.pid):
            return None
        foreign = f"pid {pid}" if pid else "not a floatnet server"
        time.sleep(0.2)
    if foreign is not None:
        return f"did not answer on {url}: another server answers there ({foreign}), not the one just started"
    return f"did not answer on {url} in {timeout:.0f} s"
