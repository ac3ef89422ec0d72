"""A list request's query, checked for one resource and one caller before the service runs it.

* Typed filters: Neutron converts each filter value with its attribute's converter (``convert_to_boolean``,
  ``convert_to_int``) before querying, so ``?admin_state_up=maybe`` or ``?mtu=abc`` is a 400 rather than an
  empty list, and ``?admin_state_up=1`` finds what ``=true`` finds. Values are normalised to the text
  :mod:`floatnet.core.listing` compares (``true``/``false``, decimal integers); empty values are dropped as
  Neutron drops them.
* Hidden attributes: an attribute the caller may not see (a ``get_<resource>:<attr>`` rule refuses it, e.g.
  ``provider:*`` or ``binding:host_id`` for non-admins) must behave as if it did not exist, or filtering and
  sorting would reveal its values. Filters and sort keys then work on each item as the caller sees it, so
  the answers are exactly those for an unknown attribute: a filter matches nothing, a sort key no listed item
  has is the 400 of an unknown sort key, and hidden values sort as absent.
"""

from __future__ import annotations

from starlette.requests import Request

from floatnet.api import filters, http
from floatnet.core.access import policy
from floatnet.core.context import RequestContext
from floatnet.core.errors import HTTPBadRequest
from floatnet.core.listing import ListQuery
from floatnet.core.numbers import bounded_int

BOOL, INT = "bool", "int"
_STANDARD = {"revision_number": INT}
# The boolean and integer attributes of each resource (everything else filters as text).
TYPED: dict[str, dict[str, str]] = {
    "network": {
        **_STANDARD,
        **dict.fromkeys(("admin_state_up", "shared", "router:external", "port_security_enabled"), BOOL),
        **dict.fromkeys(("is_default", "l2_adjacency"), BOOL),
        **dict.fromkeys(("mtu", "provider:segmentation_id"), INT),
    },
    "subnet": {
        **_STANDARD,
        **dict.fromkeys(("enable_dhcp", "dns_publish_fixed_ip", "shared", "router:external"), BOOL),
        "ip_version": INT,
    },
    "port": {
        **_STANDARD,
        **dict.fromkeys(("admin_state_up", "port_security_enabled", "propagate_uplink_status"), BOOL),
    },
    "router": {**_STANDARD, **dict.fromkeys(("admin_state_up", "ha", "distributed"), BOOL)},
    "floatingip": dict(_STANDARD),
    "agent": {"admin_state_up": BOOL, "alive": BOOL},
    "service_provider": {"default": BOOL},
    "network_ip_availability": {"ip_version": INT},
    "security_group": {**_STANDARD, "stateful": BOOL, "shared": BOOL},
    "security_group_rule": {
        **_STANDARD,
        "port_range_min": INT,
        "port_range_max": INT,
        "belongs_to_default_sg": BOOL,
    },
}
_BOOLEANS = {"true": "true", "1": "true", "false": "false", "0": "false"}


def _typed_value(name: str, kind: str, value: str) -> str:
    if kind == INT:
        return str(bounded_int(name, value))
    text = _BOOLEANS.get(value.lower())
    if text is None:
        raise HTTPBadRequest(msg=f"Invalid input for {name}. Reason: '{value}' cannot be converted to boolean.")
    return text


def convert_filters(resource: str, filters: dict[str, list[str]]) -> dict[str, list[str]]:
    """``filters`` with typed values converted (400 naming the attribute when one does not convert)."""
    kinds = TYPED.get(resource, {})
    result: dict[str, list[str]] = {}
    for name, values in filters.items():
        kind = kinds.get(name)
        if kind is None:
            result[name] = values
            continue
        converted = [_typed_value(name, kind, value) for value in values if value]
        if converted:
            result[name] = converted
    return result


def guard_hidden(ctx: RequestContext, resource: str, query: ListQuery) -> None:
    """Make filters and sort keys see only what ``ctx`` may see (see the module docstring)."""
    guarded = frozenset(attribute for attribute, _rule in policy.engine_of(ctx).attribute_rules(f"get_{resource}"))
    sort_keys = [key for key, _ascending in query.sort]
    if not guarded & {*query.filters, *sort_keys}:
        return
    query.guarded = guarded
    query.view = policy.field_filter(ctx, resource)


def list_query(request: Request, ctx: RequestContext, resource: str) -> ListQuery:
    """The list query of ``request`` (see :func:`floatnet.api.http.list_query`), checked for ``resource``
    and ``ctx``: unknown filters refused (:mod:`floatnet.api.filters`), typed filter values converted,
    hidden attributes guarded."""
    query = http.list_query(request)
    filters.check_known(resource, list(query.filters))
    query.filters = convert_filters(resource, query.filters)
    guard_hidden(ctx, resource, query)
    return query
