"""Rendering of API objects the way the ``neutron`` client printed them (the seed's tables).

One small module owns every output format so the verbs stay free of presentation:

* ``table`` — a ``Field | Value`` table for one object (fields sorted) and a column table for lists, with
  ``+---+`` borders; a list value prints one item per line, a dict as compact JSON, ``None`` as empty.
* ``json`` / ``yaml`` — the raw values (a dict for one object, a list of dicts for a list), for scripts.
* ``value`` — the bare values: one per line for an object, one space-separated row per line for a list.

``columns`` (from ``-c``) restricts the output to those fields, keeping the data's order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import yaml

FORMATS = ("table", "json", "value", "yaml")


class OutputError(ValueError):
    """The requested columns or format cannot be rendered (e.g. ``-c`` names no known field)."""


def format_value(value: Any) -> str:
    """The text a table cell shows for ``value``: lists one item per line, dicts as JSON, None as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, dict):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "\n".join(format_value(item) for item in value)
    return str(value)


def render_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A bordered, left-aligned table; a cell with newlines spans several lines of its row."""
    cells = [[format_value(value).split("\n") for value in row] for row in rows]
    widths = [len(header) for header in headers]
    for row in cells:
        for index, lines in enumerate(row):
            widths[index] = max([widths[index], *(len(line) for line in lines)])
    border = "+" + "+".join("-" * (width + 2) for width in widths) + "+"
    out = [border, _line(headers, widths), border]
    for row in cells:
        height = max((len(lines) for lines in row), default=1)
        for number in range(height):
            out.append(_line([lines[number] if number < len(lines) else "" for lines in row], widths))
    if cells:
        out.append(border)
    return "\n".join(out)


def _line(values: Sequence[str], widths: Sequence[int]) -> str:
    return "| " + " | ".join(value.ljust(width) for value, width in zip(values, widths, strict=True)) + " |"


def select(names: Sequence[str], columns: Sequence[str] | None) -> list[str]:
    """The names kept by ``-c`` (in the data's order); all of them without ``-c``."""
    if not columns:
        return list(names)
    kept = [name for name in names if name in columns]
    if not kept:
        raise OutputError(
            f"No recognized column names in {list(columns)}. Recognized columns are {list(names)}."
        )
    return kept


def render_object(data: dict[str, Any], fmt: str = "table", columns: Sequence[str] | None = None) -> str:
    """One resource, as ``neutron X-show`` printed it (fields sorted by name)."""
    names = select(sorted(data), columns)
    if fmt == "table":
        return render_table(("Field", "Value"), [(name, data[name]) for name in names])
    if fmt == "value":
        return "\n".join(format_value(data[name]) for name in names)
    return _dump({name: data[name] for name in names}, fmt)


def render_list(
    rows: Sequence[dict[str, Any]],
    default_columns: Sequence[str],
    fmt: str = "table",
    columns: Sequence[str] | None = None,
) -> str:
    """Several resources as ``neutron X-list`` printed them: ``default_columns`` unless ``-c`` chooses."""
    names = select(_known_columns(rows, default_columns, columns), columns)
    if fmt == "table":
        return render_table(names, [[row.get(name) for name in names] for row in rows])
    if fmt == "value":
        return "\n".join(" ".join(format_value(row.get(name)) for name in names) for row in rows)
    return _dump([{name: row.get(name) for name in names} for row in rows], fmt)


def _known_columns(
    rows: Sequence[dict[str, Any]], default_columns: Sequence[str], columns: Sequence[str] | None
) -> list[str]:
    """The default columns, plus (when ``-c`` asks for more) every field the rows carry."""
    names = list(default_columns)
    if columns:
        for row in rows:
            names.extend(name for name in row if name not in names)
        names.extend(name for name in columns if name not in names and not rows)
    return names


def _dump(data: Any, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(data, indent=4)
    if fmt == "yaml":
        return yaml.safe_dump(data, default_flow_style=False, sort_keys=False).rstrip("\n")
    raise OutputError(f"unknown output format {fmt!r} (known: {', '.join(FORMATS)})")
