"""Processes the lab runs inside its namespaces, started detached and stopped by PID.

A PID is only signalled when ``/proc/<pid>/cmdline`` still contains the marker recorded at start (a path or a
name carrying the lab's prefix), so a recycled PID never gets killed by ``lab down``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from floatnet.lab.state import Proc


def in_ns(ns: str, argv: list[str]) -> list[str]:
    """``argv`` run inside network namespace ``ns`` (``ip netns exec`` execs, so the PID is the command's)."""
    return ["ip", "netns", "exec", ns, *argv]


def spawn(argv: list[str], log: Path, marker: str) -> Proc:
    """Start ``argv`` in its own session, output to ``log``; return it as a :class:`Proc` with ``marker``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        child = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Proc(pid=child.pid, marker=marker)


def cmdline(pid: int) -> str | None:
    """The command line of ``pid`` joined by spaces, or None when it is gone (or a zombie)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return raw.replace(b"\0", b" ").decode(errors="replace").strip() or None


def alive(proc: Proc) -> bool:
    """True while ``proc`` runs and is still the process we started."""
    line = cmdline(proc.pid)
    return line is not None and proc.marker in line


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def stop(proc: Proc, timeout: float = 3.0) -> None:
    """SIGTERM ``proc`` if it is still ours, SIGKILL after ``timeout`` seconds; a gone one is no error."""
    if not alive(proc):
        return
    try:
        os.kill(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(proc.pid)
        if not alive(proc):
            return
        time.sleep(0.05)
    try:
        os.kill(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    _reap(proc.pid)


def kill(proc: Proc, timeout: float = 5.0) -> None:
    """SIGKILL ``proc`` if it is still ours and wait (up to ``timeout`` s) until it is gone: a power loss, no
    chance to clean up (the PID 1 of a PID namespace ignores SIGTERM from outside, and its namespace dies with
    it)."""
    if not alive(proc):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while alive(proc) and time.monotonic() < deadline:
        _reap(proc.pid)
        time.sleep(0.02)


def best_effort(errors: list[str], what: str, fn: Callable[..., object], *args: object) -> None:
    """Call ``fn(*args)``; a failure is appended to ``errors`` (teardown goes on with the next step)."""
    try:
        fn(*args)
    except Exception as exc:  # teardown: report and go on, whatever broke
        detail = getattr(exc, "stderr", None) or exc
        errors.append(f"{what}: {str(detail).strip()}")


def run(argv: list[str], timeout: float = 30.0, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a short command, capturing its output; raises ``CalledProcessError`` on failure when ``check``."""
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=check)
