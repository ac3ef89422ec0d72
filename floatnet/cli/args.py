"""Argument conventions of the ``neutron`` client that argparse does not have built in.

* ``key=value,key=value`` options (``--allocation-pool start=…,end=…``, ``--fixed-ip
  subnet_id=…,ip_address=…``);
* boolean flags that also take a value (``--router:external``, ``--router:external=False``,
  ``--shared True``), normalised before argparse sees them;
* list filters given as unknown options (``port-list --device_owner network:dhcp``), as neutron accepted.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

TRUE_WORDS = ("true", "yes", "1", "on")
FALSE_WORDS = ("false", "no", "0", "off")
BOOL_FLAGS = ("--router:external", "--shared", "--admin-state-up", "--port-security-enabled")


def parse_bool(text: str) -> bool:
    """``True``/``False`` (and yes/no, 1/0, on/off), case-insensitive."""
    lowered = text.strip().lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    raise argparse.ArgumentTypeError(f"{text!r} is not a boolean (True or False)")


def normalize_bool_flags(argv: Sequence[str], flags: Sequence[str] = BOOL_FLAGS) -> list[str]:
    """Give every bare boolean flag an explicit value so argparse never swallows a positional.

    ``--router:external public_net`` becomes ``--router:external=True public_net``; ``--shared False`` stays a
    flag with a value. Everything after ``--`` is left alone.
    """
    out: list[str] = []
    items = list(argv)
    for index, token in enumerate(items):
        if token == "--":
            return out + items[index:]
        following = items[index + 1] if index + 1 < len(items) else ""
        if token in flags and following.lower() not in TRUE_WORDS + FALSE_WORDS:
            token = f"{token}=True"
        out.append(token)
    return out


def key_values(text: str) -> dict[str, str]:
    """``a=1,b=2`` as a dict; raises ``ArgumentTypeError`` for an item without ``=``."""
    result: dict[str, str] = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise argparse.ArgumentTypeError(f"{text!r} is not key=value[,key=value]")
        result[key.strip()] = value.strip()
    return result


def key_values_with(required: Sequence[str], allowed: Sequence[str] = ()) -> Any:
    """An argparse ``type`` for ``key=value`` options with these required (and optional) keys."""

    def convert(text: str) -> dict[str, str]:
        pairs = key_values(text)
        missing = [key for key in required if key not in pairs]
        unknown = [key for key in pairs if key not in (*required, *allowed)]
        if missing or unknown:
            keys = ",".join(f"{key}=…" for key in (*required, *allowed))
            raise argparse.ArgumentTypeError(f"{text!r}: expected {keys}")
        return pairs

    convert.__name__ = "key=value"
    return convert


def extra_filters(extras: Sequence[str]) -> dict[str, list[str]]:
    """Unknown ``--key value`` / ``--key=value`` options as list filters (repeated key = any of the values).

    Raises ``ValueError`` for anything that is not such an option, so a typo is still reported.
    """
    filters: dict[str, list[str]] = {}
    index = 0
    while index < len(extras):
        token = extras[index]
        if not token.startswith("--") or token == "--":
            raise ValueError(f"unrecognized arguments: {' '.join(extras[index:])}")
        key, sep, value = token[2:].partition("=")
        if not sep:
            if index + 1 >= len(extras) or extras[index + 1].startswith("--"):
                raise ValueError(f"filter {token} needs a value")
            value = extras[index + 1]
            index += 1
        filters.setdefault(key.replace("-", "_"), []).append(value)
        index += 1
    return filters
