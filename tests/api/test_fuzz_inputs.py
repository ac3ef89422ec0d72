"""Property-style sweep of hostile input (issue 20): for every collection and every attribute, wrong types,
oversized and hostile values sent as admin, member, reader and a foreign project's member — on create and
update, as filters, sort keys, fields and paging parameters, in actions, quotas and agent reports.

Invariants (checked by :class:`tests.api.fuzz_world.World` on every request): never a 5xx, every error a
NeutronError body, a request the caller's policy forbids is refused, and the database is unchanged after
every refused request. The in-process app keeps the sweep fast; the hostile requests the issue lists are also
sent to a real server by tests/api/test_hostile_inputs_live.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from floatnet.core.access.quotas import DEFAULTS as QUOTA_RESOURCES
from floatnet.core.agent_protocol.agents import REPORT_SPEC, UPDATE_SPEC
from floatnet.core.resources.floatingips import SPEC as FLOATINGIP_SPEC
from floatnet.core.resources.networks import SPEC as NETWORK_SPEC
from floatnet.core.resources.ports import SPEC as PORT_SPEC
from floatnet.core.resources.routers import SPEC as ROUTER_SPEC
from floatnet.core.resources.security_group_rules import SPEC as RULE_SPEC
from floatnet.core.resources.security_groups import SPEC as SECURITY_GROUP_SPEC
from floatnet.core.resources.subnets import SPEC as SUBNET_SPEC
from tests.api.fuzz_world import PA, ROLES, World

BIG = 2**70
HOSTILE: list[Any] = [
    None, "", "x" * 300, "y" * 70_000, -1, 2**31, 2**63, BIG, 1.5, 1e308, True, [], [None], [{"a": 1}],
    ["z" * 300] * 50, {}, {"start": "10.0.0.5"}, "10.0.0.999", "fe80::/200", "../../etc/passwd",
    "\u00e9\u0000\u202e", "' OR 1=1 --", "network:router_interface", "0b9bd2c5-9c39-4d4f-9b5b-6bd7a36a0c11",
]  # fmt: skip
FEW: list[Any] = [None, "x" * 300, BIG, [{"a": 1}], "' OR 1=1 --"]  # for callers who must be refused
QUERY_HOSTILE = ["maybe", "-1", str(BIG), "1.5", "x" * 300, "\u00e9\u0000", "' OR 1=1 --"]
PAGING = ("limit", "marker", "page_reverse", "sort_dir", "fields", "sort_key")
REFUSED_ROLES = ("reader", "foreign")

# collection -> (resource, attribute spec, update targets: (world id, owned by pa))
RESOURCES: dict[str, tuple[str, dict[str, Any], tuple[tuple[str, bool], ...]]] = {
    "networks": ("network", NETWORK_SPEC, (("network", True), ("shared_net", False))),
    "subnets": ("subnet", SUBNET_SPEC, (("subnet", True), ("shared_subnet", False))),
    "ports": ("port", PORT_SPEC, (("port", True),)),
    "routers": ("router", ROUTER_SPEC, (("router", True),)),
    "floatingips": ("floatingip", FLOATINGIP_SPEC, (("floatingip", True),)),
    "security-groups": ("security_group", SECURITY_GROUP_SPEC, (("security_group", True),)),
    "security-group-rules": ("security_group_rule", RULE_SPEC, (("security_group_rule", True),)),
}


def _values(role: str, index: int) -> list[Any]:
    """The values ``role`` sends for the ``index``-th attribute: admin and member share the full list
    (alternating halves per attribute, the validation path being the same), refused callers a few."""
    if role in REFUSED_ROLES:
        return FEW
    return HOSTILE[(index + (role == "member")) % 2 :: 2]


def _create_forbidden(role: str, collection: str) -> bool:
    return role == "reader" or (role == "foreign" and collection in ("subnets", "ports", "security-group-rules"))


def _bases(world: World) -> dict[str, dict[str, Any]]:
    ids = world.ids
    return {
        "network": {},
        "subnet": {"network_id": ids["network"], "cidr": "10.50.0.0/24", "ip_version": 4},
        "port": {"network_id": ids["network"]},
        "router": {},
        "floatingip": {"floating_network_id": ids["ext_net"]},
        "security_group": {},
        "security_group_rule": {"security_group_id": ids["security_group"], "direction": "egress", "protocol": "udp"},
    }


@pytest.fixture
def world(app_client: Any) -> Iterator[World]:
    built = World(app_client).build()
    yield built
    built.close()
    assert not built.problems, "\n".join(built.problems[:40])


def _creates(world: World, collection: str, role: str) -> None:
    resource, spec, _targets = RESOURCES[collection]
    base, forbidden = _bases(world)[resource], _create_forbidden(role, collection)
    for index, attribute in enumerate(spec):
        for value in _values(role, index):
            created = world.send(role, "POST", f"/v2.0/{collection}", {resource: {**base, attribute: value}}, forbidden)
            if created.status_code == 201:
                world.send("admin", "DELETE", f"/v2.0/{collection}/{created.json()[resource]['id']}")
    bulk = {collection: [base, {**base, "name": ["not", "a", "name"]}]}  # all or nothing
    world.send(role, "POST", f"/v2.0/{collection}", bulk, forbidden=True)


def _updates(world: World, collection: str, role: str) -> None:
    resource, spec, targets = RESOURCES[collection]
    for target, owned in targets:
        refused = role in REFUSED_ROLES or (role == "member" and not owned)
        path = f"/v2.0/{collection}/{world.ids[target]}"
        for index, attribute in enumerate(spec):
            for value in FEW if refused else _values(role, index):
                world.send(role, "PUT", path, {resource: {attribute: value}}, refused)
        for raw in (None, [], "x", {resource: None}, {resource: []}, {"other": {}}):
            world.send(role, "PUT", path, raw, forbidden=True)


@pytest.mark.parametrize("collection", list(RESOURCES))
def test_hostile_writes(world: World, collection: str) -> None:
    """Create and update with every attribute set to hostile values, as every role."""
    for role in ("admin", "member"):
        _creates(world, collection, role)
        _updates(world, collection, role)
    for role in REFUSED_ROLES:

        def refused_writes(role: str = role) -> None:
            if _create_forbidden(role, collection):  # a foreign project may create networks of its own
                _creates(world, collection, role)
            _updates(world, collection, role)

        world.refused_batch(refused_writes)


def _tag_paths(world: World) -> list[tuple[str, str, bool]]:
    """(role, tag path, refused) for each caller and each network/subnet it may or may not tag."""
    result = []
    for role in ROLES:
        for target, collection, owned in (("network", "networks", True), ("shared_net", "networks", False),
                                          ("ext_net", "networks", False), ("subnet", "subnets", True),
                                          ("shared_subnet", "subnets", False)):  # fmt: skip
            refused = role in REFUSED_ROLES or (role == "member" and not owned)
            template = f"/v2.0/{collection}/{{{target}}}/tags"
            result.append((role, template, refused))
    return result


def test_hostile_tags(world: World) -> None:
    """Tag writes with hostile tags: refused for whoever may not update the resource."""
    for role, template, refused in _tag_paths(world):
        path = template.format(**world.ids)
        for value in FEW:
            world.send(role, "PUT", path, {"tags": value}, refused)
            world.send(role, "PUT", path, {"tags": [value]}, refused)
        for tag in ("x", "x" * 300, "%00", "a,b", ".."):
            world.send(role, "PUT", f"{path}/{tag}", None, refused)
        world.send(role, "DELETE", f"{path}/x", None, refused)
        world.send(role, "DELETE", path, None, refused)


def test_hostile_actions_quotas_and_agents(world: World) -> None:
    """Router interface actions, quota updates and agent reports/updates with hostile values."""
    ids = world.ids
    for role in ROLES:
        refused = role in REFUSED_ROLES
        for action in ("add_router_interface", "remove_router_interface"):
            path = f"/v2.0/routers/{ids['router']}/{action}"
            for value in FEW:
                for key in ("subnet_id", "port_id"):
                    world.send(role, "PUT", path, {key: value}, forbidden=True)
            world.send(role, "PUT", path, {"subnet_id": ids["subnet"], "port_id": ids["port"]}, forbidden=True)
            world.send(role, "PUT", path, [ids["subnet"]], forbidden=True)
            if refused:
                world.send(role, "PUT", path, {"subnet_id": ids["subnet"]}, forbidden=True)
        quota_values = HOSTILE if role == "admin" else FEW
        for resource in [*QUOTA_RESOURCES, "check_limit"]:
            for value in quota_values:
                world.send(role, "PUT", f"/v2.0/quotas/{PA}", {"quota": {resource: value}}, role != "admin")
        _agents(world, role)


def _agents(world: World, role: str) -> None:
    values = HOSTILE if role == "admin" else FEW
    report = {"host": "h2", "agent_type": "L3 agent"}
    for attribute in REPORT_SPEC:
        for value in values:
            world.send(role, "POST", "/v2.0/floatnet/agents", {"agent": {**report, attribute: value}}, role != "admin")
    for attribute in UPDATE_SPEC:
        for value in values:
            body = {"agent": {attribute: value}}
            world.send(role, "PUT", f"/v2.0/agents/{world.ids['agent']}", body, role != "admin")


def _query_attributes(collection: str) -> list[str]:
    if collection == "agents":
        return [*REPORT_SPEC, *UPDATE_SPEC, "alive", "id"]
    return [*RESOURCES[collection][1], "id", "status", "revision_number", "created_at", "subnets", "fixed_ips"]


def _encode(name: str, value: str) -> str:
    return urlencode({name: value})


@pytest.mark.parametrize("role", ["admin", "member", "reader"])
def test_hostile_queries(world: World, role: str) -> None:
    """Filters, sort keys, fields and paging parameters on every collection: never a 5xx, nothing changed."""

    def queries() -> None:
        for collection in [*RESOURCES, "agents"]:
            for attribute in _query_attributes(collection):
                for value in QUERY_HOSTILE:
                    world.send(role, "GET", f"/v2.0/{collection}?{_encode(attribute, value)}")
                world.send(role, "GET", f"/v2.0/{collection}?sort_key={attribute}&sort_dir=asc")
                world.send(role, "GET", f"/v2.0/{collection}?fields={attribute}")
            for name in PAGING:
                for value in QUERY_HOSTILE:
                    world.send(role, "GET", f"/v2.0/{collection}?{_encode(name, value)}")
        for value in QUERY_HOSTILE:
            world.send(role, "GET", f"/v2.0/floatnet/hosts/h1/changes?{_encode('after', value)}&timeout=0")

    world.refused_batch(queries)
