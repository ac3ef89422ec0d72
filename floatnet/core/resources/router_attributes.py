"""The router attributes of Neutron's L3 extensions that floatnet shows with their defaults.

``ha`` (l3-ha) and ``distributed`` (dvr) are ``false``: floatnet runs each router in one ``qrouter-``
namespace on one node, so asking for ``true`` is refused with Neutron's 400 ``BadRequest`` for a router
request it cannot serve (who may set or see them at all is policy: admin only, as in Neutron).
``flavor_id`` (l3-flavors) is ``null``: there are no service flavors, so naming one is Neutron's 404
``FlavorNotFound``. ``availability_zone_hints`` (router_availability_zone) are stored after the hinted
zones are checked against the one zone floatnet's nodes are in (``[agent] availability_zone``, default
``nova``; an unknown zone is Neutron's 404 ``AvailabilityZoneNotFound``); ``availability_zones`` answers
that zone.
"""

from __future__ import annotations

from typing import Any

from floatnet.config import Config
from floatnet.core.errors import BadRequest, InvalidInput, NotFound
from floatnet.core.validation import Attr, nullable, to_bool, to_uuid

AZ_HINTS_MAX = 255  # neutron-lib's AZ_HINTS_DB_LEN: the hints joined with commas


class FlavorNotFound(NotFound):
    message_template = "Flavor %(flavor_id)s could not be found."


class AvailabilityZoneNotFound(NotFound):
    message_template = "AvailabilityZone %(availability_zone)s could not be found."


def zone_hints(value: Any) -> list[str]:
    """neutron-lib's ``type:availability_zone_hint_list``: unique strings whose comma-joined text fits 255."""
    hints = [] if value is None else value
    if not isinstance(hints, list) or not all(isinstance(hint, str) for hint in hints):
        raise ValueError(f"'{value}' is not a list of strings")
    if len(set(hints)) != len(hints):
        raise ValueError(f"Duplicate items in the list: '{', '.join(hints)}'")
    if len(",".join(hints)) > AZ_HINTS_MAX:
        raise InvalidInput(error_message="Too many availability_zone_hints specified")
    return hints


SPEC: dict[str, Attr] = {
    "ha": Attr(nullable(to_bool)),
    "distributed": Attr(nullable(to_bool)),
    "flavor_id": Attr(nullable(to_uuid), put=False),
    "availability_zone_hints": Attr(zone_hints, put=False, default=list),
}


def check(config: Config, attrs: dict[str, Any]) -> None:
    """Refuse what floatnet cannot provide (see the module docstring); ``attrs`` are validated."""
    for feature, name in (("ha", "L3 high availability (ha)"), ("distributed", "distributed routing")):
        if attrs.get(feature):
            raise BadRequest(resource="router", msg=f"{name} is not available; routers are centralized")
    if attrs.get("flavor_id") is not None:
        raise FlavorNotFound(flavor_id=attrs["flavor_id"])
    for hint in attrs.get("availability_zone_hints") or ():
        if hint != config.availability_zone:
            raise AvailabilityZoneNotFound(availability_zone=hint)


def render(config: Config, row: Any) -> dict[str, Any]:
    """The attributes as a router shows them."""
    return {
        "ha": False,
        "distributed": False,
        "flavor_id": None,
        "availability_zone_hints": list(row.availability_zone_hints or []),
        "availability_zones": [config.availability_zone],
    }
