"""A filtered state fetch reads the placement bindings of the resources it answers only (issue 16: the
concerned agent's refetch is most of a change's server CPU; at 10,000 routers reading every binding row per
fetch was the next limit), and still answers by those bindings — an operator's move included."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from tests.api.helpers import create, network, subnet
from tests.api.test_agent_report import report

BINDING_TABLES = ("router_l3_agent_bindings", "network_dhcp_agent_bindings")


def statements(client: Any) -> list[str]:
    """The SQL statements the app's database runs from now on that read a binding table."""
    seen: list[str] = []

    def executed(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if any(table in statement for table in BINDING_TABLES):
            seen.append(" ".join(statement.split()))

    event.listen(client.app.state.core.db.engine, "before_cursor_execute", executed)
    return seen


def state(client: Any, host: str, **filters: Any) -> dict[str, Any]:
    response = client.get(f"/v2.0/floatnet/hosts/{host}/state", params=filters)
    assert response.status_code == 200, response.text
    return dict(response.json())


def l3_agent(client: Any, host: str) -> str:
    agents = client.get("/v2.0/agents", params={"host": host, "agent_type": "L3 agent"}).json()["agents"]
    return str(agents[0]["id"])


def test_a_filtered_fetch_reads_only_its_resources_bindings(app_client: Any) -> None:
    report(app_client, "node-a")
    report(app_client, "node-b")
    net = network(app_client, name="n")
    sub = subnet(app_client, net["id"], "10.9.0.0/24")
    routers = [create(app_client, "router", name=f"r{i}") for i in range(6)]
    moved = routers[0]["id"]
    app_client.put(f"/v2.0/routers/{moved}/add_router_interface", json={"subnet_id": sub["id"]})
    report(app_client, "node-a")  # binds everything where it was computed
    first = app_client.get(f"/v2.0/routers/{moved}/l3-agents").json()["agents"][0]["host"]
    second = "node-b" if first == "node-a" else "node-a"
    assert app_client.delete(f"/v2.0/agents/{l3_agent(app_client, first)}/l3-routers/{moved}").status_code == 204
    added = app_client.post(f"/v2.0/agents/{l3_agent(app_client, second)}/l3-routers", json={"router_id": moved})
    assert added.status_code == 201
    dhcp_host = app_client.get(f"/v2.0/networks/{net['id']}/dhcp-agents").json()["agents"][0]["host"]
    seen = statements(app_client)
    assert [r["id"] for r in state(app_client, second, router_id=moved)["routers"]] == [moved]
    assert state(app_client, first, router_id=moved)["absent"]["routers"] == [moved]
    by_network = state(app_client, second, network_id=net["id"])
    assert [n["id"] for n in by_network["networks"]] == [net["id"]]
    assert (by_network["networks"][0]["dhcp"] is not None) == (dhcp_host == second)
    assert seen and all(" IN (" in statement for statement in seen), seen
    seen.clear()
    whole = state(app_client, second)  # a full list reads the bindings whole, once
    assert moved in [r["id"] for r in whole["routers"]]
    assert len([s for s in seen if " IN (" not in s]) == len(BINDING_TABLES)
