"""Errors of routers, floating IPs, agents and the change feed, with Neutron's type names and status codes.

The type names are what clients (and people reading logs) recognise, so they match Neutron's exactly; the
messages say the same thing in our words. Generic 400s (``BadRequest`` with ``resource``/``msg``) and IPAM
conflicts come from :mod:`floatnet.core.errors`.
"""

from __future__ import annotations

from floatnet.core.errors import BadRequest, Conflict, InUse, NeutronError, NotFound


class RouterNotFound(NotFound):
    message_template = "Router %(router_id)s could not be found"


class RouterInUse(InUse):
    message_template = "Router %(router_id)s %(reason)s"

    def __init__(self, reason: str = "still has ports", **kwargs: object) -> None:
        super().__init__(reason=reason, **kwargs)


class RouterInterfaceNotFound(NotFound):
    message_template = "Router %(router_id)s has no interface with id %(port_id)s"


class RouterInterfaceNotFoundForSubnet(NotFound):
    message_template = "Router %(router_id)s has no interface on subnet %(subnet_id)s"


class RouterInterfaceInUseByFloatingIP(InUse):
    message_template = (
        "The interface of router %(router_id)s on subnet %(subnet_id)s cannot be removed: "
        "one or more floating IPs need it."
    )


class RouterInterfaceInUseByRoute(InUse):
    message_template = (
        "The interface of router %(router_id)s on subnet %(subnet_id)s cannot be removed: "
        "one or more routes use a nexthop on it."
    )


class RouterExternalGatewayInUseByFloatingIp(InUse):
    message_template = (
        "The gateway of router %(router_id)s cannot be changed: one or more floating IPs need its "
        "gateway to external network %(net_id)s."
    )


class InvalidRoutes(BadRequest):
    message_template = "Invalid format for routes: %(routes)s, %(reason)s"


class FloatingIPNotFound(NotFound):
    message_template = "Floating IP %(floatingip_id)s could not be found"


class ExternalGatewayForFloatingIPNotFound(NotFound):
    message_template = (
        "External network %(external_network_id)s is not reachable from subnet %(subnet_id)s, "
        "so port %(port_id)s cannot be associated with a floating IP."
    )


class FloatingIPPortAlreadyAssociated(InUse):
    message_template = (
        "Floating IP %(floating_ip_address)s (%(fip_id)s) cannot be associated with port %(port_id)s "
        "fixed IP %(fixed_ip)s: that fixed IP already has a floating IP on external network %(net_id)s."
    )


class ChangesExpired(NeutronError):
    """The agent's cursor is older than the retained change log (or ahead of it): relist the state."""

    status_code = 410
    message_template = "Changes after sequence %(after)s are no longer available (oldest kept: %(oldest)s)."


__all__ = [
    "ChangesExpired",
    "ExternalGatewayForFloatingIPNotFound",
    "FloatingIPNotFound",
    "FloatingIPPortAlreadyAssociated",
    "InvalidRoutes",
    "RouterExternalGatewayInUseByFloatingIp",
    "RouterInUse",
    "RouterInterfaceInUseByFloatingIP",
    "RouterInterfaceInUseByRoute",
    "RouterInterfaceNotFound",
    "RouterInterfaceNotFoundForSubnet",
    "RouterNotFound",
]


class NoVRIDAvailable(Conflict):
    message_template = (
        "No more Virtual Router Identifier (VRID) available when creating router %(router_id)s. "
        "The limit of number of HA Routers per project is 254."
    )
