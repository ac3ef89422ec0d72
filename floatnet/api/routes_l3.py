"""Routes of the L3 API (routers, floating IPs)."""

from __future__ import annotations

from starlette.routing import BaseRoute


def routes() -> list[BaseRoute]:
    """The L3 routes."""
    return []
