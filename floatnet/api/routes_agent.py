"""Routes of the agent protocol (``/v2.0/floatnet/...``) and ``/v2.0/agents``."""

from __future__ import annotations

from starlette.routing import BaseRoute


def routes() -> list[BaseRoute]:
    """The agent routes."""
    return []
