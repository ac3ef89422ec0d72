"""RBAC policies on a real listening server (issue 21): the hostile requests as member, reader and another
project (typed 4xx naming the attribute, forbidden ones refused, nothing written by a refused one), and the
unchanged OpenStack clients (openstacksdk, the ``openstack`` CLI): create, list with filters, show, set,
delete and the errors."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from openstack import exceptions

from tests.api.helpers import ADMIN, assert_error, network
from tests.api.openstack_clients import noauth_sdk
from tests.api.openstack_clients import openstack_cli as cli
from tests.api.test_rbac import BAD_POLICIES, OTHER, OWNER, OWNER_ID, TARGET, TARGET_ID, rbac_post, share

READER = {"X-Project-Id": OWNER_ID, "X-Roles": "reader"}
RP = "rbac_policy"


def _policies(api: httpx.Client) -> list[Any]:
    listed = api.get("/v2.0/rbac-policies", headers=ADMIN).json()["rbac_policies"]
    return sorted((p["id"], p["target_tenant"]) for p in listed)


def test_bad_policies_refused_live(api: httpx.Client) -> None:
    net = network(api, OWNER)
    before = _policies(api)
    for attrs, status, kind, text in BAD_POLICIES:
        body = {"object_id": net["id"], "target_tenant": TARGET_ID, **attrs}
        if body["target_tenant"] is None and "target_project" in attrs:
            del body["target_tenant"]
        assert_error(rbac_post(api, OWNER, **body), status, kind, text)
    not_json = api.post("/v2.0/rbac-policies", content=b"{x", headers={**OWNER, "Content-Type": "application/json"})
    assert_error(not_json, 400, "MalformedRequestBody")
    assert_error(api.post("/v2.0/rbac-policies", json={RP: "x"}, headers=OWNER), 400, "HTTPBadRequest")
    assert_error(api.post("/v2.0/rbac-policies", json={RP: {"object_type": "network"}}, headers=OWNER), 400,
                 "HTTPBadRequest", "object_id")  # fmt: skip
    assert_error(api.get("/v2.0/rbac-policies/not-a-uuid", headers=OWNER), 404, "RbacPolicyNotFound")
    assert _policies(api) == before


def test_forbidden_policy_requests_refused_live(api: httpx.Client) -> None:
    net = network(api, OWNER)
    theirs = network(api, OTHER)
    policy = share(api, OWNER, object_id=net["id"], target_tenant=TARGET_ID)
    url = f"/v2.0/rbac-policies/{policy['id']}"
    before = _policies(api)
    assert_error(rbac_post(api, READER, object_id=net["id"], target_tenant=uuid.uuid4().hex), 403,
                 "PolicyNotAuthorized")  # fmt: skip
    assert_error(api.put(url, json={RP: {"target_tenant": uuid.uuid4().hex}}, headers=READER), 403,
                 "PolicyNotAuthorized")  # fmt: skip
    assert_error(api.delete(url, headers=READER), 403, "PolicyNotAuthorized")
    assert_error(api.delete(url, headers=TARGET), 404, "RbacPolicyNotFound")
    assert_error(api.put(url, json={RP: {"target_tenant": "*"}}, headers=OWNER), 403, "PolicyNotAuthorized")
    assert_error(rbac_post(api, OWNER, object_id=theirs["id"], target_tenant=TARGET_ID), 400, "InvalidInput")
    assert_error(rbac_post(api, OWNER, object_id=net["id"], target_tenant="*"), 403, "PolicyNotAuthorized")
    assert_error(rbac_post(api, OWNER, object_id=net["id"], target_tenant=TARGET_ID), 409, "DuplicateRbacPolicy")
    assert_error(rbac_post(api, TARGET, object_id=net["id"], target_tenant=uuid.uuid4().hex), 400, "InvalidInput",
                 "Only admins")  # fmt: skip
    assert_error(api.get(f"/v2.0/networks/{net['id']}", headers=OTHER), 404, "NetworkNotFound")
    assert _policies(api) == before


@pytest.fixture
def sdk(live_server: str) -> Iterator[Any]:
    with noauth_sdk(live_server) as conn:
        yield conn


def test_openstacksdk_rbac_policies(sdk: Any) -> None:
    net = sdk.network.create_network(name="sdk-rbac-net")
    target, moved = uuid.uuid4().hex, uuid.uuid4().hex
    policy = sdk.network.create_rbac_policy(
        object_type="network", object_id=net.id, action="access_as_shared", target_project_id=target
    )
    assert (policy.object_id, policy.target_project_id, policy.action) == (net.id, target, "access_as_shared")
    assert [p.id for p in sdk.network.rbac_policies(object_id=net.id, target_project_id=target)] == [policy.id]
    assert sdk.network.get_rbac_policy(policy.id).object_type == "network"
    assert sdk.network.update_rbac_policy(policy, target_project_id=moved).target_project_id == moved
    with pytest.raises(exceptions.ConflictException):
        sdk.network.create_rbac_policy(
            object_type="network", object_id=net.id, action="access_as_shared", target_project_id=moved
        )
    with pytest.raises(exceptions.BadRequestException):
        sdk.network.create_rbac_policy(
            object_type="router", object_id=net.id, action="access_as_shared", target_project_id=target
        )
    sdk.network.delete_rbac_policy(policy)
    with pytest.raises(exceptions.NotFoundException):
        sdk.network.get_rbac_policy(policy.id)
    aliases = {ext.alias for ext in sdk.network.extensions()}
    assert {"rbac-policies", "rbac-address-scope", "rbac-subnetpool"} <= aliases
    sdk.network.delete_network(net)


def test_openstack_cli_rbac_policies(live_server: str) -> None:
    cli(live_server, "network", "create", "cli-rbac-net")
    created = cli(
        live_server, "network", "rbac", "create", "--type", "network", "--action", "access_as_external",
        "--target-all-projects", "cli-rbac-net", "-f", "json",
    )  # fmt: skip
    assert (created["target_project_id"], created["action"]) == ("*", "access_as_external")
    shown = cli(live_server, "network", "show", "cli-rbac-net", "-f", "json")
    assert shown["router:external"] in (True, "External")
    listed = cli(live_server, "network", "rbac", "list", "--type", "network", "--action", "access_as_external",
                 "-f", "json")  # fmt: skip
    assert created["id"] in {p["ID"] for p in listed}
    assert cli(live_server, "network", "rbac", "show", created["id"], "-f", "json")["object_id"] == shown["id"]
    with pytest.raises(AssertionError, match="already exists"):
        cli(live_server, "network", "rbac", "create", "--type", "network", "--action", "access_as_external",
            "--target-all-projects", "cli-rbac-net")  # fmt: skip
    cli(live_server, "network", "rbac", "delete", created["id"])
    assert cli(live_server, "network", "show", "cli-rbac-net", "-f", "json")["router:external"] in (False, "Internal")
    with pytest.raises(AssertionError, match="No RBACPolicy found"):
        cli(live_server, "network", "rbac", "show", created["id"])
    cli(live_server, "network", "delete", "cli-rbac-net")


def test_service_providers_with_the_clients(api: httpx.Client, sdk: Any, live_server: str) -> None:
    assert_error(api.get("/v2.0/service-providers?default=maybe", headers=OWNER), 400, "HTTPBadRequest", "default")
    assert_error(api.get("/v2.0/service-providers?driver=x", headers=READER), 400, "HTTPBadRequest", "driver")
    assert [(p.service_type, p.name, p.is_default) for p in sdk.network.service_providers()] == [
        ("L3_ROUTER_NAT", "single_node", False)
    ]
    listed = cli(live_server, "network", "service", "provider", "list", "-f", "json")
    assert [(p["Service Type"], p["Name"], p["Default"]) for p in listed] == [("L3_ROUTER_NAT", "single_node", False)]


def test_floatnet_client_speaks_rbac_policies(live_server: str) -> None:
    """floatnet's own HTTP client spells the collection as Neutron does (``/rbac-policies``, ``rbac_policies``)."""
    from floatnet.client import Client

    with Client(live_server) as client:
        net = client.create("network", name="client-rbac")
        made = client.create("rbac_policy", object_type="network", object_id=net["id"],
                             action="access_as_shared", target_tenant=TARGET_ID)  # fmt: skip
        assert [p["id"] for p in client.list("rbac_policy", object_id=net["id"])] == [made["id"]]
        assert client.show("rbac_policy", made["id"])["target_tenant"] == TARGET_ID
