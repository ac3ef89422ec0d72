"""Routes of RBAC policies (``/v2.0/rbac-policies``: who else may use a network, address scope or subnet pool),
the service providers (``GET /v2.0/service-providers``) and the availability zones
(``GET /v2.0/availability_zones``).

The extensions are registered here, with the code that implements them: ``rbac-policies`` (the resource),
``rbac-address-scope`` and ``rbac-subnetpool`` (its object types beyond networks), ``service-type``,
``availability_zone`` and ``network_availability_zone`` (a network's ``availability_zone_hints`` and
``availability_zones``).
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from floatnet.api import extensions
from floatnet.api.resource import ResourceSpec, list_route, resource_routes
from floatnet.core.resources.availability_zones import AvailabilityZoneService
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
    ("availability_zone", "Availability Zone", "The availability zone extension."),
    ("network_availability_zone", "Network Availability Zone", "Availability zone support for network."),
):
    extensions.register(_alias, _name, _description)

RBAC = ResourceSpec("rbac_policy", "rbac_policies", RbacPolicyService, tags=False, path="rbac-policies")


def routes() -> list[BaseRoute]:
    """The RBAC policy, service provider and availability zone routes (mounted by
    :func:`floatnet.api.app.create_app`)."""
    providers = list_route(
        "service-providers", "service_provider", lambda core: ServiceProviderService(core).list, "name"
    )
    zones = list_route(
        "availability_zones", "availability_zone", lambda core: AvailabilityZoneService(core).list, "name"
    )
    return [*resource_routes(RBAC), providers, zones]
