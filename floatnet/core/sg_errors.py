"""Security group, port security and allowed address pair errors, in Neutron's names, codes and messages
(neutron/extensions/securitygroup.py, neutron_lib.exceptions.port_security / allowedaddresspairs)."""

from __future__ import annotations

from typing import Any

from floatnet.core.errors import Conflict, InUse, InvalidInput, NotFound


class SecurityGroupNotFound(NotFound):
    message_template = "Security group %(id)s does not exist"


class SecurityGroupRuleNotFound(NotFound):
    message_template = "Security group rule %(id)s does not exist"


class SecurityGroupInUse(InUse):
    message_template = "Security Group %(id)s %(reason)s."

    def __init__(self, message: str | None = None, /, **kwargs: Any) -> None:
        kwargs.setdefault("reason", "in use")
        super().__init__(message, **kwargs)


class SecurityGroupCannotRemoveDefault(InUse):
    message_template = "Insufficient rights for removing default security group."


class SecurityGroupCannotUpdateDefault(InUse):
    message_template = "Updating default security group not allowed."


class SecurityGroupDefaultAlreadyExists(InUse):
    message_template = "Default security group already exists."


class SecurityGroupRuleExists(InUse):
    message_template = "Security group rule already exists. Rule id is %(rule_id)s."


class SecurityGroupConflict(Conflict):
    message_template = "Error %(reason)s while attempting the operation."


class SecurityGroupInvalidPortRange(InvalidInput):
    message_template = "For TCP/UDP protocols, port_range_min must be <= port_range_max"


class SecurityGroupInvalidProtocolForPort(InvalidInput):
    message_template = (
        "Ports cannot be specified for protocol %(protocol)s. Ports are only supported for %(valid_port_protocols)s."
    )


class SecurityGroupInvalidPortValue(InvalidInput):
    message_template = "Invalid value for port %(port)s"


class SecurityGroupInvalidIcmpValue(InvalidInput):
    message_template = "Invalid value for ICMP %(field)s (%(attr)s) %(value)s. It must be 0 to 255."


class SecurityGroupEthertypeConflictWithProtocol(InvalidInput):
    message_template = "Invalid ethertype %(ethertype)s for protocol %(protocol)s."


class SecurityGroupMissingIcmpType(InvalidInput):
    message_template = "ICMP code (port-range-max) %(value)s is provided but ICMP type (port-range-min) is missing."


class SecurityGroupRuleInvalidProtocol(InvalidInput):
    message_template = (
        "Security group rule protocol %(protocol)s not supported. Only protocol values %(values)s and integer "
        "representations [0 to 255] are supported."
    )


class SecurityGroupRuleInvalidEtherType(InvalidInput):
    message_template = "Security group rule for ethertype '%(ethertype)s' not supported. Allowed values are %(values)s."


class SecurityGroupMultipleRemoteEntites(InvalidInput):
    message_template = "Only one of remote_ip_prefix or remote_group_id or remote_address_group_id may be provided."


class SecurityGroupProtocolRequiredWithPorts(InvalidInput):
    message_template = "Must also specify protocol if port range is given."


class SecurityGroupRuleParameterConflict(InvalidInput):
    message_template = "Conflicting value ethertype %(ethertype)s for CIDR %(cidr)s"


class InvalidCIDR(InvalidInput):
    message_template = "Invalid CIDR %(input)s given as IP prefix."


class PortSecurityAndIPRequiredForSecurityGroups(InvalidInput):
    message_template = "Port security must be enabled and port must have an IP address in order to use security groups."


class PortSecurityPortHasSecurityGroup(InUse):
    message_template = (
        "Port has security group associated. Cannot disable port security or IP address until security group "
        "is removed."
    )


class AddressPairAndPortSecurityRequired(Conflict):
    message_template = "Port Security must be enabled in order to have allowed address pairs on a port."


class AllowedAddressPairsMissingIP(InvalidInput):
    message_template = "AllowedAddressPair must contain ip_address"


class DuplicateAddressPairInRequest(InvalidInput):
    message_template = "Request contains duplicate address pair: mac_address %(mac_address)s ip_address %(ip_address)s."


class AllowedAddressPairExhausted(InvalidInput):
    message_template = "The number of allowed address pair exceeds the maximum %(quota)s."
