"""What the root-only test directories (tests/dataplane, tests/e2e) share: skipping when the machine cannot
run them, and killing what a test left running inside one of its namespaces.

Both directories need the same guard (root plus a list of tools) and the same by-PID cleanup; keeping one copy
means a fix to either reaches both.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable

import pytest

from floatnet.linux import netns


def skip_reason(needs_root: str, tools: Iterable[str]) -> str | None:
    """Why these tests cannot run here (``needs_root`` when not root, else the missing tools), or None."""
    if os.geteuid() != 0:
        return needs_root
    missing = [t for t in tools if shutil.which(t) is None]
    return f"missing tools: {', '.join(missing)}" if missing else None


def skip_items_under(directory: str, items: list[pytest.Item], reason: str | None) -> None:
    """Mark every collected test whose file lies under ``directory`` skipped with ``reason`` (if any)."""
    if reason is None:
        return
    for item in items:
        if str(item.fspath).startswith(directory):
            item.add_marker(pytest.mark.skip(reason=reason))


def kill_ns_pids(ns: str) -> None:
    """SIGKILL what still runs inside namespace ``ns`` (PIDs from ``ip netns pids``)."""
    netns.kill_processes(ns)
