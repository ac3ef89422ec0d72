"""Routes of security groups and their rules (``/v2.0/security-groups``, ``/v2.0/security-group-rules``).

The extension aliases (``security-group``, ``port-security``, ``allowed-address-pairs``,
``stateful-security-group``) are advertised (floatnet/api/extensions.py): clients read them as "enforced",
and the agent enforces them (docs/security-groups.md, "The agent's part").
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from floatnet.api.resource import ResourceSpec, resource_routes
from floatnet.core.resources.security_group_rules import SecurityGroupRuleService
from floatnet.core.resources.security_groups import SecurityGroupService

SECURITY_RESOURCES = (
    ResourceSpec("security_group", "security_groups", SecurityGroupService, path="security-groups"),
    ResourceSpec("security_group_rule", "security_group_rules", SecurityGroupRuleService, path="security-group-rules"),
)


def routes() -> list[BaseRoute]:
    """The security group routes (mounted by :func:`floatnet.api.app.create_app`)."""
    return [route for spec in SECURITY_RESOURCES for route in resource_routes(spec)]
