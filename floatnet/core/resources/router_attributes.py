"""The router attributes of Neutron's L3 extensions that floatnet shows with their defaults.

``ha`` (l3-ha) is stored: an HA router runs as keepalived replicas on several L3 agents
(:mod:`floatnet.core.resources.router_ha`). ``distributed`` (dvr) is ``false``: floatnet has no distributed
routers, so asking for ``true`` is refused with Neutron's 400 ``BadRequest`` for a router request it cannot
serve (who may set or see either at all is policy: admin only, as in Neutron).
``flavor_id`` (l3-flavors) is ``null``: there are no service flavors, so naming one is Neutron's 404
``FlavorNotFound``. ``availability_zone_hints`` (router_availability_zone) are stored after the hinted
zones are checked against the router zones the L3 agents report, and ``availability_zones`` is the zone of
the agent hosting the router — both by :mod:`floatnet.core.resources.availability_zones`, as for networks.
"""

from __future__ import annotations

from typing import Any

from floatnet.core.errors import BadRequest, NotFound
from floatnet.core.resources import availability_zones
from floatnet.core.validation import Attr, nullable, to_bool, to_uuid


class FlavorNotFound(NotFound):
    message_template = "Flavor %(flavor_id)s could not be found."


SPEC: dict[str, Attr] = {
    "ha": Attr(nullable(to_bool)),
    "distributed": Attr(nullable(to_bool)),
    "flavor_id": Attr(nullable(to_uuid), put=False),
    "availability_zone_hints": Attr(availability_zones.hint_list, put=False, default=list),
}


def check(attrs: dict[str, Any]) -> None:
    """Refuse what floatnet cannot provide (see the module docstring); ``attrs`` are validated."""
    if attrs.get("distributed"):
        raise BadRequest(resource="router", msg="distributed routing is not available; routers are centralized")
    if attrs.get("flavor_id") is not None:
        raise FlavorNotFound(flavor_id=attrs["flavor_id"])


def render(row: Any) -> dict[str, Any]:
    """The attributes as a router shows them (``availability_zones``: filled by
    :func:`availability_zones.fill_zones`)."""
    return {
        "ha": bool(row.ha),
        "distributed": False,
        "flavor_id": None,
        "availability_zone_hints": list(row.availability_zone_hints or []),
        "availability_zones": [],
    }
