"""Hooks other domain modules run when a port goes away, so :mod:`floatnet.core.resources.ports` imports none of them.

Floating IPs register :func:`floatnet.core.resources.floatingips.disassociate_port` here: deleting a port first
disassociates the floating IPs mapped to it (in the same transaction), as Neutron does.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from floatnet.db.models import Port

BeforeDelete = Callable[[Session, Port], None]
_BEFORE_DELETE: list[BeforeDelete] = []


def on_before_delete(hook: BeforeDelete) -> BeforeDelete:
    """Register ``hook(session, port)`` to run before any port is deleted (idempotent; a decorator)."""
    if hook not in _BEFORE_DELETE:
        _BEFORE_DELETE.append(hook)
    return hook


def before_delete(session: Session, port: Port) -> None:
    """Run every registered hook for ``port`` (called by the ports module inside its transaction)."""
    for hook in _BEFORE_DELETE:
        hook(session, port)
