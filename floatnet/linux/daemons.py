"""Starting and stopping the per-namespace daemons floatnet runs for its networks and routers (dnsmasq in
``qdhcp-``, radvd in ``qrouter-``).

Both daemonize and write a pidfile; both outlive an agent restart on purpose, so a PID is only ever trusted
after :func:`floatnet.linux.ovs_daemon.pid_alive` found our pidfile in its command line (a reused PID is
someone else's process). One start, one stop and one file removal serve both, so they cannot drift apart.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from floatnet.linux import netns as _netns
from floatnet.linux.errors import KernelError
from floatnet.linux.ovs_daemon import pid_alive


def start(
    netns: str, argv: list[str], what: str, ident: str, pid_of: Callable[[], int | None], timeout: float = 5.0
) -> int:
    """Run ``argv`` (a daemon) in ``netns`` and return its PID once ``pid_of`` reads a live one from its
    pidfile (the caller removed any stale pidfile first). :class:`KernelError` names ``what``/``ident``."""
    if not _netns.exists(netns):
        raise KernelError(what, ident, f"namespace {netns} does not exist")
    try:
        proc = subprocess.run(_netns.exec_argv(netns, argv), stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=timeout, check=False)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise KernelError(what, ident, exc) from exc
    if proc.returncode != 0:
        raise KernelError(what, ident, proc.stderr.strip() or f"exit {proc.returncode}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = pid_of()
        if pid is not None:
            return pid
        time.sleep(0.02)
    raise KernelError(what, ident, "no live process behind the pidfile")


def terminate(pid: int, needle: str, timeout: float = 5.0) -> None:
    """SIGTERM ``pid`` if it is still ours (``needle`` in its command line), SIGKILL what outlives
    ``timeout``."""
    if not pid_alive(pid, needle):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(pid, needle) and time.monotonic() < deadline:
        time.sleep(0.02)
    if pid_alive(pid, needle):
        os.kill(pid, signal.SIGKILL)


def remove_files(directory: Path) -> None:
    """Remove a stopped daemon's directory of files (configuration, pidfile, leases, log)."""
    if directory.is_dir():
        for f in directory.iterdir():
            f.unlink(missing_ok=True)
        directory.rmdir()
