"""Neutron's errors of subnet pools and address scopes (neutron-lib ``exceptions`` and
``exceptions.address_scope``), with their status codes and messages.

``SubnetAllocationError`` is a bare ``NeutronException`` in neutron-lib (a 500 there); floatnet answers it as
409, because "no room left in the pool" is the caller's problem, never a server fault.
"""

from __future__ import annotations

from floatnet.core.errors import BadRequest, Conflict, InUse, NotFound, OverQuota


class SubnetPoolNotFound(NotFound):
    message_template = "Subnet pool %(subnetpool_id)s could not be found."


class AddressScopeNotFound(NotFound):
    message_template = "Address scope %(address_scope_id)s could not be found."


class EmptySubnetPoolPrefixList(BadRequest):
    message_template = "Empty subnet pool prefix list."


class PrefixVersionMismatch(BadRequest):
    message_template = "Cannot mix IPv4 and IPv6 prefixes in a subnet pool."


class UnsupportedMinSubnetPoolPrefix(BadRequest):
    message_template = "Prefix '%(prefix)s' not supported in IPv%(version)s pool."


class IllegalSubnetPoolPrefixBounds(BadRequest):
    message_template = "Illegal prefix bounds: %(prefix_type)s=%(prefixlen)s, %(base_prefix_type)s=%(base_prefixlen)s."


class IllegalSubnetPoolPrefixUpdate(BadRequest):
    message_template = "Illegal update to prefixes: %(msg)s."


class IllegalSubnetPoolUpdate(BadRequest):
    message_template = "Illegal subnetpool update : %(reason)s."


class SubnetAllocationError(Conflict):
    message_template = "Failed to allocate subnet: %(reason)s."


class MinPrefixSubnetAllocationError(BadRequest):
    message_template = (
        "Unable to allocate subnet with prefix length %(prefixlen)s, minimum allowed prefix is %(min_prefixlen)s."
    )


class MaxPrefixSubnetAllocationError(BadRequest):
    message_template = (
        "Unable to allocate subnet with prefix length %(prefixlen)s, maximum allowed prefix is %(max_prefixlen)s."
    )


class SubnetPoolDeleteError(BadRequest):
    message_template = "Unable to delete subnet pool: %(reason)s."


class SubnetPoolQuotaExceeded(OverQuota):
    message_template = "Per-project subnet pool prefix quota exceeded."


class NetworkSubnetPoolAffinityError(BadRequest):
    message_template = "Subnets hosted on the same network must be allocated from the same subnet pool."


class AddressScopePrefixConflict(Conflict):
    message_template = (
        "Failed to associate address scope: subnetpools within an address scope must have unique prefixes."
    )


class IllegalSubnetPoolAssociationToAddressScope(BadRequest):
    message_template = (
        "Illegal subnetpool association: subnetpool %(subnetpool_id)s cannot be associated with address scope "
        "%(address_scope_id)s."
    )


class IllegalSubnetPoolIpVersionAssociationToAddressScope(BadRequest):
    message_template = (
        "Illegal subnetpool association: subnetpool %(subnetpool_id)s cannot associate with address scope "
        "%(address_scope_id)s because subnetpool ip_version is not %(ip_version)s."
    )


class AddressScopeInUse(InUse):
    message_template = (
        "Unable to complete operation on address scope %(address_scope_id)s. There are one or more subnet pools "
        "in use on the address scope."
    )


class AddressScopeUpdateError(BadRequest):
    message_template = "Unable to update address scope %(address_scope_id)s : %(reason)s."
