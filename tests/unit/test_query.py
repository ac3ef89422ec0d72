"""List-query semantics on rendered items: filters, tags, sorting, paging."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Column, MetaData, String, Table

from floatnet.core.errors import HTTPBadRequest
from floatnet.core.listing import (
    ListQuery,
    apply,
    matches,
    paginate,
    sort_items,
    sql_filters,
)

ITEMS: list[dict[str, Any]] = [
    {"id": "a", "name": "x", "admin_state_up": True, "mtu": 1500, "gw": None, "tags": ["red", "hot"],
     "fixed_ips": [{"subnet_id": "s1", "ip_address": "10.0.0.2"}], "subnets": ["s1"]},
    {"id": "b", "name": "y", "admin_state_up": False, "mtu": 1450, "gw": "10.0.0.1", "tags": ["blue"],
     "fixed_ips": [], "subnets": []},
    {"id": "c", "name": "x", "admin_state_up": True, "mtu": 1450, "gw": None, "tags": [],
     "fixed_ips": [{"subnet_id": "s2", "ip_address": "10.0.1.2"}], "subnets": ["s2", "s1"]},
]  # fmt: skip


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"name": ["x"]}, ["a", "c"]),
        ({"name": ["x", "y"]}, ["a", "b", "c"]),
        ({"admin_state_up": ["False"]}, ["b"]),
        ({"admin_state_up": ["true"], "mtu": ["1450"]}, ["c"]),
        ({"gw": ["None"]}, ["a", "c"]),
        ({"subnets": ["s1"]}, ["a", "c"]),
        ({"fixed_ips": ["ip_address=10.0.1.2"]}, ["c"]),
        ({"fixed_ips": ["subnet_id=s1"]}, ["a"]),
        ({"unknown": ["1"]}, []),
        ({"tenant_id": ["p"]}, []),
        ({"tags": ["red,hot"]}, ["a"]),
        ({"tags": ["red", "blue"]}, []),
        ({"tags-any": ["red,blue"]}, ["a", "b"]),
        ({"not-tags": ["red,hot"]}, ["b", "c"]),
        ({"not-tags-any": ["red,blue"]}, ["c"]),
    ],
)
def test_filters(filters: dict[str, list[str]], expected: list[str]) -> None:
    assert ids([item for item in ITEMS if matches(item, filters)]) == expected


def test_sort_multi_key_and_unknown_key() -> None:
    assert ids(sort_items(ITEMS, [("mtu", True), ("name", False)])) == ["b", "c", "a"]
    assert ids(sort_items(ITEMS, [("gw", False)])) == ["b", "a", "c"]
    with pytest.raises(HTTPBadRequest):
        sort_items(ITEMS, [("nope", True)])


def test_paging_forward_and_reverse() -> None:
    first = paginate(ITEMS, ListQuery(limit=2))
    assert ids(first.items) == ["a", "b"]
    second = paginate(ITEMS, ListQuery(limit=2, marker="b"))
    assert ids(second.items) == ["c"]
    back = paginate(ITEMS, ListQuery(limit=1, marker="c", page_reverse=True))
    assert ids(back.items) == ["b"]


TABLE = Table("t", MetaData(), Column("project_id", String), Column("name", String))
COLUMNS = {"project_id": TABLE.c.project_id, "name": TABLE.c.name}


def pushed(conditions: list[Any]) -> dict[str, list[str]]:
    """``column IN (values)`` conditions as ``{column: values}``."""
    return {c.left.name: list(c.right.value) for c in conditions}


def test_apply_and_pushdown() -> None:
    query = ListQuery(filters={"tenant_id": ["p1"], "name": ["x"], "tags": ["red"]}, sort=[("id", False)])
    assert pushed(sql_filters(query, COLUMNS)) == {"project_id": ["p1"], "name": ["x"]}
    assert set(query.filters) == {"tenant_id", "name", "tags"}  # kept: apply() matches them again
    assert sql_filters(ListQuery(filters={"name": ["None"]}), COLUMNS) == []  # null left to apply()
    assert ids(apply(ITEMS, ListQuery(filters={"name": ["x"]}, sort=[("id", False)])).items) == ["c", "a"]


def test_take_removes_pushed_filters() -> None:
    query = ListQuery(filters={"tenant_id": ["p1"], "name": ["x"], "mtu": ["1500"]})
    assert pushed(sql_filters(query, COLUMNS, exact=True)) == {"project_id": ["p1"], "name": ["x"]}
    assert query.filters == {"mtu": ["1500"]}
