"""The API extensions floatnet implements — the one list ``/v2.0/extensions`` answers from.

Add an entry here only together with the code that implements it (clients decide what to call from this).
"""

from __future__ import annotations

from typing import Any

UPDATED = "2026-01-01T00:00:00-00:00"

EXTENSIONS: list[dict[str, Any]] = []


def register(alias: str, name: str, description: str) -> None:
    """Declare an implemented extension (idempotent per alias)."""
    if any(ext["alias"] == alias for ext in EXTENSIONS):
        return
    EXTENSIONS.append({"alias": alias, "name": name, "description": description, "updated": UPDATED, "links": []})


for _alias, _name, _description in (
    ("provider", "Provider Network", "Expose mapping of virtual networks to physical networks"),
    ("external-net", "Neutron external network", "Adds external network attribute to network resource."),
    ("binding", "Port Binding", "Expose port bindings of a virtual port to external application"),
    ("project-id", "project_id field enabled", "Extension that indicates that project_id field is enabled."),
    ("standard-attr-revisions", "Resource revision numbers", "This extension adds revision numbers."),
    ("standard-attr-timestamp", "Resource timestamps", "Adds created_at and updated_at fields."),
    ("standard-attr-description", "standard-attr-description", "Extension to add descriptions."),
    ("standard-attr-tag", "Tag support for resources", "Enables to set tag on resources with standard attr."),
    (
        "network-ip-availability",
        "Network IP Availability",
        "IP availability of each network and subnet.",
    ),
    ("filter-validation", "Filter parameters validation", "An unknown filter is a 400, not an empty list."),
    ("tag-creation", "Tag support for resources during creation", "Tags given in a resource's POST body."),
    ("ip-substring-filtering", "IP address substring filtering", "Filter ports by a part of an IP address."),
    ("port-mac-address-regenerate", "Neutron Port MAC address regenerate", "Regenerate a port's MAC (null)."),
    ("revision-if-match", "If-Match constraints based on revision_number", "If-Match on revision_number."),
    ("net-mtu", "Network MTU", "Provides MTU attribute for a network resource."),
    ("net-mtu-writable", "Network MTU (writable)", "Provides a writable MTU attribute for a network resource."),
    ("subnet-external-network", "Subnet External Network", "Subnets show their network's router:external."),
    ("port-security", "Port Security", "Provides port security"),
    ("extra_dhcp_opt", "Neutron Extra DHCP options", "Extra options configuration for DHCP."),
    ("security-group", "security-group", "The security groups extension."),
    ("allowed-address-pairs", "Allowed Address Pairs", "Provides allowed address pairs"),
    ("stateful-security-group", "Stateful security group", "Indicates if the security group is stateful or not"),
    ("dns-integration", "DNS Integration", "Provides integration with DNS."),
    ("pagination", "Pagination support", "Extension that indicates that pagination is enabled."),
    ("sorting", "Sorting support", "Extension that indicates that sorting is enabled."),
):
    register(_alias, _name, _description)


def find(alias: str) -> dict[str, Any] | None:
    """The extension with ``alias``, if implemented."""
    return next((ext for ext in EXTENSIONS if ext["alias"] == alias), None)
