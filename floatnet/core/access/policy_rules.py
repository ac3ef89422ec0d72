"""Neutron's default API policy, for the resources floatnet implements, as oslo.policy rule defaults.

The rule names, check strings and their meaning follow Neutron's current defaults (project-scoped "new
defaults": ``admin``/``member``/``reader`` roles), so an operator's Neutron ``policy.yaml`` overrides apply.
Conventions the rules rely on (provided by :mod:`floatnet.core.access.policy_engine` and its callers):

- credentials carry ``project_id``/``tenant_id``, ``user_id``, ``roles`` and ``is_admin``;
- a target is the resource's attributes (``project_id``/``tenant_id`` included); a subnet's or port's target
  also carries its network's ``network:project_id``/``network:tenant_id``, ``network:shared`` and
  ``network:router:external``, which ``field:networks:shared=True``-style checks read;
- ``<action>_<resource>:<attribute>`` rules guard one attribute: on create/update it must pass when the
  attribute is written, on show/list the attribute is hidden when it fails.
"""

from __future__ import annotations

import re
from typing import Any

from oslo_policy import _checks, policy

_MISSING: Any = object()


@_checks.register("field")
class FieldCheck(_checks.Check):
    """Neutron's ``field:<resource>:<attribute>=<value>`` check (``=~regex`` for a regular expression).

    The target's ``<singular resource>:<attribute>`` key (a parent's attribute, e.g. ``network:shared`` on a
    subnet) is preferred to its own ``<attribute>``. Registered at import, before the rules below are parsed
    (oslo.policy parses a rule's check string when the rule is defined).
    """

    def __init__(self, kind: str, match: str) -> None:
        super().__init__(kind, match)
        resource_field, _, value = match.partition("=")
        resource, _, self.field = resource_field.partition(":")
        self.parent_key = f"{resource.removesuffix('s')}:{self.field}"
        self.pattern = re.compile(value[1:]) if value.startswith("~") else None
        self.value = value

    def __call__(self, target: Any, creds: Any, enforcer: Any, current_rule: str | None = None) -> bool:
        actual = target.get(self.parent_key, target.get(self.field, _MISSING))
        if actual is _MISSING or actual is None:
            return False
        if self.pattern is not None:
            return bool(self.pattern.match(str(actual)))
        if isinstance(actual, bool):
            return actual == (self.value.lower() in ("true", "1", "yes"))
        return str(actual) == self.value


ADMIN = "rule:admin_only"
PROJECT_MEMBER = "role:member and project_id:%(project_id)s"
PROJECT_READER = "role:reader and project_id:%(project_id)s"
ADMIN_OR_PROJECT_MEMBER = f"({ADMIN}) or ({PROJECT_MEMBER})"
ADMIN_OR_PROJECT_READER = f"({ADMIN}) or ({PROJECT_READER})"
NET_OWNER_MEMBER = "role:member and project_id:%(network:project_id)s"
NET_OWNER_READER = "role:reader and project_id:%(network:project_id)s"
ADMIN_OR_NET_OWNER_MEMBER = f"({ADMIN}) or ({NET_OWNER_MEMBER})"
ADMIN_OR_NET_OWNER_READER = f"({ADMIN}) or ({NET_OWNER_READER})"
ADMIN_OR_PARENT_OWNER_MEMBER = f"({ADMIN}) or (role:member and rule:ext_parent_owner)"
ADMIN_OR_PARENT_OWNER_READER = f"({ADMIN}) or (role:reader and rule:ext_parent_owner)"
SCOPE = ["project"]

BASE_RULES = [
    policy.RuleDefault("context_is_admin", "role:admin", "Decides who is an administrator (is_admin)."),
    policy.RuleDefault("admin_only", "rule:context_is_admin", "Administrators only."),
    policy.RuleDefault(
        "admin_or_owner", "rule:context_is_admin or project_id:%(project_id)s", "Administrators or the owner."
    ),
    policy.RuleDefault("network_owner", "tenant_id:%(network:tenant_id)s", "The owner of the parent network."),
    policy.RuleDefault(
        "admin_or_network_owner",
        "rule:context_is_admin or rule:network_owner",
        "Administrators or network owner.",
    ),
    policy.RuleDefault(
        "ext_parent_owner", "tenant_id:%(ext_parent:tenant_id)s", "The owner of the parent resource (a sub-resource's)."
    ),
    policy.RuleDefault("regular_user", "", "Anybody with a valid token."),
    policy.RuleDefault("shared", "field:networks:shared=True", "The network (or parent network) is shared."),
    policy.RuleDefault("external", "field:networks:router:external=True", "The network is external."),
    policy.RuleDefault("network_device", "field:port:device_owner=~^network:", "A port owned by the network."),
    policy.RuleDefault("service_api", "role:service", "A service (e.g. Nova) acting on behalf of a user."),
    policy.RuleDefault("default", "rule:admin_or_owner", "Used for any action without a rule."),
]

_PATHS = {
    "network": ("/networks", "/networks/{id}"),
    "subnet": ("/subnets", "/subnets/{id}"),
    "port": ("/ports", "/ports/{id}"),
    "router": ("/routers", "/routers/{id}"),
    "floatingip": ("/floatingips", "/floatingips/{id}"),
    "agent": ("/agents", "/agents/{id}"),
    "quota": ("/quotas", "/quotas/{project_id}"),
    "network_ip_availability": ("/network-ip-availabilities", "/network-ip-availabilities/{network_id}"),
    "security_group": ("/security-groups", "/security-groups/{id}"),
    "security_group_rule": ("/security-group-rules", "/security-group-rules/{id}"),
    "subnetpool": ("/subnetpools", "/subnetpools/{id}"),
    "address_scope": ("/address-scopes", "/address-scopes/{id}"),
    "rbac_policy": ("/rbac-policies", "/rbac-policies/{id}"),
    "service_provider": ("/service-providers", "/service-providers"),
    "availability_zone": ("/availability_zones", "/availability_zones"),
}
_VERBS = {"create": ("POST", 0), "get": ("GET", 1), "update": ("PUT", 1), "delete": ("DELETE", 1)}


def _rule(
    name: str, check: str, description: str, operations: list[policy.Operation] | None = None
) -> policy.RuleDefault:
    """One documented, project-scoped rule; ``operations`` default to the verb's collection or member path."""
    if operations is None:
        verb, resource = name.split(":", 1)[0].split("_", 1)
        method, member = _VERBS[verb]
        paths = _PATHS[resource]
        operations = [policy.Operation(method=method, path=paths[member])]
        if verb == "get":
            operations.insert(0, policy.Operation(method="GET", path=paths[0]))
    return policy.DocumentedRuleDefault(
        name=name, check_str=check, description=description, operations=operations, scope_types=SCOPE
    )


def _attributes(action: str, check: str, attributes: tuple[str, ...], what: str) -> list[policy.RuleDefault]:
    return [_rule(f"{action}:{attr}", check, f"{what} ``{attr}``.") for attr in attributes]


_PROVIDER = ("provider:network_type", "provider:physical_network", "provider:segmentation_id", "segments")

NETWORK_RULES = [
    _rule("create_network", ADMIN_OR_PROJECT_MEMBER, "Create a network."),
    *_attributes("create_network", ADMIN, ("shared", "router:external", "is_default", *_PROVIDER), "Set"),
    _rule("create_network:port_security_enabled", ADMIN_OR_PROJECT_MEMBER, "Set ``port_security_enabled``."),
    _rule(
        "get_network",
        f"{ADMIN_OR_PROJECT_READER} or rule:shared or rule:external or rule:service_api",
        "Show a network: its project, shared networks and external networks.",
    ),
    *_attributes("get_network", ADMIN, _PROVIDER, "See"),
    _rule("get_network:router:external", "rule:regular_user", "See ``router:external``."),
    _rule("update_network", ADMIN_OR_PROJECT_MEMBER, "Update a network."),
    *_attributes("update_network", ADMIN, ("shared", "router:external", "is_default", *_PROVIDER), "Change"),
    _rule("update_network:port_security_enabled", ADMIN_OR_PROJECT_MEMBER, "Change ``port_security_enabled``."),
    _rule("delete_network", ADMIN_OR_PROJECT_MEMBER, "Delete a network."),
]

IP_AVAILABILITY_RULES = [
    _rule("get_network_ip_availability", ADMIN, "Show how many IP addresses a network has and uses."),
]

SUBNET_RULES = [
    _rule("create_subnet", ADMIN_OR_NET_OWNER_MEMBER, "Create a subnet on a network of the project."),
    *_attributes("create_subnet", ADMIN, ("segment_id", "service_types"), "Set"),
    _rule(
        "get_subnet",
        f"{ADMIN_OR_PROJECT_READER} or rule:shared or rule:service_api",
        "Show a subnet: its project's and those of shared networks.",
    ),
    *_attributes("get_subnet", ADMIN, ("segment_id",), "See"),
    _rule("update_subnet", ADMIN_OR_NET_OWNER_MEMBER, "Update a subnet."),
    *_attributes("update_subnet", ADMIN, ("segment_id", "service_types"), "Change"),
    _rule("delete_subnet", ADMIN_OR_NET_OWNER_MEMBER, "Delete a subnet."),
]

_BINDING = ("binding:host_id", "binding:profile")
_BINDING_READ = ("binding:vif_type", "binding:vif_details", "binding:host_id", "binding:profile")
_NET_DEVICE = f"not rule:network_device or ({ADMIN_OR_NET_OWNER_MEMBER})"
_FIXED_IPS = f"({ADMIN_OR_NET_OWNER_MEMBER}) or rule:shared"

PORT_RULES = [
    _rule("create_port", ADMIN_OR_PROJECT_MEMBER, "Create a port."),
    _rule("create_port:device_id", ADMIN_OR_PROJECT_MEMBER, "Set ``device_id``."),
    _rule("create_port:device_owner", _NET_DEVICE, "Set a ``network:`` device owner."),
    _rule("create_port:mac_address", ADMIN_OR_NET_OWNER_MEMBER, "Choose the MAC address."),
    _rule("create_port:fixed_ips", _FIXED_IPS, "Choose fixed IPs."),
    _rule("create_port:fixed_ips:ip_address", ADMIN_OR_NET_OWNER_MEMBER, "Choose a fixed IP address."),
    _rule("create_port:fixed_ips:subnet_id", _FIXED_IPS, "Choose the subnet of a fixed IP."),
    _rule("create_port:port_security_enabled", ADMIN_OR_NET_OWNER_MEMBER, "Set ``port_security_enabled``."),
    *_attributes("create_port", ADMIN, _BINDING, "Set"),
    _rule("create_port:binding:vnic_type", ADMIN_OR_PROJECT_MEMBER, "Set ``binding:vnic_type``."),
    _rule(
        "get_port",
        f"{ADMIN_OR_PROJECT_READER} or rule:service_api or ({NET_OWNER_READER})",
        "Show a port: its project's, or any port on the project's networks.",
    ),
    *_attributes("get_port", ADMIN, _BINDING_READ, "See"),
    _rule("update_port", f"{ADMIN_OR_PROJECT_MEMBER} or rule:service_api", "Update a port."),
    _rule("update_port:device_id", ADMIN_OR_PROJECT_MEMBER, "Change ``device_id``."),
    _rule("update_port:device_owner", _NET_DEVICE, "Set a ``network:`` device owner."),
    _rule("update_port:mac_address", ADMIN, "Change the MAC address."),
    _rule("update_port:fixed_ips", _FIXED_IPS, "Change fixed IPs."),
    _rule("update_port:fixed_ips:ip_address", ADMIN_OR_NET_OWNER_MEMBER, "Choose a fixed IP address."),
    _rule("update_port:fixed_ips:subnet_id", _FIXED_IPS, "Choose the subnet of a fixed IP."),
    _rule("update_port:port_security_enabled", ADMIN_OR_NET_OWNER_MEMBER, "Change ``port_security_enabled``."),
    *_attributes("update_port", ADMIN, _BINDING, "Change"),
    _rule("update_port:binding:vnic_type", ADMIN_OR_PROJECT_MEMBER, "Change ``binding:vnic_type``."),
    _rule("delete_port", f"{ADMIN_OR_PROJECT_MEMBER} or ({NET_OWNER_MEMBER})", "Delete a port."),
]

_PAIRS = ("allowed_address_pairs", "allowed_address_pairs:mac_address", "allowed_address_pairs:ip_address")
PORT_RULES += [
    *_attributes("create_port", ADMIN_OR_NET_OWNER_MEMBER, _PAIRS, "Set"),
    *_attributes("update_port", ADMIN_OR_NET_OWNER_MEMBER, _PAIRS, "Change"),
]

_GW = "external_gateway_info"
_GW_ADMIN = (f"{_GW}:enable_snat", f"{_GW}:external_fixed_ips", "distributed", "ha")
_INTERFACE = "/routers/{id}/%s_router_interface"

ROUTER_RULES = [
    _rule("create_router", ADMIN_OR_PROJECT_MEMBER, "Create a router."),
    _rule(f"create_router:{_GW}", ADMIN_OR_PROJECT_MEMBER, "Set the external gateway."),
    _rule(f"create_router:{_GW}:network_id", ADMIN_OR_PROJECT_MEMBER, "Choose the external network."),
    *_attributes("create_router", ADMIN, _GW_ADMIN, "Set"),
    _rule("get_router", ADMIN_OR_PROJECT_READER, "Show a router."),
    *_attributes("get_router", ADMIN, ("distributed", "ha"), "See"),
    _rule("update_router", ADMIN_OR_PROJECT_MEMBER, "Update a router."),
    _rule(f"update_router:{_GW}", ADMIN_OR_PROJECT_MEMBER, "Set or clear the external gateway."),
    _rule(f"update_router:{_GW}:network_id", ADMIN_OR_PROJECT_MEMBER, "Choose the external network."),
    *_attributes("update_router", ADMIN, _GW_ADMIN, "Change"),
    _rule("delete_router", ADMIN_OR_PROJECT_MEMBER, "Delete a router."),
    _rule(
        "add_router_interface",
        ADMIN_OR_PROJECT_MEMBER,
        "Attach a subnet or port to a router.",
        [policy.Operation(method="PUT", path=_INTERFACE % "add")],
    ),
    _rule(
        "remove_router_interface",
        ADMIN_OR_PROJECT_MEMBER,
        "Detach a subnet or port from a router.",
        [policy.Operation(method="PUT", path=_INTERFACE % "remove")],
    ),
    *(
        _rule(
            f"{verb}_extraroutes",
            ADMIN_OR_PROJECT_MEMBER,
            f"{verb.capitalize()} extra routes of a router.",
            [policy.Operation(method="PUT", path=f"/routers/{{id}}/{verb}_extraroutes")],
        )
        for verb in ("add", "remove")
    ),
]

FLOATINGIP_RULES = [
    _rule("create_floatingip", ADMIN_OR_PROJECT_MEMBER, "Create a floating IP (on any external network)."),
    _rule("create_floatingip:floating_ip_address", ADMIN, "Choose the floating IP address."),
    _rule("get_floatingip", ADMIN_OR_PROJECT_READER, "Show a floating IP."),
    _rule("update_floatingip", ADMIN_OR_PROJECT_MEMBER, "Associate, disassociate or update a floating IP."),
    _rule("delete_floatingip", ADMIN_OR_PROJECT_MEMBER, "Delete a floating IP."),
]

_PF = "/floatingips/{floatingip_id}/port_forwardings"
PORT_FORWARDING_RULES = [
    _rule("create_floatingip_port_forwarding", ADMIN_OR_PARENT_OWNER_MEMBER, "Create a floating IP port forwarding.",
          [policy.Operation(method="POST", path=_PF)]),
    _rule("get_floatingip_port_forwarding", ADMIN_OR_PARENT_OWNER_READER, "Show floating IP port forwardings.",
          [policy.Operation(method="GET", path=_PF), policy.Operation(method="GET", path=_PF + "/{id}")]),
    _rule("update_floatingip_port_forwarding", ADMIN_OR_PARENT_OWNER_MEMBER, "Update a floating IP port forwarding.",
          [policy.Operation(method="PUT", path=_PF + "/{id}")]),
    _rule("delete_floatingip_port_forwarding", ADMIN_OR_PARENT_OWNER_MEMBER, "Delete a floating IP port forwarding.",
          [policy.Operation(method="DELETE", path=_PF + "/{id}")]),
]  # fmt: skip

AGENT_RULES = [
    _rule("get_agent", ADMIN, "Show agents."),
    _rule("update_agent", ADMIN, "Update an agent."),
    _rule("delete_agent", ADMIN, "Delete an agent."),
]


def _scheduler_rules(rule: str, hosted: str, hosting: str) -> list[policy.RuleDefault]:
    """``create_<rule>``, ``get_<rule>s``, ``delete_<rule>`` on ``/agents/{agent_id}/<hosted>`` and
    ``get_<hosting>`` (the agents hosting a resource): the agent scheduler APIs, admin only as in Neutron."""
    collection, member = f"/agents/{{agent_id}}/{hosted}", f"/agents/{{agent_id}}/{hosted}/{{id}}"
    hosting_path = f"/{hosted.split('-')[1]}/{{id}}/{hosting}"
    rules = (
        (f"create_{rule}", "POST", collection, f"Add to an agent's {hosted}."),
        (f"get_{rule}s", "GET", collection, f"List an agent's {hosted}."),
        (f"delete_{rule}", "DELETE", member, f"Remove from an agent's {hosted}."),
        (f"get_{hosting}", "GET", hosting_path, f"List the {hosting} of a resource."),
    )
    return [
        _rule(name, ADMIN, text, [policy.Operation(method=method, path=path)]) for name, method, path, text in rules
    ]


SCHEDULER_RULES = [
    *_scheduler_rules("l3-router", "l3-routers", "l3-agents"),
    *_scheduler_rules("dhcp-network", "dhcp-networks", "dhcp-agents"),
]

QUOTA_RULES = [
    _rule("get_quota", ADMIN_OR_PROJECT_READER, "Show a project's quotas and their defaults."),
    _rule("update_quota", ADMIN, "Set a project's quotas."),
    _rule("delete_quota", ADMIN, "Reset a project's quotas to the defaults."),
]


SG_OWNER_MEMBER = "role:member and rule:sg_owner"
SG_OWNER_READER = "role:reader and rule:sg_owner"
ADMIN_OR_SG_OWNER_MEMBER = f"({ADMIN}) or ({SG_OWNER_MEMBER})"
ADMIN_OR_SG_OWNER_READER = f"({ADMIN}) or ({SG_OWNER_READER})"

SECURITY_GROUP_RULES = [
    policy.RuleDefault("sg_owner", "tenant_id:%(security_group:tenant_id)s", "The owner of the parent group."),
    policy.RuleDefault(
        "admin_or_sg_owner",
        "rule:context_is_admin or project_id:%(security_group:project_id)s",
        "Administrators or the security group's owner.",
    ),
    policy.RuleDefault("shared_security_group", "field:security_groups:shared=True", "The security group is shared."),
    _rule("create_security_group", ADMIN_OR_PROJECT_MEMBER, "Create a security group."),
    _rule(
        "get_security_group",
        f"{ADMIN_OR_PROJECT_READER} or rule:shared_security_group",
        "Show a security group: its project's, or a shared one.",
    ),
    _rule("update_security_group", ADMIN_OR_PROJECT_MEMBER, "Update a security group."),
    _rule("delete_security_group", ADMIN_OR_PROJECT_MEMBER, "Delete a security group."),
    _rule("create_security_group_rule", ADMIN_OR_SG_OWNER_MEMBER, "Add a rule to a security group of the project."),
    _rule("get_security_group_rule", ADMIN_OR_SG_OWNER_READER, "Show a rule of a security group of the project."),
    _rule("update_security_group_rule", ADMIN_OR_SG_OWNER_MEMBER, "Change a rule's description."),
    _rule("delete_security_group_rule", ADMIN_OR_SG_OWNER_MEMBER, "Remove a rule from a security group."),
]


def _prefix_rule(verb: str) -> policy.RuleDefault:
    path = _PATHS["subnetpool"][1] + f"/{verb}_prefixes"
    operation = [policy.Operation(method="PUT", path=path)]
    return _rule(
        f"{verb}_prefixes", ADMIN_OR_PROJECT_MEMBER, f"{verb.capitalize()} prefixes of a subnet pool.", operation
    )


SUBNETPOOL_RULES = [
    policy.RuleDefault("shared_subnetpools", "field:subnetpools:shared=True", "The subnet pool is shared."),
    _rule("create_subnetpool", ADMIN_OR_PROJECT_MEMBER, "Create a subnet pool."),
    *_attributes("create_subnetpool", ADMIN, ("shared", "is_default"), "Set"),
    _rule(
        "get_subnetpool",
        f"{ADMIN_OR_PROJECT_READER} or rule:shared_subnetpools",
        "Show a subnet pool: its project's, or a shared one.",
    ),
    _rule("update_subnetpool", ADMIN_OR_PROJECT_MEMBER, "Update a subnet pool."),
    *_attributes("update_subnetpool", ADMIN, ("is_default",), "Change"),
    _rule("delete_subnetpool", ADMIN_OR_PROJECT_MEMBER, "Delete a subnet pool."),
    _prefix_rule("add"),
    _prefix_rule("remove"),
]

ADDRESS_SCOPE_RULES = [
    policy.RuleDefault("shared_address_scopes", "field:address_scopes:shared=True", "The address scope is shared."),
    _rule("create_address_scope", ADMIN_OR_PROJECT_MEMBER, "Create an address scope."),
    *_attributes("create_address_scope", ADMIN, ("shared",), "Set"),
    _rule(
        "get_address_scope",
        f"{ADMIN_OR_PROJECT_READER} or rule:shared_address_scopes",
        "Show an address scope: its project's, or a shared one.",
    ),
    _rule("update_address_scope", ADMIN_OR_PROJECT_MEMBER, "Update an address scope."),
    *_attributes("update_address_scope", ADMIN, ("shared",), "Change"),
    _rule("delete_address_scope", ADMIN_OR_PROJECT_MEMBER, "Delete an address scope."),
]

_NO_WILDCARD = "not field:rbac_policy:target_tenant=* and not field:rbac_policy:target_project=*"
RBAC_RULES = [
    policy.RuleDefault("restrict_wildcard", f"({_NO_WILDCARD}) or rule:admin_only", "Only admins target ``*``."),
    _rule("create_rbac_policy", ADMIN_OR_PROJECT_MEMBER, "Create an RBAC policy."),
    *_attributes("create_rbac_policy", f"({ADMIN}) or ({_NO_WILDCARD})", ("target_tenant", "target_project"), "Set"),
    _rule("update_rbac_policy", ADMIN_OR_PROJECT_MEMBER, "Update an RBAC policy."),
    *_attributes("update_rbac_policy", f"({ADMIN}) or ({_NO_WILDCARD})", ("target_tenant", "target_project"), "Change"),
    _rule("get_rbac_policy", ADMIN_OR_PROJECT_READER, "Show an RBAC policy."),
    _rule("delete_rbac_policy", ADMIN_OR_PROJECT_MEMBER, "Delete an RBAC policy."),
]
SERVICE_PROVIDER_RULES = [
    _rule("get_service_provider", "rule:regular_user", "List service providers."),
    _rule("get_availability_zone", "rule:regular_user", "List availability zones."),
]


_TAG_VERBS = {
    "create": ("POST", "Give tags when creating a %s."),
    "update": ("PUT", "Replace the tags of a %s, or add one."),
    "delete": ("DELETE", "Remove the tags of a %s, or one."),
}


def _tag_rules(resource: str, write: str, delete: str) -> list[policy.RuleDefault]:
    """Neutron's ``<verb>_<resource>:tags`` rules: tags given at creation, and the tag API's writes
    (``PUT .../tags[/{tag}]`` checks ``update``, ``DELETE .../tags[/{tag}]`` checks ``delete``)."""
    rules = []
    collection, member = _PATHS[resource]
    for verb, (method, description) in _TAG_VERBS.items():
        paths = [collection] if verb == "create" else [member + "/tags", member + "/tags/{tag}"]
        operations = [policy.Operation(method=method, path=path) for path in paths]
        check = delete if verb == "delete" else write
        rules.append(_rule(f"{verb}_{resource}:tags", check, description % resource, operations))
    return rules


_SUBNET_TAGS = f"({PROJECT_MEMBER}) or {ADMIN_OR_NET_OWNER_MEMBER}"
TAG_RULES = [
    *_tag_rules("network", ADMIN_OR_PROJECT_MEMBER, ADMIN_OR_PROJECT_MEMBER),
    *_tag_rules("subnet", _SUBNET_TAGS, _SUBNET_TAGS),
    *_tag_rules("port", ADMIN_OR_PROJECT_MEMBER, _SUBNET_TAGS),
    *_tag_rules("router", ADMIN_OR_PROJECT_MEMBER, ADMIN_OR_PROJECT_MEMBER),
    *_tag_rules("floatingip", ADMIN_OR_PROJECT_MEMBER, ADMIN_OR_PROJECT_MEMBER),
    *_tag_rules("security_group", ADMIN_OR_PROJECT_MEMBER, ADMIN_OR_PROJECT_MEMBER),
    *_tag_rules("security_group_rule", ADMIN_OR_PROJECT_MEMBER, ADMIN_OR_PROJECT_MEMBER),
    *_tag_rules("subnetpool", ADMIN_OR_PROJECT_MEMBER, ADMIN_OR_PROJECT_MEMBER),
    *_tag_rules("address_scope", ADMIN_OR_PROJECT_MEMBER, ADMIN_OR_PROJECT_MEMBER),
]


def list_rules() -> list[policy.RuleDefault]:
    """Every default rule floatnet registers (also the ``oslo.policy.policies`` entry point's answer)."""
    return [
        *BASE_RULES,
        *NETWORK_RULES,
        *SUBNET_RULES,
        *IP_AVAILABILITY_RULES,
        *PORT_RULES,
        *ROUTER_RULES,
        *FLOATINGIP_RULES,
        *PORT_FORWARDING_RULES,
        *AGENT_RULES,
        *SCHEDULER_RULES,
        *QUOTA_RULES,
        *SECURITY_GROUP_RULES,
        *SUBNETPOOL_RULES,
        *ADDRESS_SCOPE_RULES,
        *RBAC_RULES,
        *SERVICE_PROVIDER_RULES,
        *TAG_RULES,
    ]
