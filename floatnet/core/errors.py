"""The domain's errors, in Neutron's names, status codes and messages.

Every error the API can answer is a :class:`NeutronError`; the API renders it as
``{"NeutronError": {"type": <type>, "message": <message>, "detail": ""}}`` with ``status_code``. ``type`` is
the class name unless a subclass sets ``type_name`` (Neutron reports some errors as the webob class, e.g.
``HTTPBadRequest``). Subclasses only declare a status and a message template filled from keyword arguments.
"""

from __future__ import annotations

from typing import Any


class NeutronError(Exception):
    """Base of all API-visible errors: ``status_code``, ``type`` and a formatted ``message``."""

    status_code = 500
    message_template = "An unknown exception occurred."
    type_name: str | None = None

    def __init__(self, message: str | None = None, /, **kwargs: Any) -> None:
        self.kwargs = kwargs
        self.message = message if message is not None else self.message_template % kwargs
        super().__init__(self.message)

    @property
    def type(self) -> str:
        return self.type_name or type(self).__name__

    def to_dict(self) -> dict[str, Any]:
        """The Neutron error envelope."""
        return {"NeutronError": {"type": self.type, "message": self.message, "detail": ""}}


class BadRequest(NeutronError):
    status_code = 400
    message_template = "Bad %(resource)s request: %(msg)s."


class HTTPBadRequest(BadRequest):
    """Attribute validation failures: Neutron reports them as the webob class."""

    message_template = "%(msg)s"


class InvalidInput(BadRequest):
    message_template = "Invalid input for operation: %(error_message)s."


class MalformedRequestBody(BadRequest):
    message_template = "Malformed request body: %(reason)s."


class NotAuthorized(NeutronError):
    status_code = 403
    message_template = "Not authorized."


class PolicyNotAuthorized(NotAuthorized):
    message_template = "(rule:%(action)s) is disallowed by policy."


class NotFound(NeutronError):
    status_code = 404
    message_template = "An unknown exception occurred."


class HTTPNotFound(NotFound):
    message_template = "The resource could not be found."


class HTTPMethodNotAllowed(NeutronError):
    status_code = 405
    message_template = (
        "The server could not comply with the request since it is either malformed or otherwise incorrect."
    )


class ExtensionNotFound(NotFound):
    message_template = "Extension with alias %(extension_alias)s does not exist."


class NetworkNotFound(NotFound):
    message_template = "Network %(net_id)s could not be found."


class SubnetNotFound(NotFound):
    message_template = "Subnet %(subnet_id)s could not be found."


class PortNotFound(NotFound):
    message_template = "Port %(port_id)s could not be found."


class AgentNotFound(NotFound):
    message_template = "Agent %(id)s could not be found."


class Conflict(NeutronError):
    status_code = 409
    message_template = "A conflict occurred."


class NetworkMTUSubnetConflict(Conflict):
    message_template = "MTU of %(net_id)s is not valid, subnet requires a minimum of %(mtu)s"


class NeutronDbObjectDuplicateEntry(Conflict):
    """neutron-lib's answer when a request writes a row that a unique constraint already holds."""

    message_template = (
        "Failed to create a duplicate %(object_type)s: for attribute(s) %(attributes)s with value(s) %(values)s"
    )


class InUse(Conflict):
    message_template = "The resource is in use."


class NetworkInUse(InUse):
    message_template = (
        "Unable to complete operation on network %(net_id)s. There are one or more ports still in use on the network."
    )


class SubnetInUse(InUse):
    message_template = (
        "Unable to complete operation on subnet %(subnet_id)s: "
        "One or more ports have an IP allocation from this subnet."
    )


class PortInUse(InUse):
    message_template = (
        "Unable to complete operation on port %(port_id)s for network %(net_id)s. "
        "Port already has an attached device %(device_id)s."
    )


class InvalidSharedSetting(Conflict):
    message_template = "Unable to reconfigure sharing settings for network %(network)s. Multiple tenants are using it."


class GatewayIpInUse(InUse):
    message_template = "Current gateway ip %(ip_address)s already in use by port %(port_id)s. Unable to update."


class MacAddressInUse(InUse):
    message_template = "Unable to complete operation for network %(net_id)s. The mac address %(mac)s is in use."


class IpAddressAlreadyAllocated(Conflict):
    message_template = "IP address %(ip)s already allocated in subnet %(subnet_id)s"


class IpAddressGenerationFailure(Conflict):
    message_template = "No more IP addresses available on network %(net_id)s."


class VlanIdInUse(InUse):
    message_template = (
        "Unable to create the network. The VLAN %(vlan_id)s on physical network %(physical_network)s is in use."
    )


class FlatNetworkInUse(InUse):
    message_template = "Unable to create the flat network. Physical network %(physical_network)s is in use."


class TunnelIdInUse(InUse):
    message_template = "Unable to create the network. The tunnel ID %(tunnel_id)s is in use."


class OverlappingAllocationPools(Conflict):
    message_template = "Found overlapping allocation pools: %(pool_1)s %(pool_2)s for subnet %(subnet_cidr)s."


class GatewayConflictWithAllocationPools(InUse):
    message_template = "Gateway ip %(ip_address)s conflicts with allocation pool %(pool)s."


class InvalidAllocationPool(BadRequest):
    message_template = "The allocation pool %(pool)s is not valid."


class OutOfBoundsAllocationPool(BadRequest):
    message_template = "The allocation pool %(pool)s spans beyond the subnet cidr %(subnet_cidr)s."


class InvalidIpForSubnet(BadRequest):
    message_template = "IP address %(ip_address)s is not a valid IP for the specified subnet."


class InvalidIpForNetwork(BadRequest):
    message_template = "IP address %(ip_address)s is not a valid IP for any of the subnets on the specified network."


class PreconditionFailed(NeutronError):
    status_code = 412
    message_template = "Precondition failed: %(reason)s"


class RevisionNumberConstraintFailed(PreconditionFailed):
    message_template = "Constrained to %(expected)s, but current revision is %(current)s"


class OverQuota(Conflict):
    message_template = "Quota exceeded for resources: %(overs)s."


class ServiceUnavailable(NeutronError):
    status_code = 503
    message_template = "The service is unavailable."


class NoNetworkAvailable(ServiceUnavailable):
    message_template = "Unable to create the network. No tenant network is available for allocation."


class TooManyConflicts(Conflict):
    """The transaction kept racing with others (database retry limit); safe for the client to retry."""

    message_template = "The request conflicted with concurrent requests; retry it."


# Attribute checks Neutron makes and floatnet matches (issue 20).


class SegmentNotFound(NotFound):
    message_template = "Segment %(segment_id)s could not be found."


class InvalidSubnetServiceType(InvalidInput):
    message_template = "Subnet service type %(service_type)s does not correspond to a valid device owner."


class InvalidInputSubnetServiceType(InvalidInput):
    message_template = "Subnet service type %(service_type)s is not a string."


class HostRoutesExhausted(BadRequest):
    message_template = (
        "Unable to complete operation for %(subnet_id)s. The number of host routes exceeds the limit %(quota)s."
    )


class DNSNameServersExhausted(BadRequest):
    message_template = (
        "Unable to complete operation for %(subnet_id)s. The number of DNS nameservers exceeds the limit %(quota)s."
    )


class ExternalNetworkInUse(InUse):
    message_template = (
        "External network %(net_id)s cannot be updated to be made non-external, since it has existing gateway ports."
    )


class ServicePortInUse(InUse):
    """A port a router or floating IP still uses is deleted through that resource, not ``DELETE /ports``."""

    message_template = "Port %(port_id)s cannot be deleted directly via the port API: %(reason)s."


class DeviceIDNotOwnedByTenant(Conflict):
    """A non-admin named another project's router as the ``device_id`` of a router interface port."""

    message_template = (
        "The following device_id %(device_id)s is not owned by your project or matches another project router."
    )
