"""The agent protocol's per-host operations (``/v2.0/floatnet/hosts/{host}/…``), for the API to call.

Each operation is for administrators only (agents authenticate as such) and runs its own transaction: the
host's desired state (:mod:`host_state`), the change feed after a cursor (:mod:`feed`, pruned on the way at
most every ``notify.PRUNE_EVERY`` seconds per server) and the statuses agents report (:mod:`status`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from floatnet.core.agent_protocol import feed, host_state, status
from floatnet.core.agent_protocol.agents import down_time
from floatnet.core.context import RequestContext
from floatnet.core.errors import PolicyNotAuthorized
from floatnet.core.service import Core


class HostService:
    """What an agent asks of the server about its host."""

    def __init__(self, core: Core) -> None:
        self.core = core

    @staticmethod
    def authorize(ctx: RequestContext, action: str) -> None:
        """403 ``PolicyNotAuthorized`` for ``action`` unless ``ctx`` is an administrator (an agent)."""
        if not ctx.is_admin:
            raise PolicyNotAuthorized(action=action)

    def state(self, ctx: RequestContext, host: str, filters: host_state.Filters) -> dict[str, Any]:
        """The host's desired state, narrowed by ``filters`` (one consistent snapshot)."""
        self.authorize(ctx, "get_host_state")
        config = self.core.config
        return self.core.db.run(
            lambda s: host_state.snapshot(s, config, host, filters, down_time(config)), write=False
        )

    def latest_seq(self) -> int:
        """The newest sequence number in the change log (0 when empty)."""
        return int(self.core.db.run(feed.latest_seq, write=False))

    def read_changes(self, host: str, after: int) -> feed.Batch:
        """The changes concerning ``host`` after ``after`` (410 when out of the log), pruning the log first
        when it is due."""
        if self.core.pruner.due():
            self.core.db.run(feed.prune)
        return self.core.db.run(lambda s: feed.read_changes(s, host, after), write=False)

    def report_status(self, ctx: RequestContext, host: str, body: Callable[[], Any]) -> dict[str, int]:
        """Apply the statuses the agent on ``host`` reports; ``body()`` (the request's JSON) is read after the
        check."""
        self.authorize(ctx, "update_host_status")
        reported = status.parse(body())
        config = self.core.config
        return self.core.db.run(lambda s: status.apply(s, reported, host, config))
