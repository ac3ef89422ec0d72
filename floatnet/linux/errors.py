"""The kernel layer's single exception type.

Every function in :mod:`floatnet.linux` turns the errno values, netlink errors and tool exit codes it meets
into a :class:`KernelError` naming the operation and the object, so the agent can mark exactly that resource
``ERROR`` and go on with the next one.
"""

from __future__ import annotations

import errno as _errno


class KernelError(Exception):
    """A kernel operation failed: ``op`` (what was attempted), ``obj`` (on what), ``detail`` (why)."""

    def __init__(self, op: str, obj: str, detail: object = "") -> None:
        self.op = op
        self.obj = obj
        self.detail = describe(detail)
        super().__init__(f"{op} {obj}: {self.detail}" if self.detail else f"{op} {obj}")


def describe(detail: object) -> str:
    """Render an error cause readably; pyroute2 raises bare errno numbers (34 = name too long)."""
    if isinstance(detail, int) and not isinstance(detail, bool):
        return f"errno {detail} ({_errno.errorcode.get(detail, '?')})"
    code = getattr(detail, "code", None)
    if isinstance(detail, Exception) and isinstance(code, int):
        return f"errno {code} ({_errno.errorcode.get(code, '?')}): {detail}"
    return str(detail)
