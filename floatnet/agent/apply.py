"""Execute a plan through :mod:`floatnet.linux`, isolating failures per resource.

An action that fails marks its resources (``refs``) ``ERROR`` with the reason and the loop goes on with the
next action: one broken router never stops the others. Only a gating action (a namespace that could not be
created, a port filter not installed) makes the rest of its group pointless; those actions are skipped
(their resources get the same reason).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from floatnet.agent import actions as A
from floatnet.linux.errors import KernelError

log = logging.getLogger(__name__)

Handler = Callable[[Any], None]


@dataclass
class ApplyResult:
    """What happened: per-resource errors, the groups that had a failure, and how many actions ran."""

    errors: dict[A.Ref, str] = field(default_factory=dict)
    failed_groups: set[str] = field(default_factory=set)
    done: int = 0
    seconds: float = 0.0

    def merge(self, other: ApplyResult) -> None:
        for ref, reason in other.errors.items():
            self.errors.setdefault(ref, reason)
        self.failed_groups |= other.failed_groups
        self.done += other.done
        self.seconds += other.seconds

    def add_permanent(self, poisoned: Mapping[A.Ref, str]) -> None:
        """Record the resources the planner could not handle as errors of this step (reported ``ERROR`` with
        the reason), without marking a group failed: retrying the same input would fail the same way."""
        for ref, reason in poisoned.items():
            self.errors.setdefault(ref, reason)


def describe(action: A.Action) -> str:
    """A one-line description for logs (type and the fields that identify the object)."""
    fields = {k: v for k, v in vars(action).items() if k not in ("group", "refs", "config", "table")}
    return f"{type(action).__name__}({', '.join(f'{k}={v}' for k, v in fields.items())})"


def run_actions(actions: Iterable[A.Action], handlers: Mapping[type, Handler]) -> ApplyResult:
    """Run each action's handler in order; never raises for a failing action (see the module docstring)."""
    result = ApplyResult()
    broken: dict[str, str] = {}
    start = time.monotonic()
    for action in actions:
        if action.group in broken:
            _record(result, action, f"skipped: {broken[action.group]}")
            continue
        try:
            handlers[type(action)](action)
        except Exception as exc:  # any failure is one resource's problem, never the loop's
            reason = str(exc) or type(exc).__name__
            level = logging.WARNING if _expected(exc) else logging.ERROR
            log.log(level, "%s failed: %s", describe(action), reason, exc_info=not _expected(exc))
            _record(result, action, reason)
            if action.gates:
                broken[action.group] = reason
        else:
            result.done += 1
            log.debug("done %s", describe(action))
    result.seconds = time.monotonic() - start
    return result


def _expected(exc: Exception) -> bool:
    return isinstance(exc, KernelError | OSError)


def _record(result: ApplyResult, action: A.Action, reason: str) -> None:
    result.failed_groups.add(action.group)
    for ref in action.refs:
        result.errors.setdefault(ref, reason)
