"""One node's report is one request and one write transaction (issue 16: heartbeats at a thousand agents).

``POST /v2.0/floatnet/agents`` with ``{"agents": [...]}`` refreshes every row of the node, settles placement
and gives HA routers their replicas in a single transaction; a bad report writes nothing; a lost row or a
late report is recovered by the next report.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import event

from floatnet.agent.client import AGENT_TYPES, Client, report_body
from floatnet.db.models import Agent
from tests.api.l3_world import error, ok
from tests.api.test_agents import age_heartbeats
from tests.api.test_router_ha import agents_of, ha_router

URL = "/v2.0/floatnet/agents"
MEMBER = {"X-Project-Id": "alice", "X-Roles": "member"}


def report(client: Any, host: str, **options: Any) -> list[dict[str, Any]]:
    return list(ok(client.post(URL, json=report_body(host, AGENT_TYPES, {"routers": 0}, "nova", **options)))["agents"])


def commits_of(client: Any) -> list[int]:
    """A list that grows by one per committed write transaction of the app's database (the number of write
    statements it sent; an ``executemany`` is one)."""
    committed: list[int] = []
    writes: list[str] = []

    def executed(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            writes.append(statement)

    def commit(_conn: Any) -> None:
        if writes:
            committed.append(len(writes))
            writes.clear()

    event.listen(client.app.state.core.db.engine, "before_cursor_execute", executed)
    event.listen(client.app.state.core.db.engine, "commit", commit)
    return committed


def test_a_report_is_one_request_and_one_write(app_client: Any) -> None:
    router = ha_router(app_client)  # no agent yet: the first report places its replica (a second write)
    committed = commits_of(app_client)
    rows = report(app_client, "node-a")
    assert len(committed) == 2 and [agent["host"] for agent in agents_of(app_client, router["id"])] == ["node-a"]
    assert [row["agent_type"] for row in rows] == list(AGENT_TYPES) and all(row["alive"] for row in rows)
    assert {row["agent_type"]: row["availability_zone"] for row in rows}["L3 agent"] == "nova"
    committed.clear()
    again = report(app_client, "node-a")  # its HA router has fewer than 3 replicas, but every alive agent's
    assert committed == [1] and [row["id"] for row in again] == [row["id"] for row in rows]
    report(app_client, "node-b")  # ... until a second agent reports: it gets a replica
    assert sorted(agent["host"] for agent in agents_of(app_client, router["id"])) == ["node-a", "node-b"]


def test_a_lost_row_or_a_late_report_is_recovered_by_the_next(app_client: Any) -> None:
    rows = {row["agent_type"]: row for row in report(app_client, "node-a")}
    ok(app_client.delete(f"/v2.0/agents/{rows['DHCP agent']['id']}"), 204)
    age_heartbeats(app_client, 3600)
    listed = ok(app_client.get("/v2.0/agents"))["agents"]
    assert len(listed) == 2 and not any(agent["alive"] for agent in listed)
    back = {row["agent_type"]: row for row in report(app_client, "node-a", start_flag=True)}
    assert back["L3 agent"]["id"] == rows["L3 agent"]["id"] and back["DHCP agent"]["id"] != rows["DHCP agent"]["id"]
    listed = ok(app_client.get("/v2.0/agents"))["agents"]
    assert len(listed) == 3 and all(agent["alive"] for agent in listed)


def test_a_bad_report_writes_nothing(app_client: Any) -> None:
    body = report_body("node-a", AGENT_TYPES, {}, "nova")
    body["agents"][2]["configurations"] = "not an object"
    error(app_client.post(URL, json=body), 400, "HTTPBadRequest")
    count = app_client.app.state.core.db.run(lambda s: s.query(Agent).count(), write=False)
    assert count == 0


def hostile_bodies() -> list[tuple[Any, str]]:
    """Reports the server must refuse with a 400, and the word the message must name."""
    one = report_body("node-a", AGENT_TYPES, {}, "nova")["agents"]
    other_host = dict(one[1], host="node-b")
    return [
        ({"agents": {"host": "node-a"}}, "agents"),
        ({"agents": []}, "agents"),
        ({"agents": ["node-a"]}, "agents"),
        ({"agents": [one[0], other_host]}, "host"),
        ({"agents": [one[0], one[0]]}, "agent_type"),
        ({"agents": [dict(one[0], agent_type=f"type {i}") for i in range(17)]}, "agents"),
        ({"agents": [dict(one[0], colour="red")]}, "colour"),
        ({"agents": [dict(one[0], host="")]}, "host"),
    ]


@pytest.mark.parametrize("index", range(len(hostile_bodies())))
def test_hostile_reports_through_a_live_server(live_server: str, index: int) -> None:
    body, named = hostile_bodies()[index]
    with httpx.Client(base_url=live_server, timeout=30) as http:
        response = http.post(URL, json=body)
        assert response.status_code == 400, response.text
        assert named in response.json()["NeutronError"]["message"]
        error(http.post(URL, json=report_body("node-a", AGENT_TYPES, {}, "nova"), headers=MEMBER), 403,
              "PolicyNotAuthorized")  # fmt: skip
        assert all(agent["host"] != "node-b" for agent in ok(http.get("/v2.0/agents"))["agents"])


def test_the_agent_reports_all_its_rows_in_one_request(live_server: str) -> None:
    client = Client(live_server, "node-live", zone="rack-7", roles=("l3",))
    sent: list[str] = []
    call = client._call
    client._call = lambda method, path, body: sent.append(path) or call(method, path, body=body)  # type: ignore[method-assign,assignment,misc,func-returns-value]
    client.register({"routers": 1})
    client.close()
    assert sent == ["/floatnet/agents"]
    with httpx.Client(base_url=live_server, timeout=30) as http:
        rows = [agent for agent in ok(http.get("/v2.0/agents"))["agents"] if agent["host"] == "node-live"]
    assert sorted(row["agent_type"] for row in rows) == ["L3 agent", "Open vSwitch agent"]
    assert {row["agent_type"]: row["availability_zone"] for row in rows}["L3 agent"] == "rack-7"
