"""List queries: Neutron's filters, sorting and paging, applied to rendered resources.

The API parses the query string into a :class:`ListQuery`; a service may push some filters down to SQL
(:func:`sql_filters`) and then calls :func:`apply` on the rendered dicts for the rest. Semantics:

* ``attr=v`` (repeated = OR); values compare as text (``true``/``false`` for booleans, ``None`` for null).
  On a list attribute a value matches an element; on a list of objects (``fixed_ips``) the value
  ``key=value`` matches an element having that key/value.
* ``tags=a,b`` all present, ``tags-any`` one present, ``not-tags`` not all present, ``not-tags-any`` none.
* ``sort_key``/``sort_dir`` (several, paired), then ``marker`` (the previous page's last id) and ``limit``.
* ``view``: when set, filters and sort keys see each item as the caller may see it (attributes hidden by
  policy do not exist there), so filtering or sorting on a hidden attribute reveals nothing. The attributes in
  ``guarded`` are never pushed down to SQL, where the view could not apply.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from floatnet.core.errors import HTTPBadRequest

TAG_FILTERS = ("tags", "tags-any", "not-tags", "not-tags-any")


@dataclass
class ListQuery:
    """What a list request asks for. ``filters`` maps attribute → accepted values (OR)."""

    filters: dict[str, list[str]] = field(default_factory=dict)
    sort: list[tuple[str, bool]] = field(default_factory=list)  # (key, ascending)
    limit: int | None = None
    marker: str | None = None
    page_reverse: bool = False
    fields: list[str] = field(default_factory=list)
    view: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    guarded: frozenset[str] = frozenset()
    key: str = "id"  # the attribute ``marker`` names (``subnet_id`` for floating IP pools, which have no id)


@dataclass
class Page:
    """A list result: the items of this page (the API derives the page links from their count)."""

    items: list[dict[str, Any]]


def as_text(value: Any) -> str:
    """How a rendered value compares with a query-string value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "None"
    return str(value)


def _norm(text: str) -> str:
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered
    if lowered in ("none", "null"):
        return "None"
    return text


def _element_matches(element: Any, wanted: str) -> bool:
    if isinstance(element, dict):
        key, sep, value = wanted.partition("=")
        return bool(sep) and as_text(element.get(key)) == _norm(value)
    return as_text(element) == _norm(wanted)


def value_matches(value: Any, wanted: Iterable[str]) -> bool:
    """Whether a rendered attribute value matches any of the wanted query values."""
    if isinstance(value, list):
        return any(_element_matches(el, w) for el in value for w in wanted)
    return any(as_text(value) == _norm(w) for w in wanted)


def _tag_set(values: list[str]) -> set[str]:
    return {tag for value in values for tag in value.split(",") if tag}


def _tags_match(tags: Sequence[str], filters: dict[str, list[str]]) -> bool:
    have = set(tags)
    checks = {
        "tags": lambda want: want <= have,
        "tags-any": lambda want: bool(want & have),
        "not-tags": lambda want: not want <= have,
        "not-tags-any": lambda want: not want & have,
    }
    return all(checks[name](_tag_set(filters[name])) for name in TAG_FILTERS if name in filters)


def matches(item: dict[str, Any], filters: dict[str, list[str]]) -> bool:
    """Whether one rendered item passes every filter (unknown attributes match nothing, like Neutron's)."""
    for name, wanted in filters.items():
        if name in TAG_FILTERS:
            continue
        key = "project_id" if name == "tenant_id" else name
        if key not in item or not value_matches(item[key], wanted):
            return False
    return _tags_match(item.get("tags", ()), filters)


def _sort_value(value: Any) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if isinstance(value, bool | int | float):
        return (1, value)
    return (2, str(value))


def sort_items(items: list[dict[str, Any]], sort: list[tuple[str, bool]], key: str = "id") -> list[dict[str, Any]]:
    """Stable multi-key sort; ``key`` (the id) breaks ties so paging by marker is deterministic."""
    result = sorted(items, key=lambda item: str(item.get(key, "")))
    for key, ascending in reversed(sort):
        if items and not any(key in item for item in items):
            raise HTTPBadRequest(msg=f"{key} is invalid attribute for sort_key")
        result.sort(key=lambda item, k=key: _sort_value(item.get(k)), reverse=not ascending)  # type: ignore[misc]
    return result


def paginate(items: list[dict[str, Any]], query: ListQuery) -> Page:
    """Cut the page that follows ``marker`` (precedes it with ``page_reverse``) to ``limit`` items."""
    if query.marker is not None:
        ids = [item.get(query.key) for item in items]
        if query.marker in ids:
            at = ids.index(query.marker)
            items = items[:at] if query.page_reverse else items[at + 1 :]
    if query.limit is None:
        return Page(items)
    if query.page_reverse:
        return Page(items[-query.limit :] if query.limit else [])
    return Page(items[: query.limit])


def apply(items: Iterable[dict[str, Any]], query: ListQuery) -> Page:
    """Filter, sort and page rendered items as Neutron does (on the caller's ``view`` of them, if any)."""
    if query.view is not None:
        items = map(query.view, items)
    selected = [item for item in items if matches(item, query.filters)] if query.filters else list(items)
    return paginate(sort_items(selected, query.sort, query.key), query)


def sql_filters(query: ListQuery, columns: Mapping[str, Any], exact: bool = False) -> list[Any]:
    """SQL conditions (``column IN (values)``) for the query's filters on plain ``columns`` (filter name → SQL
    column; ``tenant_id`` counts as ``project_id``): the one way a service pushes list filters into SQL.

    By default the filters stay in the query and :func:`apply` matches them again, so the semantics live in one
    place and pushing down only saves loading rows that would be dropped; a filter asking for null (``None``,
    ``null``) is then left to :func:`apply` alone. With ``exact`` they are removed from the query instead, so
    SQL is their only evaluation: use it only for text columns that are never NULL (where ``IN`` equals the
    text match), and never for an attribute the caller's view hides (those stay with :func:`apply`).
    """
    pushed: dict[str, list[str]] = {}
    for name, values in list(query.filters.items()):
        key = "project_id" if name == "tenant_id" else name
        if key not in columns:
            continue
        if exact:
            if key in query.guarded:
                continue
            del query.filters[name]
        elif "None" in values or "null" in values:
            continue
        pushed[key] = values
    return [columns[key].in_(values) for key, values in pushed.items()]
