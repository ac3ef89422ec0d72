"""``floatnet agent`` refuses to run without root, with a clear message (checked as an unprivileged user)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest


def _unprivileged(argv: list[str]) -> list[str]:
    """``argv`` as it runs for an unprivileged user (nobody, when the tests themselves run as root)."""
    if os.geteuid() != 0:
        return argv
    if shutil.which("setpriv") is None:
        pytest.skip("running as root and setpriv is missing: cannot drop privileges")
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *argv]


def test_agent_needs_root() -> None:
    argv = [sys.executable, "-m", "floatnet", "agent", "--server", "http://127.0.0.1:9", "--host", "n1"]
    proc = subprocess.run(_unprivileged(argv), capture_output=True, text=True, timeout=60, cwd="/")
    assert proc.returncode == 2
    assert "must run as root" in proc.stderr


def test_agent_help_works_without_root() -> None:
    argv = [sys.executable, "-m", "floatnet", "agent", "--help"]
    proc = subprocess.run(_unprivileged(argv), capture_output=True, text=True, timeout=60, cwd="/")
    assert proc.returncode == 0 and "--server" in proc.stdout and "--state-dir" in proc.stdout
