"""The ports of a port forwarding: Neutron's two spellings (``external_port: 22`` or ``external_port_range:
"22:22"``), the N-N / N-1 rule between the ranges, and collisions (pure logic, no database).

A forwarding is stored as ``external_port_start..end`` and ``internal_port_start..end``; it renders both
spellings (the single port is None for a range). Internal ports are either one port (every external port goes
to it) or a range as long as the external one (port ``external_start + k`` goes to ``internal_start + k``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from floatnet.core.errors import BadRequest
from floatnet.core.pf_errors import PortForwardingCollision

PORT_MIN, PORT_MAX = 1, 65535
RESOURCE = "port_forwarding"


def port_range(value: Any) -> str:
    """Neutron's ``type:port_range`` ("N" or "N:M", 1..65535, N <= M), normalised to "N:M"."""
    parts = str(value).split(":") if isinstance(value, str | int) and not isinstance(value, bool) else [""]
    if len(parts) > 2 or any(not part.strip().isdigit() for part in parts):
        raise ValueError(f"'{value}' is not a port range: two integers separated by a colon")
    low, high = int(parts[0]), int(parts[-1])
    for port in (low, high):
        if not PORT_MIN <= port <= PORT_MAX:
            raise ValueError(f"Invalid port: {port}, the port value must be between {PORT_MIN} and {PORT_MAX}")
    if low > high:
        raise ValueError(f"First port in a port range must be lower than the second port: '{value}'")
    return f"{low}:{high}"


@dataclass(frozen=True)
class Span:
    """An inclusive port range."""

    start: int
    end: int

    def __str__(self) -> str:
        return f"{self.start}:{self.end}"

    def overlaps(self, other: Span) -> bool:
        return max(self.start, other.start) <= min(self.end, other.end)

    @property
    def size(self) -> int:
        return self.end - self.start


def span(attrs: dict[str, Any], side: str, current: Span | None = None) -> Span | None:
    """``side`` (external | internal) from ``<side>_port`` or ``<side>_port_range`` in ``attrs``; ``current``
    when neither is given; both given (and different) is a 400."""
    single, ranged = attrs.get(f"{side}_port"), attrs.get(f"{side}_port_range")
    if single is not None and ranged is not None and ranged != f"{single}:{single}":
        raise BadRequest(resource=RESOURCE, msg=f"{side}_port and {side}_port_range cannot both be set")
    if ranged is not None:
        low, high = (int(part) for part in ranged.split(":"))
        return Span(low, high)
    if single is not None:
        return Span(single, single)
    return current


def check_relation(external: Span, internal: Span) -> None:
    """Internal ports are one port, or a range as long as the external one (Neutron: N-N or 1-N)."""
    if internal.size > 0 and internal.size != external.size:
        raise BadRequest(
            resource=RESOURCE,
            msg="Invalid ranges of internal and/or external ports. The relation between internal and external "
            "ports must be N-N or 1-N",
        )


def check_collisions(wanted: Span, existing: Iterable[Span], key: str) -> None:
    """409 when ``wanted`` overlaps one of ``existing`` (``key``: which range, for the message)."""
    for other in existing:
        if wanted.overlaps(other):
            raise PortForwardingCollision(key=key, existing=str(other), port=str(wanted))


def rendered(external: Span, internal: Span) -> dict[str, Any]:
    """The four port attributes as Neutron shows them (with ``floating-ip-port-forwarding-port-ranges``)."""
    return {
        "external_port": external.start if external.size == 0 else None,
        "internal_port": internal.start if internal.size == 0 else None,
        "external_port_range": str(external),
        "internal_port_range": str(internal),
    }
