"""The change feed: cursors, long polls woken by commits, retention and 410 ChangesExpired."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx

from floatnet.core.agent_protocol import feed
from tests.api.l3_world import error, ok

URL = "/v2.0/floatnet/hosts/node1/changes"


def seq_of(client: Any) -> int:
    return int(ok(client.get(URL, params={"timeout": 0}))["seq"])


def make_router(client: Any, name: str) -> str:
    return str(ok(client.post("/v2.0/routers", json={"router": {"name": name}}), 201)["router"]["id"])


def test_changes_after_a_cursor(app_client: Any) -> None:
    start = seq_of(app_client)
    router_id = make_router(app_client, "r1")
    batch = ok(app_client.get(URL, params={"after": start, "timeout": 0}))
    assert batch["changes"] == [
        {"seq": start + 1, "kind": "router", "id": router_id, "op": "create", "router_id": router_id,
         "network_id": None}
    ]  # fmt: skip
    assert batch["seq"] == start + 1
    empty = ok(app_client.get(URL, params={"after": batch["seq"], "timeout": 0}))
    assert empty == {"seq": batch["seq"], "changes": []}


def test_bad_cursor_and_timeout(app_client: Any) -> None:
    error(app_client.get(URL, params={"after": "x"}), 400, "HTTPBadRequest")
    error(app_client.get(URL, params={"timeout": 61}), 400, "HTTPBadRequest")
    error(app_client.get(URL, params={"after": seq_of(app_client) + 5, "timeout": 0}), 410, "ChangesExpired")


def test_pruned_cursor_answers_410(app_client: Any) -> None:
    for index in range(6):
        make_router(app_client, f"r{index}")
    core = app_client.app.state.core
    assert core.db.run(lambda s: feed.prune(s, keep_rows=2)) == 4
    newest = seq_of(app_client)
    error(app_client.get(URL, params={"after": 0, "timeout": 0}), 410, "ChangesExpired")
    error(app_client.get(URL, params={"after": newest - 3, "timeout": 0}), 410, "ChangesExpired")
    assert len(ok(app_client.get(URL, params={"after": newest - 2, "timeout": 0}))["changes"]) == 2


def test_prune_keeps_the_newest_row(app_client: Any) -> None:
    make_router(app_client, "r")
    newest = seq_of(app_client)
    core = app_client.app.state.core
    core.db.run(lambda s: feed.prune(s, keep_rows=0))
    assert seq_of(app_client) == newest
    assert ok(app_client.get(URL, params={"after": newest, "timeout": 0}))["changes"] == []


def test_long_poll_wakes_on_commit(live_server: str) -> None:
    with httpx.Client(base_url=live_server, timeout=30) as client:
        start = seq_of(client)
        result: dict[str, Any] = {}

        def poll() -> None:
            response = client.get(URL, params={"after": start, "timeout": 20})
            result["at"] = time.monotonic()
            result["body"] = response.json()

        poller = threading.Thread(target=poll)
        poller.start()
        time.sleep(0.3)
        router_id = make_router(client, "wake")
        done = time.monotonic()
        poller.join(25)
        assert result["body"]["changes"][0]["id"] == router_id
        # The in-process wake-up answers at once; the database re-check fallback would take a whole second.
        assert result["at"] - done < 0.9, result["at"] - done


def test_long_poll_times_out_empty(live_server: str) -> None:
    with httpx.Client(base_url=live_server, timeout=30) as client:
        start = seq_of(client)
        began = time.monotonic()
        assert ok(client.get(URL, params={"after": start, "timeout": 0.5})) == {"seq": start, "changes": []}
        assert 0.45 < time.monotonic() - began < 3
