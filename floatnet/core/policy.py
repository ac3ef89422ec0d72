"""Who may do what: the small policy engine the domain consults (oslo.policy can back it later).

Two calls, with Neutron's rule names:

* :func:`check` ``(ctx, action, target)`` raises ``PolicyNotAuthorized`` unless ``ctx`` may do ``action``
  (``"create_network:shared"``, ``"create_port:mac_address"``, …) on ``target`` (the resource's attributes,
  plus ``network_project_id`` for rules that let a network's owner act).
* :func:`filter_fields` ``(ctx, resource, body)`` drops the attributes ``ctx`` may not see
  (``provider:*`` and ``binding:*`` except ``binding:vnic_type`` are admin-only, as in Neutron).

Actions without a rule are allowed (project scoping is done by the services themselves).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from floatnet.core.context import Context
from floatnet.core.errors import PolicyNotAuthorized

Rule = Callable[[Context, dict[str, Any]], bool]


def admin_only(ctx: Context, _target: dict[str, Any]) -> bool:
    return ctx.is_admin


def admin_or_network_owner(ctx: Context, target: dict[str, Any]) -> bool:
    return ctx.is_admin or target.get("network_project_id") == ctx.project_id


PROVIDER = ("provider:network_type", "provider:physical_network", "provider:segmentation_id")
BINDING_ADMIN = ("binding:host_id", "binding:profile", "binding:vif_type", "binding:vif_details")

RULES: dict[str, Rule] = {
    **{f"{verb}_network:{attr}": admin_only for verb in ("create", "update") for attr in PROVIDER},
    "create_network:shared": admin_only,
    "update_network:shared": admin_only,
    "create_network:router:external": admin_only,
    "update_network:router:external": admin_only,
    **{f"{verb}_port:{attr}": admin_only for verb in ("create", "update") for attr in BINDING_ADMIN},
    "create_port:mac_address": admin_or_network_owner,
    "update_port:mac_address": admin_only,
    "create_port:fixed_ips:ip_address": admin_or_network_owner,
    "update_port:fixed_ips:ip_address": admin_or_network_owner,
    "create_port:device_owner": admin_or_network_owner,
    "create_subnet": admin_or_network_owner,
}

HIDDEN: dict[str, tuple[str, ...]] = {"network": PROVIDER, "port": BINDING_ADMIN}


def allowed(ctx: Context, action: str, target: dict[str, Any]) -> bool:
    """Whether ``ctx`` may do ``action`` on ``target``."""
    rule = RULES.get(action)
    return rule is None or rule(ctx, target)


def check(ctx: Context, action: str, target: dict[str, Any]) -> None:
    """Raise ``PolicyNotAuthorized`` (403) unless ``ctx`` may do ``action`` on ``target``."""
    if not allowed(ctx, action, target):
        raise PolicyNotAuthorized(action=action)


def check_attributes(ctx: Context, verb: str, resource: str, attrs: Iterable[str], target: dict[str, Any]) -> None:
    """Check ``<verb>_<resource>:<attr>`` for every given attribute (admin-only attributes on write)."""
    for attr in attrs:
        check(ctx, f"{verb}_{resource}:{attr}", target)


def filter_fields(ctx: Context, resource: str, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` without the attributes ``ctx`` may not see (the same dict when nothing is hidden)."""
    hidden = HIDDEN.get(resource, ())
    if ctx.is_admin or not hidden:
        return body
    return {key: value for key, value in body.items() if key not in hidden}
