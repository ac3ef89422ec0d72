"""``filter-validation``: the attributes each collection may be filtered on; any other filter is a 400.

Neutron (``filter_validation = True``, its default) answers a filter on an attribute the resource does not
have with a 400 instead of matching nothing, so a misspelt filter cannot silently list nothing (or, with
``not-tags``, everything). Attributes the caller may not see stay valid filters (they then match nothing,
see :mod:`floatnet.api.listing`), so the 400 reveals only what the API reference already documents.
Collections without an entry here are not validated.
"""

from __future__ import annotations

from floatnet.core.errors import HTTPBadRequest
from floatnet.core.listing import TAG_FILTERS

_STANDARD = (
    "id name description project_id tenant_id created_at updated_at revision_number tags " + " ".join(TAG_FILTERS)
).split()
_NETWORK = [
    "admin_state_up",
    "availability_zone_hints",
    "availability_zones",
    "ipv4_address_scope",
    "ipv6_address_scope",
    "is_default",
    "l2_adjacency",
    "mtu",
    "port_security_enabled",
    "provider:network_type",
    "provider:physical_network",
    "provider:segmentation_id",
    "qinq",
    "router:external",
    "shared",
    "status",
    "subnets",
    "vlan_transparent",
]
_SUBNET = [
    "allocation_pools",
    "cidr",
    "dns_nameservers",
    "dns_publish_fixed_ip",
    "enable_dhcp",
    "gateway_ip",
    "host_routes",
    "ip_version",
    "ipv6_address_mode",
    "ipv6_ra_mode",
    "network_id",
    "router:external",
    "segment_id",
    "service_types",
    "shared",
    "subnetpool_id",
]
_PORT = [
    "admin_state_up",
    "allowed_address_pairs",
    "binding:host_id",
    "binding:profile",
    "binding:vif_details",
    "binding:vif_type",
    "binding:vnic_type",
    "device_id",
    "device_owner",
    "dns_name",
    "extra_dhcp_opts",
    "fixed_ips",
    "ip_allocation",
    "mac_address",
    "network_id",
    "port_security_enabled",
    "propagate_uplink_status",
    "resource_request",
    "security_groups",
    "status",
]
_ROUTER = ["admin_state_up", "external_gateway_info", "routes", "status", "ha", "distributed", "flavor_id"]
_ROUTER += ["availability_zone_hints", "availability_zones"]
_FIP = [
    "fixed_ip_address",
    "floating_ip_address",
    "floating_network_id",
    "port_details",
    "port_id",
    "router_id",
    "status",
]
_SG = ["security_group_rules", "shared", "stateful"]
_RULE = [
    "belongs_to_default_sg",
    "direction",
    "ethertype",
    "normalized_cidr",
    "port_range_max",
    "port_range_min",
    "protocol",
    "remote_address_group_id",
    "remote_group_id",
    "remote_ip_prefix",
    "security_group_id",
]
_POOL = [
    "address_scope_id",
    "default_prefixlen",
    "default_quota",
    "ip_version",
    "is_default",
    "max_prefixlen",
    "min_prefixlen",
    "prefixes",
    "shared",
]
_AGENT = [
    "id",
    "agent_type",
    "binary",
    "topic",
    "host",
    "admin_state_up",
    "alive",
    "heartbeat_timestamp",
    "started_at",
    "created_at",
    "configurations",
    "availability_zone",
    "description",
    "resources_synced",
]

FILTERABLE: dict[str, frozenset[str]] = {
    "network": frozenset((*_STANDARD, *_NETWORK)),
    "subnet": frozenset((*_STANDARD, *_SUBNET)),
    "port": frozenset((*_STANDARD, *_PORT)),
    "router": frozenset((*_STANDARD, *_ROUTER)),
    "floatingip": frozenset((*_STANDARD, *_FIP)),
    "security_group": frozenset((*_STANDARD, *_SG)),
    "security_group_rule": frozenset((*_STANDARD, *_RULE)),
    "subnetpool": frozenset((*_STANDARD, *_POOL)),
    "address_scope": frozenset((*_STANDARD, "shared", "ip_version")),
    "rbac_policy": frozenset(
        ["id", "project_id", "tenant_id", "object_type", "object_id", "action", "target_tenant", "target_project"]
    ),
    "service_provider": frozenset(["service_type", "name", "default"]),
    "availability_zone": frozenset(["name", "resource", "state"]),
    "agent": frozenset(_AGENT),
    "floatingip_pool": frozenset(["subnet_id", "subnet_name", "cidr", "network_id", "project_id", "tenant_id"]),
    "network_ip_availability": frozenset(
        ["network_id", "network_name", "project_id", "tenant_id", "ip_version", "total_ips", "used_ips"]
    ),
}


def check_known(resource: str, names: list[str]) -> None:
    """400 ``HTTPBadRequest`` naming the first filter ``resource`` has no attribute for."""
    known = FILTERABLE.get(resource)
    if known is None:
        return
    for name in names:
        if name not in known:
            raise HTTPBadRequest(msg=f"{name} is invalid attribute for filtering")
