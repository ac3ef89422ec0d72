"""Routes of RBAC policies (``/v2.0/rbac-policies``): who else may use a network, address scope or subnet pool.

The extensions are registered here, with the code that implements them: ``rbac-policies`` (the resource),
``rbac-address-scope`` and ``rbac-subnetpool`` (its object types beyond networks).
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from floatnet.api import extensions
from floatnet.api.resource import ResourceSpec, resource_routes
from floatnet.core.resources.rbac import RbacPolicyService

for _alias, _name, _description in (
    (
        "rbac-policies",
        "RBAC Policies",
        "Allows creation and modification of policies that control project access to resources.",
    ),
    ("rbac-address-scope", "Add address_scope type to RBAC", "Add address_scope type to RBAC."),
    ("rbac-subnetpool", "Add subnetpool type to RBAC", "Add subnetpool type to RBAC."),
):
    extensions.register(_alias, _name, _description)

RBAC = ResourceSpec("rbac_policy", "rbac_policies", RbacPolicyService, tags=False, path="rbac-policies")


def routes() -> list[BaseRoute]:
    """The RBAC policy routes (mounted by :func:`floatnet.api.app.create_app`)."""
    return resource_routes(RBAC)
