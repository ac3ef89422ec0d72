"""RBAC policies through the in-process app (issue 21): Neutron's attributes, visibility and use following the
policies (a network shared with one project, external for one project), ``shared`` as the ``*`` policy, the
in-use, duplicate, invalid and forbidden answers, and address scopes / subnet pools shared by RBAC."""

from __future__ import annotations

from typing import Any

from tests.api.helpers import ADMIN, assert_error, create, network, port, project, subnet

# RBAC targets are project ids (UUID-like or ``*``), as Keystone's are
OWNER_ID, TARGET_ID, OTHER_ID = "a" * 32, "b" * 32, "c" * 32
OWNER, TARGET, OTHER = project(OWNER_ID), project(TARGET_ID), project(OTHER_ID)
RP = "rbac_policy"


def rbac_post(client: Any, headers: dict[str, str], **attrs: Any) -> Any:
    body = {"object_type": "network", "action": "access_as_shared", **attrs}
    return client.post("/v2.0/rbac-policies", json={RP: body}, headers=headers)


def share(client: Any, headers: dict[str, str], **attrs: Any) -> dict[str, Any]:
    response = rbac_post(client, headers, **attrs)
    assert response.status_code == 201, response.text
    return dict(response.json()[RP])


def scope(client: Any, headers: dict[str, str]) -> dict[str, Any]:
    response = client.post(
        "/v2.0/address-scopes", json={"address_scope": {"name": "s", "ip_version": 4}}, headers=headers
    )
    assert response.status_code == 201, response.text
    return dict(response.json()["address_scope"])


def _ids(client: Any, path: str, headers: dict[str, str]) -> set[str]:
    response = client.get(f"/v2.0/{path}", headers=headers)
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()[path.split("?")[0].replace("-", "_")]}


def test_policy_shape_and_listing(app_client: Any) -> None:
    net = network(app_client, OWNER)
    created = share(app_client, OWNER, object_id=net["id"], target_tenant=TARGET_ID)
    assert set(created) == {
        "id", "project_id", "tenant_id", "object_type", "object_id", "action", "target_tenant", "target_project",
    }  # fmt: skip
    assert (created["project_id"], created["target_project"], created["target_tenant"]) == (
        OWNER_ID,
        TARGET_ID,
        TARGET_ID,
    )
    assert (created["object_type"], created["object_id"], created["action"]) == (
        "network",
        net["id"],
        "access_as_shared",
    )
    url = f"/v2.0/rbac-policies/{created['id']}"
    assert app_client.get(url, headers=OWNER).json()[RP] == created
    assert_error(app_client.get(url, headers=TARGET), 404, "RbacPolicyNotFound")  # the target does not see it
    assert _ids(app_client, "rbac-policies", OWNER) == {created["id"]}
    assert _ids(app_client, "rbac-policies", TARGET) == set()
    assert created["id"] in _ids(app_client, "rbac-policies", ADMIN)
    filtered = f"rbac-policies?target_tenant={TARGET_ID}&object_type=network&action=access_as_shared"
    assert _ids(app_client, filtered, OWNER) == {created["id"]}
    assert _ids(app_client, "rbac-policies?object_type=subnetpool", OWNER) == set()
    assert_error(app_client.get("/v2.0/rbac-policies?colour=red", headers=OWNER), 400, "HTTPBadRequest", "colour")


def test_network_shared_with_one_project(app_client: Any) -> None:
    net = network(app_client, OWNER)
    sub = subnet(app_client, net["id"], "10.70.0.0/24", OWNER)
    assert net["id"] not in _ids(app_client, "networks", TARGET)
    assert_error(app_client.post("/v2.0/ports", json={"port": {"network_id": net["id"]}}, headers=TARGET), 404,
                 "NetworkNotFound")  # fmt: skip
    before = app_client.get(f"/v2.0/networks/{net['id']}", headers=OWNER).json()["network"]["revision_number"]
    share(app_client, OWNER, object_id=net["id"], target_tenant=TARGET_ID)
    shown = app_client.get(f"/v2.0/networks/{net['id']}", headers=TARGET).json()["network"]
    assert shown["shared"] is True  # Neutron: shared with the caller's project
    owner_view = app_client.get(f"/v2.0/networks/{net['id']}", headers=OWNER).json()["network"]
    assert owner_view["shared"] is False and owner_view["revision_number"] == before + 1
    assert net["id"] in _ids(app_client, "networks", TARGET)
    assert net["id"] in _ids(app_client, "networks?shared=True", TARGET)
    assert net["id"] not in _ids(app_client, "networks", OTHER)
    assert sub["id"] in _ids(app_client, "subnets", TARGET)
    assert sub["id"] not in _ids(app_client, "subnets", OTHER)
    assert app_client.get(f"/v2.0/subnets/{sub['id']}", headers=TARGET).status_code == 200
    assert_error(app_client.get(f"/v2.0/subnets/{sub['id']}", headers=OTHER), 404, "SubnetNotFound")
    port(app_client, net["id"], TARGET)
    assert_error(app_client.post("/v2.0/ports", json={"port": {"network_id": net["id"]}}, headers=OTHER), 404,
                 "NetworkNotFound")  # fmt: skip
    # sharing does not make the target an owner: no subnets on it (create_subnet: network owner)
    body = {"subnet": {"network_id": net["id"], "cidr": "10.71.0.0/24", "ip_version": 4}}
    assert app_client.post("/v2.0/subnets", json=body, headers=TARGET).status_code == 403


def test_policy_in_use_while_target_has_ports(app_client: Any) -> None:
    net = network(app_client, OWNER)
    subnet(app_client, net["id"], "10.72.0.0/24", OWNER)
    policy = share(app_client, OWNER, object_id=net["id"], target_tenant=TARGET_ID)
    held = port(app_client, net["id"], TARGET)
    url = f"/v2.0/rbac-policies/{policy['id']}"
    assert_error(app_client.delete(url, headers=OWNER), 409, "RbacPolicyInUse", net["id"])
    assert_error(app_client.put(url, json={RP: {"target_tenant": OTHER_ID}}, headers=OWNER), 409, "RbacPolicyInUse")
    wildcard = share(app_client, ADMIN, object_id=net["id"], target_tenant="*")
    assert app_client.delete(url, headers=OWNER).status_code == 204  # the wildcard still lets TARGET in
    assert_error(app_client.delete(f"/v2.0/rbac-policies/{wildcard['id']}", headers=ADMIN), 409, "RbacPolicyInUse")
    assert_error(app_client.put(f"/v2.0/networks/{net['id']}", json={"network": {"shared": False}}, headers=ADMIN),
                 409, "InvalidSharedSetting")  # fmt: skip
    assert app_client.delete(f"/v2.0/ports/{held['id']}", headers=TARGET).status_code == 204
    assert app_client.delete(f"/v2.0/rbac-policies/{wildcard['id']}", headers=ADMIN).status_code == 204
    assert app_client.get(f"/v2.0/networks/{net['id']}", headers=OWNER).json()["network"]["shared"] is False


def test_update_moves_the_share(app_client: Any) -> None:
    net = network(app_client, OWNER)
    policy = share(app_client, OWNER, object_id=net["id"], target_tenant=TARGET_ID)
    url = f"/v2.0/rbac-policies/{policy['id']}"
    moved = app_client.put(url, json={RP: {"target_tenant": OTHER_ID}}, headers=OWNER)
    assert moved.status_code == 200, moved.text
    assert moved.json()[RP]["target_tenant"] == OTHER_ID and moved.json()[RP]["id"] == policy["id"]
    assert net["id"] in _ids(app_client, "networks", OTHER)
    assert net["id"] not in _ids(app_client, "networks", TARGET)
    assert_error(app_client.put(url, json={RP: {"target_tenant": "*"}}, headers=OWNER), 403, "PolicyNotAuthorized")
    assert_error(app_client.put(url, json={RP: {"object_type": "subnetpool"}}, headers=OWNER), 400, "HTTPBadRequest",
                 "object_type")  # fmt: skip


def test_shared_attribute_is_the_wildcard_policy(app_client: Any) -> None:
    net = network(app_client, ADMIN, shared=True, project_id=OWNER_ID)
    policies = app_client.get(f"/v2.0/rbac-policies?object_id={net['id']}", headers=ADMIN).json()["rbac_policies"]
    assert [(p["target_tenant"], p["action"], p["project_id"]) for p in policies] == [
        ("*", "access_as_shared", OWNER_ID)
    ]
    assert app_client.delete(f"/v2.0/rbac-policies/{policies[0]['id']}", headers=ADMIN).status_code == 204
    assert app_client.get(f"/v2.0/networks/{net['id']}", headers=OWNER).json()["network"]["shared"] is False
    assert net["id"] not in _ids(app_client, "networks", TARGET)
    share(app_client, ADMIN, object_id=net["id"], target_tenant="*")
    assert app_client.get(f"/v2.0/networks/{net['id']}", headers=TARGET).json()["network"]["shared"] is True
    updated = app_client.put(f"/v2.0/networks/{net['id']}", json={"network": {"shared": False}}, headers=ADMIN)
    assert updated.json()["network"]["shared"] is False
    assert app_client.get(f"/v2.0/rbac-policies?object_id={net['id']}", headers=ADMIN).json()["rbac_policies"] == []
    assert app_client.delete(f"/v2.0/networks/{net['id']}", headers=ADMIN).status_code == 204


def test_external_for_one_project(app_client: Any) -> None:
    net = network(app_client, ADMIN)
    subnet(app_client, net["id"], "203.0.113.0/24", ADMIN)
    body = {"floatingip": {"floating_network_id": net["id"]}}
    assert_error(app_client.post("/v2.0/floatingips", json=body, headers=TARGET), 404, "NetworkNotFound")
    policy = share(app_client, ADMIN, object_id=net["id"], action="access_as_external", target_tenant=TARGET_ID)
    assert app_client.get(f"/v2.0/networks/{net['id']}", headers=ADMIN).json()["network"]["router:external"] is True
    shown = app_client.get(f"/v2.0/networks/{net['id']}", headers=TARGET).json()["network"]
    assert shown["router:external"] is True and shown["shared"] is False
    assert net["id"] not in _ids(app_client, "networks", OTHER)
    assert_error(app_client.post("/v2.0/floatingips", json=body, headers=OTHER), 404, "NetworkNotFound")
    router = create(app_client, "router", TARGET, external_gateway_info={"network_id": net["id"]})
    fip = app_client.post("/v2.0/floatingips", json=body, headers=TARGET)
    assert fip.status_code == 201, fip.text
    url = f"/v2.0/rbac-policies/{policy['id']}"
    assert_error(app_client.delete(url, headers=ADMIN), 409, "RbacPolicyInUse")
    app_client.delete(f"/v2.0/floatingips/{fip.json()['floatingip']['id']}", headers=TARGET)
    app_client.put(f"/v2.0/routers/{router['id']}", json={"router": {"external_gateway_info": {}}}, headers=TARGET)
    assert app_client.delete(url, headers=ADMIN).status_code == 204
    # the last access_as_external policy gone: the network is no longer external (Neutron)
    assert app_client.get(f"/v2.0/networks/{net['id']}", headers=ADMIN).json()["network"]["router:external"] is False


def test_external_attribute_is_the_wildcard_policy(app_client: Any) -> None:
    net = network(app_client, ADMIN, **{"router:external": True})
    assert net["id"] in _ids(app_client, "networks", TARGET)
    policies = app_client.get(f"/v2.0/rbac-policies?object_id={net['id']}", headers=ADMIN).json()["rbac_policies"]
    assert [(p["target_tenant"], p["action"]) for p in policies] == [("*", "access_as_external")]
    app_client.put(f"/v2.0/networks/{net['id']}", json={"network": {"router:external": False}}, headers=ADMIN)
    assert net["id"] not in _ids(app_client, "networks", TARGET)
    assert app_client.get(f"/v2.0/rbac-policies?object_id={net['id']}", headers=ADMIN).json()["rbac_policies"] == []


BAD_POLICIES: list[tuple[dict[str, Any], int, str, str]] = [
    ({"object_type": "router"}, 400, "InvalidInput", "not a valid RBAC object type"),
    ({"object_type": 7}, 400, "InvalidInput", "not a valid RBAC object type"),
    ({"object_id": "not-a-uuid"}, 400, "HTTPBadRequest", "object_id"),
    ({"object_id": 12}, 400, "HTTPBadRequest", "object_id"),
    ({"target_tenant": "bob"}, 400, "InvalidInput", "target project"),
    ({"target_tenant": ["x"]}, 400, "InvalidInput", "target project"),
    ({"target_tenant": None}, 400, "InvalidInput", "target project"),
    ({"action": "access_as_owner"}, 400, "InvalidActionForType", "access_as_owner"),
    ({"action": 3}, 400, "HTTPBadRequest", "action"),
    ({"colour": "red"}, 400, "HTTPBadRequest", "colour"),
    ({"id": "x"}, 400, "HTTPBadRequest", "id"),
    ({"target_tenant": "*"}, 403, "PolicyNotAuthorized", "target_tenant"),
    ({"target_project": "*", "target_tenant": None}, 403, "PolicyNotAuthorized", "target"),
    ({"target_tenant": "b" * 32, "target_project": "c" * 32}, 400, "HTTPBadRequest", "target_project"),
]


def test_bad_policies_refused(app_client: Any) -> None:
    net = network(app_client, OWNER)
    for attrs, status, kind, text in BAD_POLICIES:
        body = {"object_id": net["id"], "target_tenant": TARGET_ID, **attrs}
        if body["target_tenant"] is None and "target_project" in attrs:
            del body["target_tenant"]
        assert_error(rbac_post(app_client, OWNER, **body), status, kind, text)
    address_scope = scope(app_client, OWNER)
    external = {"object_type": "address_scope", "object_id": address_scope["id"], "action": "access_as_external"}
    assert_error(rbac_post(app_client, OWNER, target_tenant=TARGET_ID, **external), 400, "InvalidActionForType")
    assert app_client.get("/v2.0/rbac-policies", headers=ADMIN).json()["rbac_policies"] == []


def test_objects_not_owned_or_missing(app_client: Any) -> None:
    theirs = network(app_client, OTHER)
    shared = network(app_client, ADMIN, shared=True)
    missing = "0f0f0f0f-0000-4000-8000-000000000000"
    for object_id, text in ((theirs["id"], "could not be found"), (missing, "could not be found"),
                            (shared["id"], "Only admins can manipulate policies")):  # fmt: skip
        assert_error(
            rbac_post(app_client, OWNER, object_id=object_id, target_tenant=TARGET_ID), 400, "InvalidInput", text
        )
    first = share(app_client, OWNER, object_id=network(app_client, OWNER)["id"], target_tenant=TARGET_ID)
    again = rbac_post(app_client, OWNER, object_id=first["object_id"], target_tenant=TARGET_ID)
    assert_error(again, 409, "DuplicateRbacPolicy")
    url = f"/v2.0/rbac-policies/{first['id']}"
    assert_error(app_client.delete(url, headers=OTHER), 404, "RbacPolicyNotFound")
    assert_error(app_client.put(url, json={RP: {"target_tenant": OTHER_ID}}, headers=OTHER), 404, "RbacPolicyNotFound")
    reader = {"X-Project-Id": OWNER_ID, "X-Roles": "reader"}
    assert app_client.get(url, headers=reader).status_code == 200
    assert_error(app_client.delete(url, headers=reader), 403, "PolicyNotAuthorized")
    assert_error(rbac_post(app_client, reader, object_id=first["object_id"], target_tenant=OTHER_ID), 403,
                 "PolicyNotAuthorized")  # fmt: skip
    assert app_client.delete(url, headers=ADMIN).status_code == 204
    assert_error(app_client.get(url, headers=ADMIN), 404, "RbacPolicyNotFound")


def test_deleting_the_object_removes_its_policies(app_client: Any) -> None:
    net = network(app_client, OWNER)
    policy = share(app_client, OWNER, object_id=net["id"], target_tenant=TARGET_ID)
    assert app_client.delete(f"/v2.0/networks/{net['id']}", headers=OWNER).status_code == 204
    assert_error(app_client.get(f"/v2.0/rbac-policies/{policy['id']}", headers=ADMIN), 404, "RbacPolicyNotFound")


def test_subnet_pool_and_address_scope_shared_with_one_project(app_client: Any) -> None:
    shared_scope = scope(app_client, OWNER)
    pool = create(app_client, "subnetpool", OWNER, name="p", prefixes=["10.90.0.0/16"], default_prefixlen=24)
    assert pool["id"] not in _ids(app_client, "subnetpools", TARGET)
    share(app_client, OWNER, object_type="subnetpool", object_id=pool["id"], target_tenant=TARGET_ID)
    scope_policy = share(
        app_client, OWNER, object_type="address_scope", object_id=shared_scope["id"], target_tenant=TARGET_ID
    )
    assert pool["id"] in _ids(app_client, "subnetpools", TARGET)
    assert app_client.get(f"/v2.0/subnetpools/{pool['id']}", headers=TARGET).json()["subnetpool"]["shared"] is True
    assert app_client.get(f"/v2.0/address-scopes/{shared_scope['id']}", headers=TARGET).json()["address_scope"][
        "shared"
    ]
    assert pool["id"] not in _ids(app_client, "subnetpools", OTHER)
    assert shared_scope["id"] not in _ids(app_client, "address-scopes", OTHER)
    own_pool = create(
        app_client, "subnetpool", TARGET, name="t", prefixes=["10.91.0.0/16"], address_scope_id=shared_scope["id"]
    )
    assert own_pool["address_scope_id"] == shared_scope["id"]
    assert_error(app_client.delete(f"/v2.0/rbac-policies/{scope_policy['id']}", headers=OWNER), 409, "RbacPolicyInUse")
    net = network(app_client, TARGET)
    made = create(app_client, "subnet", TARGET, network_id=net["id"], subnetpool_id=pool["id"], ip_version=4)
    assert made["cidr"].startswith("10.90.")
    pool_policies = app_client.get("/v2.0/rbac-policies?object_type=subnetpool", headers=OWNER).json()["rbac_policies"]
    assert_error(app_client.delete(f"/v2.0/rbac-policies/{pool_policies[0]['id']}", headers=OWNER), 409,
                 "RbacPolicyInUse")  # fmt: skip


def test_migration_keeps_shared_and_external_objects_visible(tmp_path: Any) -> None:
    """Upgrading a database from before RBAC gives its shared and external networks (and shared scopes and
    pools) their ``*`` policies, so they stay visible to every project."""
    from sqlalchemy import text

    from floatnet.db.migrate import upgrade
    from floatnet.db.session import Database

    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(db.engine, "0003")
    columns = "project_id, name, description, status, revision_number, created_at, updated_at"
    values = "'p', '', '', 'ACTIVE', 0, '2026-01-01', '2026-01-01'"
    with db.engine.begin() as conn:
        for net_id, shared, external in (("n-shared", 1, 0), ("n-ext", 0, 1), ("n-own", 0, 0)):
            conn.execute(text(
                "INSERT INTO networks (id, admin_state_up, shared, external, port_security_enabled, mtu, network_type, "
                f"{columns}) VALUES ('{net_id}', 1, {shared}, {external}, 1, 1500, 'flat', {values})"
            ))  # fmt: skip
        conn.execute(
            text(f"INSERT INTO address_scopes (id, ip_version, shared, {columns}) VALUES ('s', 4, 1, {values})")
        )
        conn.execute(text(
            "INSERT INTO subnets (id, network_id, ip_version, cidr, enable_dhcp, allocation_pools, dns_nameservers, "
            f"host_routes, {columns}) VALUES ('sub', 'n-own', 4, '10.0.0.0/24', 0, '[]', '[]', '[]', {values})"
        ))  # fmt: skip
    upgrade(db.engine)
    with db.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT object_type, object_id, action, target_project, project_id FROM rbac_policies")
        )
        found = sorted(tuple(row) for row in rows)
        kept = conn.execute(text("SELECT id FROM subnets")).scalars().all()
    db.dispose()
    assert kept == ["sub"]  # the networks table was altered in place, its subnets kept
    assert found == [
        ("address_scope", "s", "access_as_shared", "*", "p"),
        ("network", "n-ext", "access_as_external", "*", "p"),
        ("network", "n-shared", "access_as_shared", "*", "p"),
    ]


def test_service_providers_and_extensions(app_client: Any) -> None:
    reader = {"X-Project-Id": OWNER_ID, "X-Roles": "reader"}
    for headers in (ADMIN, OWNER, reader):
        listed = app_client.get("/v2.0/service-providers", headers=headers)
        assert listed.status_code == 200, listed.text
        assert listed.json()["service_providers"] == [
            {"service_type": "L3_ROUTER_NAT", "name": "single_node", "default": False}
        ]
    assert app_client.get("/v2.0/service-providers?default=true").json()["service_providers"] == []
    only_name = app_client.get("/v2.0/service-providers?fields=name").json()["service_providers"]
    assert only_name == [{"name": "single_node"}]
    assert_error(app_client.get("/v2.0/service-providers?default=maybe"), 400, "HTTPBadRequest", "default")
    assert_error(app_client.get("/v2.0/service-providers?driver=x"), 400, "HTTPBadRequest", "driver")
    aliases = {e["alias"] for e in app_client.get("/v2.0/extensions").json()["extensions"]}
    assert {"rbac-policies", "rbac-address-scope", "rbac-subnetpool", "service-type"} <= aliases


def test_rbac_policy_quota(make_app_client: Any) -> None:
    """``[quotas] quota_rbac_policy`` (Neutron's default 10) limits the policies a project creates."""
    from tests.conftest import DEFAULT_INI

    client = make_app_client(DEFAULT_INI + "\n[quotas]\nquota_rbac_policy = 2\n")
    net = network(client, OWNER)
    for target in (TARGET_ID, OTHER_ID):
        share(client, OWNER, object_id=net["id"], target_tenant=target)
    assert_error(rbac_post(client, OWNER, object_id=net["id"], target_tenant="d" * 32), 409, "OverQuota")
    assert client.get(f"/v2.0/quotas/{OWNER_ID}", headers=OWNER).json()["quota"]["rbac_policy"] == 2
