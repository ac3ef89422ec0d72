"""A port's ``extra_dhcp_opts`` (extra_dhcp_opt): DHCP options its instance gets from the network's dnsmasq.

Each option is ``{opt_name, opt_value, ip_version}`` (version 4 unless given), at most one per name and
version. Validation is neutron-lib's key specs: ``router`` and ``classless-static-route`` may have any value
up to 255 characters, even empty (an empty value tells the client not to use the option); any other name is
one line of 1-64 characters with a one-line value of 1-255 characters. ``opt_value: null`` means "remove".

Writing follows Neutron's port update semantics on create and update alike: each given option is matched
with a stored one by name and version — ``null`` deletes it, another value replaces it — or is added;
options not named are kept, and ``[]``/``null`` changes nothing. A value that is empty for a name that
cannot be blank is ignored, as Neutron ignores it.

One request naming an option twice is answered as Neutron answers it: the same item sent twice is a 400
(neutron-lib's list validation); two storable values for a name and version the port does not have yet are
a 409 ``NeutronDbObjectDuplicateEntry`` (Neutron inserts new options one by one, and the second hits the
unique key), the whole request undone; for an option the port already has, the later value wins (Neutron
updates the stored row once per entry).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from floatnet.core.errors import NeutronDbObjectDuplicateEntry
from floatnet.db.models import ExtraDhcpOpt

BLANK_ALLOWED = ("router", "classless-static-route")  # neutron-lib's VALID_BLANK_EXTRA_DHCP_OPTS
NAME_MAX, VALUE_MAX = 64, 255
KEYS = {"opt_name", "opt_value", "ip_version"}
UNIQUE = ["port_id", "opt_name", "ip_version"]  # the columns of an option's unique key, as Neutron names them


def _oneline(value: Any, max_len: int) -> bool:
    return isinstance(value, str) and 0 < len(value) <= max_len and len(value.splitlines()) <= 1


def _version(value: Any) -> int | None:
    """neutron-lib's ``convert_to_int`` then ``type:values [4, 6]`` (None when it does not hold)."""
    if isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number in (4, 6) else None


def _entry(item: Any) -> dict[str, Any]:
    """One option checked against neutron-lib's two key specs; normalised with its ``ip_version``."""
    problem = ValueError(f"No valid key specs matched for: {item}")
    if not isinstance(item, dict) or not {"opt_name", "opt_value"} <= set(item) or set(item) - KEYS:
        raise problem
    name, value = item["opt_name"], item["opt_value"]
    version = _version(item.get("ip_version", 4))
    if version is None:
        raise problem
    if name in BLANK_ALLOWED:
        valid = value is None or (isinstance(value, str) and len(value) <= VALUE_MAX)
    else:
        valid = _oneline(name, NAME_MAX) and (value is None or _oneline(value, VALUE_MAX))
    if not valid:
        raise problem
    return {"opt_name": name, "opt_value": value, "ip_version": version}


def _repeated(items: list[Any]) -> list[Any]:
    """The items given more than once, each once, in the order they repeat (neutron-lib's
    ``_collect_duplicates``, which compares the items as sent, before any conversion). Linear: keyed by text."""
    seen: set[str] = set()
    repeated: dict[str, Any] = {}
    for item in items:
        key = repr(sorted(item.items())) if isinstance(item, dict) else repr(item)
        if key in seen:
            repeated.setdefault(key, item)
        seen.add(key)
    return list(repeated.values())


def convert(value: Any) -> list[dict[str, Any]]:
    """The ``extra_dhcp_opts`` attribute (``type:list_of_any_key_specs_or_none``); None is an empty list. An
    option sent twice, identically, is refused first, as neutron-lib's list validation does."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"'{value}' is not a list")
    repeated = _repeated(value)
    if repeated:
        raise ValueError(f"Duplicate items in the list: '{', '.join(map(str, repeated))}'")
    return [_entry(item) for item in value]


def _storable(name: str, value: str | None) -> bool:
    """Neutron's ``_is_valid_opt_value``: a blank-able option needs a value, any other a non-empty one."""
    return value is not None if name in BLANK_ALLOWED else bool(value)


def _write_one(
    session: Session, port_id: str, stored: dict[tuple[str, int], str], added: set[tuple[str, int]], opt: dict[str, Any]
) -> None:
    """Apply one option; ``stored`` tracks the port's options, ``added`` those this request inserted."""
    key = (opt["opt_name"], opt["ip_version"])
    where = (ExtraDhcpOpt.port_id == port_id, ExtraDhcpOpt.opt_name == key[0], ExtraDhcpOpt.ip_version == key[1])
    value = opt["opt_value"]
    if key in added:  # Neutron inserts a new option's rows one by one: a second one hits the unique key
        if _storable(key[0], value):
            values = f"{port_id}-{key[0]}-{key[1]}"
            raise NeutronDbObjectDuplicateEntry(object_type="ExtraDhcpOpt", attributes=UNIQUE, values=values)
        return
    if key in stored and value is None:
        session.execute(delete(ExtraDhcpOpt).where(*where))
        del stored[key]
    elif not _storable(key[0], value) or stored.get(key) == value:
        return
    elif key in stored:
        session.execute(update(ExtraDhcpOpt).where(*where).values(opt_value=value))
        stored[key] = value
    else:
        session.execute(
            insert(ExtraDhcpOpt).values(port_id=port_id, opt_name=key[0], ip_version=key[1], opt_value=value)
        )
        stored[key] = value
        added.add(key)


def write(session: Session, port_id: str, opts: list[dict[str, Any]]) -> None:
    """Apply ``opts`` (converted) to the port's stored options (see the module docstring)."""
    if not opts:
        return
    rows = session.execute(
        select(ExtraDhcpOpt.opt_name, ExtraDhcpOpt.ip_version, ExtraDhcpOpt.opt_value).where(
            ExtraDhcpOpt.port_id == port_id
        )
    )
    stored = {(name, version): value for name, version, value in rows}
    added: set[tuple[str, int]] = set()
    for opt in opts:
        _write_one(session, port_id, stored, added, opt)


def remove(session: Session, port_id: str) -> None:
    """Forget a deleted port's options."""
    session.execute(delete(ExtraDhcpOpt).where(ExtraDhcpOpt.port_id == port_id))
