"""The quota API's operations (``/v2.0/quotas``): each checks its policy rule, then runs one transaction.

The limits and their storage are :mod:`floatnet.core.access.quotas`; this is what the API calls, so the API
opens no transaction and decides no policy itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from floatnet.core.access import policy, quotas
from floatnet.core.context import RequestContext
from floatnet.core.service import Core


def _authorize(ctx: RequestContext, action: str, project_id: str) -> None:
    policy.check(ctx, action, {"project_id": project_id, "tenant_id": project_id})


class QuotaService:
    """List, show, update, reset and detail projects' quotas (administrators, or a project its own)."""

    def __init__(self, core: Core) -> None:
        self.core = core

    def list(self, ctx: RequestContext) -> list[dict[str, Any]]:
        """The projects with non-default limits (no project in the target: only administrators pass)."""
        policy.check(ctx, "get_quota", {})

        def work(session: Any) -> list[dict[str, Any]]:
            projects = quotas.projects_with_overrides(session)
            return [
                {**quotas.get(session, self.core.config, pid), "project_id": pid, "tenant_id": pid} for pid in projects
            ]

        return self.core.db.run(work, write=False)

    def show(self, ctx: RequestContext, project_id: str) -> dict[str, int]:
        """The project's limits."""
        _authorize(ctx, "get_quota", project_id)
        return self.core.db.run(lambda session: quotas.get(session, self.core.config, project_id), write=False)

    def update(self, ctx: RequestContext, project_id: str, body: Callable[[], Mapping[str, Any]]) -> dict[str, int]:
        """Set some of the project's limits (400 naming a bad one); returns all its limits.

        ``body()`` gives the requested limits; it is called only after the policy check passed, so a refused
        caller gets its 403 whatever it sent, as in Neutron.
        """
        _authorize(ctx, "update_quota", project_id)
        wanted = body()
        quotas.validate(wanted)
        return self.core.db.run(lambda session: quotas.set_limits(session, self.core.config, project_id, wanted))

    def reset(self, ctx: RequestContext, project_id: str) -> None:
        """Back to the defaults."""
        _authorize(ctx, "delete_quota", project_id)
        self.core.db.run(lambda session: quotas.reset(session, project_id))

    def defaults(self, ctx: RequestContext, project_id: str) -> dict[str, int]:
        """The limits a project without overrides has."""
        _authorize(ctx, "get_quota", project_id)
        return quotas.defaults(self.core.config)

    def details(self, ctx: RequestContext, project_id: str) -> dict[str, dict[str, int]]:
        """Limit, use and reservations of each resource."""
        _authorize(ctx, "get_quota", project_id)

        def work(session: Any) -> tuple[dict[str, int], dict[str, int]]:
            return quotas.get(session, self.core.config, project_id), quotas.usage(session, project_id)

        limits, used = self.core.db.run(work, write=False)
        return {name: {"limit": limits[name], "used": used[name], "reserved": 0} for name in limits}
