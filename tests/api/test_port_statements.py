"""The SQL behind the two hottest port requests (issue 21's speed target: port create and a 1,000-port list
no slower than before the API-breadth work). Each test pins a statement shape that the speed depends on, and
checks that the answer is still complete."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from tests.api.helpers import network, port, project, subnet

ALICE = project("alice")
READS = ("SELECT", "WITH")  # the feed's remote-group referrers walk the binding hosts with a recursive query
SIDE_TABLES = ("ip_allocations", "securitygroupportbindings", "allowedaddresspairs", "extradhcpopts")


@contextmanager
def captured(app_client: Any) -> Iterator[list[tuple[str, Any]]]:
    """The statements (SQL, parameters) the app's engine runs inside the block."""
    engine = app_client.app.state.core.db.engine
    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        seen.append((" ".join(statement.split()), parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", capture)


def _touching(statements: list[tuple[str, Any]], table: str) -> list[str]:
    return [sql for sql, _ in statements if table in sql]


def test_a_default_port_is_bound_to_its_projects_group_by_one_statement(app_client: Any) -> None:
    net = network(app_client, ALICE)["id"]
    subnet(app_client, net, "10.0.0.0/24", ALICE)
    first = port(app_client, net, ALICE)  # the project's first port creates its default group
    with captured(app_client) as statements:
        made = port(app_client, net, ALICE)
    assert made["security_groups"] == first["security_groups"] and len(made["security_groups"]) == 1
    [binding] = _touching(statements, "default_security_groups")
    assert binding.startswith("INSERT INTO securitygroupportbindings") and "RETURNING" in binding
    writes = [sql for sql in _touching(statements, "securitygroupportbindings") if not sql.startswith(READS)]
    assert writes == [binding]  # reads: the per-host feed asks which hosts the new member concerns (audience.py)
    shown = app_client.get(f"/v2.0/ports/{made['id']}", headers=ALICE).json()["port"]
    assert shown["security_groups"] == made["security_groups"]


def test_the_feed_does_not_read_a_created_port_back(app_client: Any) -> None:
    """The per-host feed names a create's hosts from what the create holds (its host, network type and
    groups): no statement reads the new port's row or group bindings back before the commit."""
    net = network(app_client, ALICE)["id"]
    subnet(app_client, net, "10.0.0.0/24", ALICE)
    port(app_client, net, ALICE)
    with captured(app_client) as statements:
        made = port(app_client, net, ALICE)
    reads = [sql for sql, _ in statements if sql.startswith(READS)]
    assert not [sql for sql in reads if "WHERE ports.id IN" in sql or "securitygroupportbindings.port_id IN" in sql]
    # network, quota and usage, subnets, free addresses; the feed: DHCP binding, agents (DHCP placed by
    # computation), remote-group referrers
    assert len(reads) <= 8, reads
    assert made["security_groups"]


@contextmanager
def sqlite_steps(app_client: Any) -> Iterator[list[int]]:
    """SQLite virtual-machine steps (in hundreds) the app's statements take inside the block: a count of the
    database's work that does not depend on the machine's load."""
    engine = app_client.app.state.core.db.engine
    steps = [0]

    def tick() -> int:
        steps[0] += 1
        return 0

    def watch(conn: Any, *_args: Any) -> None:
        conn.connection.dbapi_connection.set_progress_handler(tick, 100)

    event.listen(engine, "before_cursor_execute", watch)
    try:
        yield steps
    finally:
        event.remove(engine, "before_cursor_execute", watch)


def test_a_create_in_a_big_default_group_costs_per_host_not_per_member(app_client: Any) -> None:
    """The feed names the hosts of a new member's group peers (remote-group sets): per binding host once the
    group is big, so the database's work for a create stays flat while the default group grows."""
    net = network(app_client, ALICE)["id"]
    subnet(app_client, net, "10.0.0.0/20", ALICE)
    hosts = ("compute-1", "compute-2")
    admin = project("alice", admin=True)
    costs, made = [], 0
    for members in (80, 400):
        for index in range(made, members):
            port(app_client, net, admin, **{"binding:host_id": hosts[index % 2]})
        made = members
        with sqlite_steps(app_client) as steps:
            port(app_client, net, ALICE)
        costs.append(steps[0])
    assert costs[1] - costs[0] < 40, costs  # per member, it was ~100 steps more for each (320 more: 32,000)


def _rich_port(app_client: Any, net: str, groups: list[str]) -> dict[str, Any]:
    """A port with every side row a list renders: two groups, an address pair and a DHCP option."""
    return port(
        app_client,
        net,
        ALICE,
        security_groups=groups,
        allowed_address_pairs=[{"ip_address": "10.0.0.200"}],
        extra_dhcp_opts=[{"opt_name": "tftp-server", "opt_value": "10.0.0.9"}],
    )


def _group(app_client: Any, name: str) -> str:
    response = app_client.post("/v2.0/security-groups", json={"security_group": {"name": name}}, headers=ALICE)
    assert response.status_code == 201, response.text
    return str(response.json()["security_group"]["id"])


def _explain(app_client: Any) -> Callable[[str, Any], list[str]]:
    engine = app_client.app.state.core.db.engine

    def plan(sql: str, params: Any) -> list[str]:
        with engine.connect() as conn:
            return [str(row[3]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params).all()]

    return plan


def test_a_long_list_joins_its_side_rows_to_the_listed_ids(app_client: Any) -> None:
    """Past 50 ports the side rows are read by joining the list's own SELECT of ids, never by
    ``port_id IN (SELECT …)``, which SQLite answers by first copying every id into a temporary index and
    then walking it: the listed ports drive one loop instead."""
    net = network(app_client, ALICE)["id"]
    subnet(app_client, net, "10.0.0.0/24", ALICE)
    groups = sorted([_group(app_client, "a"), _group(app_client, "b")])
    rich = _rich_port(app_client, net, groups)
    for _ in range(55):
        port(app_client, net, ALICE)
    with captured(app_client) as statements:
        listed = app_client.get(f"/v2.0/ports?network_id={net}", headers=ALICE).json()["ports"]
    assert len(listed) == 57  # and the DHCP port
    [found] = [item for item in listed if item["id"] == rich["id"]]
    for key in ("fixed_ips", "security_groups", "allowed_address_pairs", "extra_dhcp_opts"):
        assert found[key] == rich[key], key
    assert found["security_groups"] == groups
    plan = _explain(app_client)
    for table in SIDE_TABLES:
        [(sql, params)] = [(sql, p) for sql, p in statements if sql.startswith("SELECT") and f"FROM {table}" in sql]
        assert " JOIN (SELECT ports.id" in sql and f"{table}.port_id IN" not in sql, sql
        steps = plan(sql, params)  # one loop over the listed ports, each looking up its own side rows
        assert steps[0].startswith("SEARCH ports USING INDEX ix_ports_network_id"), (sql, steps)
        assert [step for step in steps if step.startswith(f"SEARCH {table}") and "(port_id=?)" in step], steps
