"""Routes of RBAC policies (``/v2.0/rbac-policies``: who else may use a network, address scope or subnet pool)
and of the service providers (``GET /v2.0/service-providers``).

The extensions are registered here, with the code that implements them: ``rbac-policies`` (the resource),
``rbac-address-scope`` and ``rbac-subnetpool`` (its object types beyond networks), ``service-type``.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from floatnet.api import extensions
from floatnet.api.resource import ResourceSpec, list_route, resource_routes
from floatnet.core.resources.rbac import RbacPolicyService
from floatnet.core.resources.service_providers import ServiceProviderService

for _alias, _name, _description in (
    (
        "rbac-policies",
        "RBAC Policies",
        "Allows creation and modification of policies that control project access to resources.",
    ),
    ("rbac-address-scope", "Add address_scope type to RBAC", "Add address_scope type to RBAC."),
    ("rbac-subnetpool", "Add subnetpool type to RBAC", "Add subnetpool type to RBAC."),
    ("service-type", "Neutron Service Type Management", "API for retrieving service providers for Neutron."),
):
    extensions.register(_alias, _name, _description)

RBAC = ResourceSpec("rbac_policy", "rbac_policies", RbacPolicyService, tags=False, path="rbac-policies")


def routes() -> list[BaseRoute]:
    """The RBAC policy and service provider routes (mounted by :func:`floatnet.api.app.create_app`)."""
    providers = list_route(
        "service-providers", "service_provider", lambda core: ServiceProviderService(core).list, "name"
    )
    return [*resource_routes(RBAC), providers]
