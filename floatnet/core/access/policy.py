"""Who may do what: the domain's policy calls, backed by Neutron's default rules in oslo.policy.

The rules (:mod:`floatnet.core.access.policy_rules`) and their evaluation
(:mod:`floatnet.core.access.policy_engine`) are Neutron's; the operator overrides them with
``[oslo_policy] policy_file``: ``create_app`` builds one :class:`PolicyEngine` per server (:func:`load`) and the
API hands it to every request's context (``ctx.policy``), so nothing here is global and two servers in one
process keep their own rules; a context without an engine is judged by Neutron's defaults. The domain's calls:

* :func:`check` ``(ctx, action, target)`` raises ``PolicyNotAuthorized`` (403) unless ``ctx`` may do
  ``action`` (``"create_network:shared"``, ``"get_quota"``, …) on ``target`` (the resource's attributes;
  ``network_project_id`` names the parent network's project for rules that let a network's owner act).
* :func:`check_attributes` checks ``<verb>_<resource>:<attr>`` for the attributes a request writes; with
  ``values`` a create skips attributes left at their default, as Neutron does.
* :func:`filter_fields` ``(ctx, resource, body)`` drops the attributes ``ctx`` may not see (``provider:*``,
  ``binding:*`` except ``binding:vnic_type``, … for non-admins).

Actions without a rule are allowed: project scoping (404 for another project's resource) is done by the
services' queries, as Neutron's plugin does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from floatnet.core.access.policy_engine import PolicyEngine
from floatnet.core.context import RequestContext
from floatnet.core.errors import PolicyNotAuthorized


def load(policy_file: str = "") -> PolicyEngine:
    """Neutron's defaults plus the operator's ``policy_file`` (``PolicyFileError`` if unusable)."""
    return PolicyEngine(policy_file or None)


@functools.cache
def defaults() -> PolicyEngine:
    """Neutron's default rules alone, for contexts built outside a server (built once, never changed)."""
    return PolicyEngine()


def engine_of(ctx: RequestContext) -> PolicyEngine:
    """The engine that judges ``ctx``: its server's, else Neutron's defaults."""
    engine: PolicyEngine | None = ctx.policy
    return engine if engine is not None else defaults()


def _target(target: Mapping[str, Any]) -> dict[str, Any]:
    """``target`` with the names the rules use (``tenant_id``, ``network:project_id``…)."""
    result = dict(target)
    if "project_id" in result:
        result.setdefault("tenant_id", result["project_id"])
    network_project = result.pop("network_project_id", None)
    if network_project is not None:
        result.setdefault("network:project_id", network_project)
        result.setdefault("network:tenant_id", network_project)
    return result


def allowed(ctx: RequestContext, action: str, target: Mapping[str, Any]) -> bool:
    """Whether ``ctx`` may do ``action`` on ``target`` (an action without a rule is allowed)."""
    engine = engine_of(ctx)
    if action not in engine.enforcer.rules:
        return True
    return engine.decide(ctx, action, _target(target))


def check(ctx: RequestContext, action: str, target: Mapping[str, Any]) -> None:
    """Raise ``PolicyNotAuthorized`` (403) unless ``ctx`` may do ``action`` on ``target``."""
    if not allowed(ctx, action, target):
        raise PolicyNotAuthorized(action=action)


def check_attributes(
    ctx: RequestContext,
    verb: str,
    resource: str,
    attrs: Iterable[str],
    target: Mapping[str, Any],
    values: Mapping[str, Any] | None = None,
) -> None:
    """Check ``<verb>_<resource>:<attr>`` for every written attribute (admin-only attributes and the like).

    With ``values`` (the request's attributes) the nested rules are checked too (``fixed_ips:ip_address``,
    ``external_gateway_info:enable_snat``) and a create ignores attributes given their default value.
    """
    action = f"{verb}_{resource}"
    if values is not None:
        written = {key: values[key] for key in attrs if key in values}
        refused = engine_of(ctx).refused_write(ctx, action, written, _target({**target, **written}))
        if refused is not None:
            raise PolicyNotAuthorized(action=refused)
        return
    for attr in attrs:
        check(ctx, f"{action}:{attr}", target)


def filter_fields(ctx: RequestContext, resource: str, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` without the attributes ``ctx`` may not see (the same dict when nothing is hidden)."""
    return engine_of(ctx).filter_fields(ctx, resource, body)


def field_filter(ctx: RequestContext, resource: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """:func:`filter_fields` for many bodies of one request (a list): decided once, applied per item."""
    return engine_of(ctx).field_filter(ctx, resource)
