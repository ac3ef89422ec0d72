"""A migration check run on both backends (SQLite in test_migrations.py, PostgreSQL in test_postgres.py): rows
written under an older schema survive the upgrade with their meaning."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, MetaData, Table, inspect, text
from sqlalchemy.exc import IntegrityError

from floatnet.db.migrate import alembic_config, upgrade


def _insert(conn: Any, table: str, **values: Any) -> None:
    """A row of ``table`` as an older schema has it: ``values``, and a placeholder of the right type for every
    other required column without a default."""
    reflected = Table(table, MetaData(), autoload_with=conn)
    row = dict(values)
    for column in reflected.columns:
        if column.name in row or column.nullable or column.server_default is not None:
            continue
        placeholders = {str: "x", int: 1, bool: False, datetime: datetime(2026, 1, 1), dict: {}, list: []}
        row[column.name] = placeholders.get(column.type.python_type, "[]")  # SQLite reflects JSON as untyped
    conn.execute(reflected.insert().values(**row))


def check_dhcp_bindings_migration(engine: Engine) -> None:
    """Up to 0009, a network bound to an agent and one the operator removed from every agent (NULL); after the
    upgrade both are slot 1 with the same agent (and NULL), and a second slot for the first network fits."""
    upgrade(engine, "0009")
    with engine.begin() as conn:
        _insert(conn, "agents", id="a1", host="node1", agent_type="DHCP agent")
        _insert(conn, "agents", id="a2", host="node2", agent_type="DHCP agent")
        for network_id in ("n1", "n2"):
            _insert(conn, "networks", id=network_id)
        _insert(conn, "network_dhcp_agent_bindings", network_id="n1", agent_id="a1")
        _insert(conn, "network_dhcp_agent_bindings", network_id="n2", agent_id=None)
    upgrade(engine)
    insert = "INSERT INTO network_dhcp_agent_bindings (network_id, binding_index, agent_id) VALUES ('n1', {}, 'a2')"
    with engine.begin() as conn:
        query = "SELECT network_id, binding_index, agent_id FROM network_dhcp_agent_bindings ORDER BY network_id"
        assert [tuple(row) for row in conn.execute(text(query))] == [("n1", 1, "a1"), ("n2", 1, None)]
        conn.execute(text(insert.format(2)))
        with pytest.raises(IntegrityError), conn.begin_nested():  # an agent holds a network once
            conn.execute(text(insert.format(3)))


def check_provisioning_blocks_migration(engine: Engine) -> None:
    """Up to 0010, a port; after the upgrade it waits for nothing, a block can be added and goes with the port
    (``ON DELETE CASCADE``); a downgrade drops the table and an upgrade brings it back."""
    upgrade(engine, "0010")
    with engine.begin() as conn:
        _insert(conn, "networks", id="n1")
        _insert(conn, "ports", id="p1", network_id="n1", mac_address="fa:16:3e:00:00:01")
    upgrade(engine)
    with engine.begin() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM provisioning_blocks")).scalar() == 0
        conn.execute(text("INSERT INTO provisioning_blocks (port_id, entity) VALUES ('p1', 'dhcp'), ('p1', 'l2')"))
        with pytest.raises(IntegrityError), conn.begin_nested():  # one row per entity
            conn.execute(text("INSERT INTO provisioning_blocks (port_id, entity) VALUES ('p1', 'dhcp')"))
        conn.execute(text("DELETE FROM ports WHERE id = 'p1'"))
        assert conn.execute(text("SELECT COUNT(*) FROM provisioning_blocks")).scalar() == 0
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0010")
    assert "provisioning_blocks" not in inspect(engine).get_table_names()
    upgrade(engine)
    assert "provisioning_blocks" in inspect(engine).get_table_names()
