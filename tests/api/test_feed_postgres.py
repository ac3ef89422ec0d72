"""Two real servers on one real PostgreSQL (issues 14 and 16): a change written through one wakes the long
polls of the hosts it concerns on the other within milliseconds (LISTEN/NOTIFY), and only those."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx

from tests.api.l3_world import ok
from tests.api.test_agent_scheduler import register_node
from tests.api.test_postgres import pg_ini


def _poll(url: str, host: str, after: int, timeout: float, results: dict[str, Any]) -> None:
    with httpx.Client(base_url=url, timeout=timeout + 10) as client:
        params = {"after": after, "timeout": timeout}
        body = ok(client.get(f"/v2.0/floatnet/hosts/{host}/changes", params=params))
        results[host] = (time.monotonic(), body["changes"])


def test_a_change_through_one_server_wakes_the_other(postgres_url: str, live_server_factory: Any) -> None:
    first, second = live_server_factory(pg_ini(postgres_url)), live_server_factory(pg_ini(postgres_url))
    with httpx.Client(base_url=first, timeout=30) as writer:
        register_node(writer, "node-a")  # the only agent: every router goes to node-a
        for attempt in range(3):  # the follower may stop between rounds; every round must wake
            after = int(ok(writer.get("/v2.0/floatnet/hosts/x/changes", params={"timeout": 0}))["seq"])
            results: dict[str, Any] = {}
            polls = [threading.Thread(target=_poll, args=(second, host, after, 3.0, results))
                     for host in ("node-a", "node-z")]  # fmt: skip
            for poll in polls:
                poll.start()
            time.sleep(0.5)
            router = ok(writer.post("/v2.0/routers", json={"router": {"name": f"r{attempt}"}}), 201)["router"]
            done = time.monotonic()
            for poll in polls:
                poll.join(15)
            at, rows = results["node-a"]
            assert [c["id"] for c in rows] == [router["id"]]
            assert at - done < 0.5, at - done  # NOTIFY, not the 30 s safety net nor the poll's timeout
            assert results["node-z"][1] == []  # not concerned: not woken, not answered
