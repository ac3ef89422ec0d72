"""Neutron's device and namespace names, so an operator's habits (``ip netns exec qrouter-<id> …``) carry
over.

Linux limits interface names to 15 characters (IFNAMSIZ - 1); Neutron keeps 11 characters of the port id after
a 3-character prefix, and so do we.
"""

from __future__ import annotations

ROUTER_NS_PREFIX = "qrouter-"
DHCP_NS_PREFIX = "qdhcp-"
OWNED_NS_PREFIXES: tuple[str, ...] = (ROUTER_NS_PREFIX, DHCP_NS_PREFIX)

QR_PREFIX = "qr-"
QG_PREFIX = "qg-"
TAP_PREFIX = "tap"
HA_PREFIX = "ha-"
OWNED_DEV_PREFIXES: tuple[str, ...] = (QR_PREFIX, QG_PREFIX, TAP_PREFIX, HA_PREFIX)

IFNAME_MAX = 15
PORT_ID_CHARS = 11


def router_ns(router_id: str) -> str:
    """The namespace of a router: ``qrouter-<router_id>``."""
    return ROUTER_NS_PREFIX + router_id


def dhcp_ns(network_id: str) -> str:
    """The namespace of a network's DHCP server: ``qdhcp-<network_id>``."""
    return DHCP_NS_PREFIX + network_id


def qr_dev(port_id: str) -> str:
    """A router's internal interface: ``qr-`` + 11 characters of the port id."""
    return QR_PREFIX + port_id[:PORT_ID_CHARS]


def qg_dev(port_id: str) -> str:
    """A router's gateway (external) interface: ``qg-`` + 11 characters of the port id."""
    return QG_PREFIX + port_id[:PORT_ID_CHARS]


def ha_dev(port_id: str) -> str:
    """An HA router replica's device on its project's HA network (VRRP): ``ha-`` + 11 characters of the port id."""
    return HA_PREFIX + port_id[:PORT_ID_CHARS]


def tap_dev(port_id: str) -> str:
    """An instance's or DHCP server's device: ``tap`` + 11 characters of the port id."""
    return TAP_PREFIX + port_id[:PORT_ID_CHARS]


def router_id_of(ns_name: str) -> str | None:
    """The router id of a ``qrouter-`` namespace name, else None."""
    return ns_name[len(ROUTER_NS_PREFIX) :] if ns_name.startswith(ROUTER_NS_PREFIX) else None


def network_id_of(ns_name: str) -> str | None:
    """The network id of a ``qdhcp-`` namespace name, else None."""
    return ns_name[len(DHCP_NS_PREFIX) :] if ns_name.startswith(DHCP_NS_PREFIX) else None
