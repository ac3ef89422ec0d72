"""IPv6 addressing modes as Neutron applies them (``neutron/common/ipv6_utils.py`` and the IPAM backend).

A subnet whose ``ipv6_address_mode`` or ``ipv6_ra_mode`` is ``slaac`` or ``dhcpv6-stateless`` is an
*auto-address* subnet: hosts form their address from the prefix and their MAC (EUI-64, RFC 4291), so the
server does not choose one — it records that EUI-64 address for every port on the network (router interfaces
excepted: they take the subnet's gateway), and a port may not ask for another address there. The mode rules
for a new subnet are Neutron's ``_validate_ipv6_attributes``: modes only on IPv6 subnets with DHCP enabled,
equal when both are given, and an auto-address subnet must be a /64 (EUI-64 fills the other 64 bits).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from floatnet.core.errors import InvalidInput

AUTO_MODES = ("slaac", "dhcpv6-stateless")
ROUTER_INTERFACE_OWNERS = (
    "network:router_interface", "network:ha_router_replicated_interface", "network:router_interface_distributed",
)  # fmt: skip


class AllocationOnAutoAddressSubnet(InvalidInput):
    message_template = (
        "IPv6 address %(ip)s cannot be directly assigned to a port on subnet %(subnet_id)s as the subnet is "
        "configured for automatic addresses"
    )


def is_auto(subnet: Any) -> bool:
    """Whether ``subnet`` (a row or object with the two mode attributes) is an auto-address subnet."""
    return subnet.ipv6_address_mode in AUTO_MODES or subnet.ipv6_ra_mode in AUTO_MODES


def eui64(cidr: str, mac: str) -> str:
    """The EUI-64 address of ``mac`` in the /64 ``cidr``: the MAC with ``ff:fe`` in its middle and the
    universal/local bit flipped, after the prefix (``netutils.get_ipv6_addr_by_EUI64``)."""
    raw = bytes.fromhex(mac.replace(":", ""))
    interface_id = bytes([raw[0] ^ 0x02]) + raw[1:3] + b"\xff\xfe" + raw[3:6]
    prefix = int(ipaddress.IPv6Network(cidr).network_address)
    return str(ipaddress.IPv6Address(prefix | int.from_bytes(interface_id, "big")))


def check_modes(attrs: dict[str, Any], cidr: str) -> None:
    """The mode rules for a new subnet (``attrs``: validated, ``ip_version`` and ``enable_dhcp`` filled)."""
    ra_mode, address_mode = attrs.get("ipv6_ra_mode"), attrs.get("ipv6_address_mode")
    if attrs["ip_version"] == 4:
        for name, mode in (("ipv6_ra_mode", ra_mode), ("ipv6_address_mode", address_mode)):
            if mode is not None:
                raise InvalidInput(error_message=f"{name} is not valid when ip_version is 4")
        return
    if (ra_mode or address_mode) and not attrs["enable_dhcp"]:
        raise InvalidInput(
            error_message="ipv6_ra_mode or ipv6_address_mode cannot be set when enable_dhcp is set to False"
        )
    if ra_mode and address_mode and ra_mode != address_mode:
        raise InvalidInput(
            error_message=f"ipv6_ra_mode set to '{ra_mode}' with ipv6_address_mode set to '{address_mode}' is not "
            "valid. If both attributes are set, they must be the same value"
        )
    if (ra_mode in AUTO_MODES or address_mode in AUTO_MODES) and ipaddress.ip_network(cidr).prefixlen != 64:
        raise InvalidInput(
            error_message=f"Invalid CIDR {cidr} for IPv6 address mode. OpenStack uses the EUI-64 address format, "
            "which requires the prefix to be /64"
        )


def check_dhcp_update(current: Any, attrs: dict[str, Any]) -> None:
    """DHCP cannot be turned off on a subnet with IPv6 modes (Neutron's ``_validate_ipv6_update_dhcp``)."""
    if attrs.get("enable_dhcp") is False and (current.ipv6_ra_mode or current.ipv6_address_mode):
        raise InvalidInput(error_message="Cannot disable enable_dhcp with ipv6 attributes set")
