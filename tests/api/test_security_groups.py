"""Security groups and rules through the in-process app: Neutron's attributes, defaults, validation and errors."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.api.helpers import assert_error, network, port, project, subnet

ALICE = project("alice")
BOB = project("bob")
READER = {"X-Project-Id": "alice", "X-Roles": "reader"}
SG, RULE = "security_group", "security_group_rule"


def groups(client: Any, headers: dict[str, str], query: str = "") -> list[dict[str, Any]]:
    response = client.get(f"/v2.0/security-groups{query}", headers=headers)
    assert response.status_code == 200, response.text
    return list(response.json()["security_groups"])


def default_of(client: Any, headers: dict[str, str]) -> dict[str, Any]:
    return next(g for g in groups(client, headers, "?name=default"))


def sg(client: Any, headers: dict[str, str], **attrs: Any) -> dict[str, Any]:
    response = client.post("/v2.0/security-groups", json={SG: attrs}, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json()[SG])


def rule(client: Any, headers: dict[str, str], **attrs: Any) -> Any:
    return client.post("/v2.0/security-group-rules", json={RULE: attrs}, headers=headers)


def test_default_group_created_on_first_list_with_neutrons_rules(app_client: Any) -> None:
    listed = groups(app_client, ALICE)
    assert [g["name"] for g in listed] == ["default"]
    group = listed[0]
    assert group["description"] == "Default security group"
    assert group["stateful"] is True and group["shared"] is False and group["project_id"] == "alice"
    assert {"revision_number", "created_at", "updated_at", "tags", "tenant_id"} <= set(group)
    seen = {(r["direction"], r["ethertype"], r["remote_group_id"]) for r in group["security_group_rules"]}
    assert seen == {
        ("egress", "IPv4", None),
        ("egress", "IPv6", None),
        ("ingress", "IPv4", group["id"]),
        ("ingress", "IPv6", group["id"]),
    }
    assert all(r["belongs_to_default_sg"] is True for r in group["security_group_rules"])
    assert groups(app_client, ALICE) == listed  # exactly one, however often listed


def test_create_group_gets_egress_rules_and_default_exists(app_client: Any) -> None:
    web = sg(app_client, ALICE, name="web", description="d", tags=["a"])
    assert web["tags"] == ["a"] and web["stateful"] is True
    assert sorted(r["ethertype"] for r in web["security_group_rules"]) == ["IPv4", "IPv6"]
    assert all(r["direction"] == "egress" and r["belongs_to_default_sg"] is False for r in web["security_group_rules"])
    assert sorted(g["name"] for g in groups(app_client, ALICE)) == ["default", "web"]


@pytest.mark.parametrize("name", ["default", "Default"])
def test_name_default_refused(app_client: Any, name: str) -> None:
    response = app_client.post("/v2.0/security-groups", json={SG: {"name": name}}, headers=ALICE)
    assert_error(response, 409, "SecurityGroupDefaultAlreadyExists")
    web = sg(app_client, ALICE, name="web")
    response = app_client.put(f"/v2.0/security-groups/{web['id']}", json={SG: {"name": name}}, headers=ALICE)
    assert_error(response, 409, "SecurityGroupDefaultAlreadyExists")


def test_default_group_cannot_be_renamed_or_deleted_by_member(app_client: Any) -> None:
    default = default_of(app_client, ALICE)
    url = f"/v2.0/security-groups/{default['id']}"
    assert_error(app_client.put(url, json={SG: {"name": "x"}}, headers=ALICE), 409, "SecurityGroupCannotUpdateDefault")
    assert app_client.put(url, json={SG: {"description": "mine"}}, headers=ALICE).status_code == 200
    assert_error(app_client.delete(url, headers=ALICE), 409, "SecurityGroupCannotRemoveDefault")
    assert app_client.delete(url, headers=project("alice", admin=True)).status_code == 204


def test_update_bumps_revision_and_if_match(app_client: Any) -> None:
    web = sg(app_client, ALICE, name="web")
    url = f"/v2.0/security-groups/{web['id']}"
    updated = app_client.put(url, json={SG: {"name": "www"}}, headers=ALICE).json()[SG]
    assert updated["revision_number"] == web["revision_number"] + 1 and updated["name"] == "www"
    stale = {**ALICE, "If-Match": f"revision_number={web['revision_number']}"}
    assert_error(app_client.put(url, json={SG: {"name": "w"}}, headers=stale), 412, "RevisionNumberConstraintFailed")
    assert_error(app_client.put(url, json={SG: {"shared": True}}, headers=ALICE), 400, "HTTPBadRequest")


def test_other_projects_groups_are_invisible(app_client: Any) -> None:
    web = sg(app_client, ALICE, name="web")
    url = f"/v2.0/security-groups/{web['id']}"
    assert_error(app_client.get(url, headers=BOB), 404, "SecurityGroupNotFound")
    assert_error(app_client.put(url, json={SG: {"name": "x"}}, headers=BOB), 404, "SecurityGroupNotFound")
    assert_error(app_client.delete(url, headers=BOB), 404, "SecurityGroupNotFound")
    assert web["id"] not in {g["id"] for g in groups(app_client, BOB)}
    assert web["id"] in {g["id"] for g in groups(app_client, {})}


def test_reader_reads_but_writes_nothing(app_client: Any) -> None:
    web = sg(app_client, ALICE, name="web")
    url = f"/v2.0/security-groups/{web['id']}"
    assert app_client.get(url, headers=READER).status_code == 200
    assert_error(
        app_client.post("/v2.0/security-groups", json={SG: {"name": "r"}}, headers=READER), 403, "PolicyNotAuthorized"
    )
    assert_error(app_client.put(url, json={SG: {"name": "x"}}, headers=READER), 403, "PolicyNotAuthorized")
    assert_error(app_client.delete(url, headers=READER), 403, "PolicyNotAuthorized")
    response = rule(app_client, READER, security_group_id=web["id"], direction="ingress")
    assert_error(response, 403, "PolicyNotAuthorized")
    rule_id = web["security_group_rules"][0]["id"]
    assert app_client.get(f"/v2.0/security-group-rules/{rule_id}", headers=READER).status_code == 200
    assert_error(app_client.delete(f"/v2.0/security-group-rules/{rule_id}", headers=READER), 403, "PolicyNotAuthorized")


def test_rule_create_show_list_delete(app_client: Any) -> None:
    web = sg(app_client, ALICE, name="web")
    response = rule(
        app_client, ALICE, security_group_id=web["id"], direction="ingress", protocol="tcp",
        port_range_min=22, port_range_max=22, remote_ip_prefix="0.0.0.0/0", description="ssh",
    )  # fmt: skip
    assert response.status_code == 201, response.text
    created = response.json()[RULE]
    assert created["ethertype"] == "IPv4" and created["protocol"] == "tcp"
    assert created["normalized_cidr"] == "0.0.0.0/0" and created["belongs_to_default_sg"] is False
    assert created["remote_address_group_id"] is None and created["description"] == "ssh"
    url = f"/v2.0/security-group-rules/{created['id']}"
    assert app_client.get(url, headers=ALICE).json()[RULE] == created
    listed = app_client.get(f"/v2.0/security-group-rules?security_group_id={web['id']}&protocol=tcp", headers=ALICE)
    assert [r["id"] for r in listed.json()["security_group_rules"]] == [created["id"]]
    shown = app_client.get(f"/v2.0/security-groups/{web['id']}", headers=ALICE).json()[SG]
    assert created["id"] in {r["id"] for r in shown["security_group_rules"]}
    assert app_client.delete(url, headers=ALICE).status_code == 204
    assert_error(app_client.get(url, headers=ALICE), 404, "SecurityGroupRuleNotFound")
    assert_error(app_client.get(url, headers=BOB), 404, "SecurityGroupRuleNotFound")


def test_rule_normalisation(app_client: Any) -> None:
    web = sg(app_client, ALICE, name="web")
    base = {"security_group_id": web["id"], "direction": "ingress"}
    host = rule(app_client, ALICE, **base, remote_ip_prefix="10.1.2.3/24").json()[RULE]
    assert host["remote_ip_prefix"] == "10.1.2.3/24" and host["normalized_cidr"] == "10.1.2.0/24"
    single = rule(app_client, ALICE, **base, remote_ip_prefix="192.0.2.7").json()[RULE]
    assert single["remote_ip_prefix"] == "192.0.2.7/32"
    full = rule(app_client, ALICE, **base, protocol="udp", port_range_min=1, port_range_max=65535).json()[RULE]
    assert full["port_range_min"] is None and full["port_range_max"] is None
    legacy = rule(app_client, ALICE, **base, ethertype="ipv6", protocol="icmp").json()[RULE]
    assert legacy["ethertype"] == "IPv6" and legacy["protocol"] == "ipv6-icmp"
    number = rule(app_client, ALICE, **base, protocol="6", port_range_min=80, port_range_max=80).json()[RULE]
    assert number["protocol"] == "6"
    anyproto = rule(app_client, ALICE, **base, protocol="any", remote_ip_prefix="198.51.100.0/24").json()[RULE]
    assert anyproto["protocol"] is None
    icmp = rule(app_client, ALICE, **base, protocol="icmp", port_range_min=8, port_range_max=0).json()[RULE]
    assert (icmp["port_range_min"], icmp["port_range_max"]) == (8, 0)


BAD_RULES = [
    ({"protocol": "bogus"}, "SecurityGroupRuleInvalidProtocol"),
    ({"protocol": 256}, "SecurityGroupRuleInvalidProtocol"),
    ({"protocol": ["tcp"]}, "SecurityGroupRuleInvalidProtocol"),
    ({"ethertype": "IPv5"}, "SecurityGroupRuleInvalidEtherType"),
    ({"direction": "sideways"}, "HTTPBadRequest"),
    ({"port_range_min": 22}, "SecurityGroupProtocolRequiredWithPorts"),
    ({"protocol": "tcp", "port_range_min": 80, "port_range_max": 22}, "SecurityGroupInvalidPortRange"),
    ({"protocol": "tcp", "port_range_min": 22}, "SecurityGroupInvalidPortRange"),
    ({"protocol": "tcp", "port_range_min": 0, "port_range_max": 22}, "SecurityGroupInvalidPortValue"),
    ({"protocol": "tcp", "port_range_min": 70000, "port_range_max": 70000}, "SecurityGroupInvalidPortValue"),
    ({"protocol": "tcp", "port_range_min": "x", "port_range_max": 1}, "SecurityGroupInvalidPortValue"),
    ({"protocol": "icmp", "port_range_min": 300}, "SecurityGroupInvalidIcmpValue"),
    ({"protocol": "icmp", "port_range_max": 3}, "SecurityGroupMissingIcmpType"),
    ({"protocol": "gre", "port_range_min": 1, "port_range_max": 2}, "SecurityGroupInvalidProtocolForPort"),
    ({"remote_ip_prefix": "::/0"}, "SecurityGroupRuleParameterConflict"),
    ({"remote_ip_prefix": "not-a-cidr"}, "InvalidCIDR"),
    ({"protocol": "ipv6-icmp"}, "SecurityGroupEthertypeConflictWithProtocol"),
    ({"remote_address_group_id": str(uuid.uuid4())}, "HTTPBadRequest"),
    ({"bogus": 1}, "HTTPBadRequest"),
    ({"security_group_id": "nope"}, "HTTPBadRequest"),
    ({"security_group_id": str(uuid.uuid4())}, "SecurityGroupNotFound"),
    ({"remote_group_id": str(uuid.uuid4())}, "SecurityGroupNotFound"),
]


@pytest.mark.parametrize(("attrs", "error"), BAD_RULES)
def test_bad_rules_are_typed_4xx(app_client: Any, attrs: dict[str, Any], error: str) -> None:
    web = sg(app_client, ALICE, name="web")
    body = {"security_group_id": web["id"], "direction": "ingress", **attrs}
    response = rule(app_client, ALICE, **body)
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["NeutronError"]["type"] == error, response.text


def test_remote_group_and_prefix_conflict(app_client: Any) -> None:
    web = sg(app_client, ALICE, name="web")
    response = rule(
        app_client, ALICE, security_group_id=web["id"], direction="ingress",
        remote_group_id=web["id"], remote_ip_prefix="10.0.0.0/8",
    )  # fmt: skip
    assert_error(response, 400, "SecurityGroupMultipleRemoteEntites")


def test_duplicate_rule_is_409_with_the_existing_id(app_client: Any) -> None:
    web = sg(app_client, ALICE, name="web")
    first = rule(app_client, ALICE, security_group_id=web["id"], direction="ingress", protocol="tcp",
                 port_range_min=22, port_range_max=22).json()[RULE]  # fmt: skip
    again = rule(app_client, ALICE, security_group_id=web["id"], direction="ingress", protocol="6",
                 port_range_min=22, port_range_max=22, remote_ip_prefix="0.0.0.0/0")  # fmt: skip
    assert_error(again, 409, "SecurityGroupRuleExists", first["id"])
    egress = rule(app_client, ALICE, security_group_id=web["id"], direction="egress")  # the default egress rule
    assert_error(egress, 409, "SecurityGroupRuleExists")


def test_member_cannot_add_rules_to_another_projects_group(app_client: Any) -> None:
    web = sg(app_client, ALICE, name="web")
    response = rule(app_client, BOB, security_group_id=web["id"], direction="ingress")
    assert_error(response, 404, "SecurityGroupNotFound")
    mine = sg(app_client, BOB, name="mine")
    response = rule(app_client, BOB, security_group_id=mine["id"], direction="ingress", remote_group_id=web["id"])
    assert_error(response, 404, "SecurityGroupNotFound")


def test_group_in_use_by_a_port_cannot_be_deleted(app_client: Any) -> None:
    net = network(app_client, ALICE, name="n")
    subnet(app_client, net["id"], "10.0.0.0/24", ALICE)
    web = sg(app_client, ALICE, name="web")
    p = port(app_client, net["id"], ALICE, security_groups=[web["id"]])
    assert p["security_groups"] == [web["id"]]
    assert_error(app_client.delete(f"/v2.0/security-groups/{web['id']}", headers=ALICE), 409, "SecurityGroupInUse")
    response = app_client.put(f"/v2.0/security-groups/{web['id']}", json={SG: {"stateful": False}}, headers=ALICE)
    assert_error(response, 409, "SecurityGroupInUse")
    assert app_client.delete(f"/v2.0/ports/{p['id']}", headers=ALICE).status_code == 204
    assert app_client.delete(f"/v2.0/security-groups/{web['id']}", headers=ALICE).status_code == 204
    rules = app_client.get(f"/v2.0/security-group-rules?security_group_id={web['id']}", headers=ALICE).json()
    assert rules["security_group_rules"] == []


def test_filters_sort_page_tags(app_client: Any) -> None:
    for name in ("c", "a", "b"):
        sg(app_client, ALICE, name=name, tags=[name])
    names = [g["name"] for g in groups(app_client, ALICE, "?sort_key=name&sort_dir=asc")]
    assert names == ["a", "b", "c", "default"]
    page = app_client.get("/v2.0/security-groups?limit=2&sort_key=name", headers=ALICE).json()
    assert len(page["security_groups"]) == 2 and page["security_groups_links"][0]["rel"] == "next"
    assert [g["name"] for g in groups(app_client, ALICE, "?tags=b")] == ["b"]
    assert [g["name"] for g in groups(app_client, ALICE, "?stateful=true&name=a&fields=name")] == ["a"]
    assert_error(app_client.get("/v2.0/security-groups?stateful=maybe", headers=ALICE), 400, "HTTPBadRequest")
    a = groups(app_client, ALICE, "?name=a")[0]
    assert app_client.put(f"/v2.0/security-groups/{a['id']}/tags/x", headers=ALICE).status_code == 201
    assert app_client.get(f"/v2.0/security-groups/{a['id']}/tags", headers=ALICE).json()["tags"] == ["a", "x"]
    rules = app_client.get("/v2.0/security-group-rules?direction=ingress&ethertype=IPv6", headers=ALICE).json()
    assert len(rules["security_group_rules"]) == 1
    assert_error(app_client.get("/v2.0/security-group-rules?port_range_min=x", headers=ALICE), 400, "HTTPBadRequest")


def test_rules_list_creates_the_default_group(app_client: Any) -> None:
    rules = app_client.get("/v2.0/security-group-rules", headers=BOB).json()["security_group_rules"]
    assert len(rules) == 4 and all(r["project_id"] == "bob" for r in rules)


def test_quotas_are_neutrons_and_enforced(app_client: Any) -> None:
    quota = app_client.get("/v2.0/quotas/alice", headers={}).json()["quota"]
    assert quota["security_group"] == 10 and quota["security_group_rule"] == 100
    admin = project("admin", admin=True)
    body = {"quota": {"security_group": 2, "security_group_rule": 7}}
    assert app_client.put("/v2.0/quotas/alice", json=body, headers=admin).status_code == 200
    web = sg(app_client, ALICE, name="web")  # default (4 rules) + web (2 rules) = 2 groups, 6 rules
    response = app_client.post("/v2.0/security-groups", json={SG: {"name": "x"}}, headers=ALICE)
    assert_error(response, 409, "OverQuota")
    assert rule(app_client, ALICE, security_group_id=web["id"], direction="ingress").status_code == 201
    response = rule(app_client, ALICE, security_group_id=web["id"], direction="ingress", protocol="tcp")
    assert_error(response, 409, "OverQuota")
    details = app_client.get("/v2.0/quotas/alice/details", headers=admin)
    if details.status_code == 200:
        assert details.json()["quota"]["security_group"]["used"] == 2
