"""Two servers in one process share nothing: each answers by its own policy file and its own change feed.

Issue 12 item 6: the policy engine, the change notifier and the pruner used to be module globals (and the
notifier listened on every SQLAlchemy ``Session`` in the process), so a second app silently took over the
first one's rules and every commit anywhere woke every long poll.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.api.helpers import assert_error, network, project
from tests.conftest import DEFAULT_INI

CHANGES = "/v2.0/floatnet/hosts/node1/changes"


def _two_apps(make_app_client: Callable[..., Any], tmp_path: Path) -> tuple[Any, Any]:
    """App A on Neutron's defaults; app B (built second) whose policy file lets only admins create networks."""
    policy = tmp_path / "admins-only.yaml"
    policy.write_text('"create_network": "rule:admin_only"\n')
    first = make_app_client()
    second = make_app_client(f"{DEFAULT_INI}\n[oslo_policy]\npolicy_file = {policy}\n")
    return first, second


def test_each_app_answers_by_its_own_policy(make_app_client: Callable[..., Any], tmp_path: Path) -> None:
    first, second = _two_apps(make_app_client, tmp_path)
    alice = project("alpha")
    assert network(first, alice, name="a")["project_id"] == "alpha"  # defaults: a member may create
    refused = second.post("/v2.0/networks", json={"network": {"name": "b"}}, headers=alice)
    assert_error(refused, 403, "PolicyNotAuthorized", "create_network")
    assert network(first, alice, name="again")["name"] == "again"  # B's file did not leak into A
    assert network(second, name="admin-b")["name"] == "admin-b"


def _wakes(waiting_app: Any, writing_app: Any) -> bool:
    """Whether a long-poll waiter of ``waiting_app`` wakes when ``writing_app`` commits a change."""
    notifier = waiting_app.app.state.core.notifier
    version = notifier.version
    write = threading.Timer(0.1, lambda: network(writing_app, name="wake"))
    write.start()
    try:
        return asyncio.run(notifier.wait(version, timeout=2.0))
    finally:
        write.join()


def test_each_feed_wakes_only_its_own_waiters(make_app_client: Callable[..., Any], tmp_path: Path) -> None:
    first, second = _two_apps(make_app_client, tmp_path)
    assert first.app.state.core.db.url != second.app.state.core.db.url
    assert not _wakes(first, second)
    assert not _wakes(second, first)
    assert _wakes(first, first)
    assert _wakes(second, second)
    seq_a = first.get(CHANGES, params={"timeout": 0}).json()["seq"]
    seq_b = second.get(CHANGES, params={"timeout": 0}).json()["seq"]
    assert (seq_a, seq_b) == (2, 2)  # each log holds only its own app's two networks
