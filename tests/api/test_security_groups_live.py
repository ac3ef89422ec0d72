"""The hostile security-group requests of issue 13 sent to a real listening server, as admin, member and
reader: every bad input a typed 4xx, every forbidden request refused, nothing changed by a refused one."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.helpers import assert_error, project
from tests.api.test_security_groups import BAD_RULES

OWNER, OTHER = project("live-owner"), project("live-other")
READER = {"X-Project-Id": "live-owner", "X-Roles": "reader"}
ADMIN = project("live-admin", admin=True)
SG, RULE = "security_group", "security_group_rule"


def _group(api: httpx.Client, headers: dict[str, str], name: str) -> dict[str, Any]:
    response = api.post("/v2.0/security-groups", json={SG: {"name": name}}, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json()[SG])


def _state(api: httpx.Client) -> Any:
    groups = api.get("/v2.0/security-groups").json()["security_groups"]
    return sorted((g["id"], g["name"], g["revision_number"], len(g["security_group_rules"])) for g in groups)


def test_bad_rules_as_member(api: httpx.Client) -> None:
    group = _group(api, OWNER, "live-bad")
    for attrs, kind in BAD_RULES:
        body = {"security_group_id": group["id"], "direction": "ingress", **attrs}
        response = api.post("/v2.0/security-group-rules", json={RULE: body}, headers=OWNER)
        assert 400 <= response.status_code < 500 and response.json()["NeutronError"]["type"] == kind, response.text
    again = {"security_group_id": group["id"], "direction": "egress", "ethertype": "IPv6"}
    assert_error(
        api.post("/v2.0/security-group-rules", json={RULE: again}, headers=OWNER), 409, "SecurityGroupRuleExists"
    )


def test_default_group_protected_from_members_not_admins(api: httpx.Client) -> None:
    default = api.get("/v2.0/security-groups?name=default", headers=OWNER).json()["security_groups"][0]
    url = f"/v2.0/security-groups/{default['id']}"
    assert_error(api.put(url, json={SG: {"name": "mine"}}, headers=OWNER), 409, "SecurityGroupCannotUpdateDefault")
    assert_error(api.delete(url, headers=OWNER), 409, "SecurityGroupCannotRemoveDefault")
    assert_error(api.post("/v2.0/security-groups", json={SG: {"name": "default"}}, headers=OWNER), 409,
           "SecurityGroupDefaultAlreadyExists")  # fmt: skip
    victim = api.get("/v2.0/security-groups?name=default", headers=OTHER).json()["security_groups"][0]
    assert api.delete(f"/v2.0/security-groups/{victim['id']}", headers=ADMIN).status_code == 204


def test_other_project_and_reader_are_refused_and_change_nothing(api: httpx.Client) -> None:
    group = _group(api, OWNER, "live-private")
    rule_id = group["security_group_rules"][0]["id"]
    before = _state(api)
    url = f"/v2.0/security-groups/{group['id']}"
    for method, path, body in (
        ("GET", url, None),
        ("PUT", url, {SG: {"name": "stolen"}}),
        ("DELETE", url, None),
        ("PUT", f"{url}/tags/x", None),
        ("GET", f"/v2.0/security-group-rules/{rule_id}", None),
        ("DELETE", f"/v2.0/security-group-rules/{rule_id}", None),
    ):
        response = api.request(method, path, json=body, headers=OTHER)
        assert response.status_code == 404, (method, path, response.text)
    body = {"security_group_id": group["id"], "direction": "ingress"}
    assert_error(api.post("/v2.0/security-group-rules", json={RULE: body}, headers=OTHER), 404, "SecurityGroupNotFound")
    for method, path, payload in (
        ("POST", "/v2.0/security-groups", {SG: {"name": "r"}}),
        ("PUT", url, {SG: {"name": "r"}}),
        ("DELETE", url, None),
        ("POST", "/v2.0/security-group-rules", {RULE: body}),
        ("DELETE", f"/v2.0/security-group-rules/{rule_id}", None),
        ("PUT", f"{url}/tags/x", None),
    ):
        assert_error(api.request(method, path, json=payload, headers=READER), 403, "PolicyNotAuthorized")
    assert api.get(url, headers=READER).status_code == 200
    assert _state(api) == before


def test_port_security_conflicts_and_foreign_groups(api: httpx.Client) -> None:
    net = api.post("/v2.0/networks", json={"network": {"name": "live-sg"}}, headers=OWNER).json()["network"]
    sub = {"network_id": net["id"], "cidr": "10.44.0.0/24", "ip_version": 4}
    assert api.post("/v2.0/subnets", json={"subnet": sub}, headers=OWNER).status_code == 201
    mine, theirs = _group(api, OWNER, "live-mine"), _group(api, OTHER, "live-theirs")
    cases = [
        ({"security_groups": [theirs["id"]]}, 404, "SecurityGroupNotFound"),
        ({"port_security_enabled": False, "security_groups": [mine["id"]]}, 400,
         "PortSecurityAndIPRequiredForSecurityGroups"),
        ({"port_security_enabled": False, "allowed_address_pairs": [{"ip_address": "10.44.0.9"}]}, 409,
         "AddressPairAndPortSecurityRequired"),
        ({"allowed_address_pairs": [{"ip_address": "10.44.0.9"}] * 2}, 400, "DuplicateAddressPairInRequest"),
        ({"security_groups": "x"}, 400, "HTTPBadRequest"),
    ]  # fmt: skip
    for attrs, status, kind in cases:
        body = {"port": {"network_id": net["id"], **attrs}}
        assert_error(api.post("/v2.0/ports", json=body, headers=OWNER), status, kind)
    port = api.post("/v2.0/ports", json={"port": {"network_id": net["id"]}}, headers=OWNER).json()["port"]
    purl = f"/v2.0/ports/{port['id']}"
    assert_error(api.put(purl, json={"port": {"port_security_enabled": False}}, headers=OWNER), 409,
           "PortSecurityPortHasSecurityGroup")  # fmt: skip
    assert_error(api.put(purl, json={"port": {"security_groups": [theirs["id"]]}}, headers=OWNER), 404,
           "SecurityGroupNotFound")  # fmt: skip
    assert_error(api.delete(f"/v2.0/security-groups/{port['security_groups'][0]}", headers=ADMIN), 409,
           "SecurityGroupInUse")  # fmt: skip


def test_quota_as_admin_then_member(api: httpx.Client) -> None:
    quota = project("live-quota")
    body = {"quota": {"security_group": 1}}
    assert api.put("/v2.0/quotas/live-quota", json=body, headers=ADMIN).status_code == 200
    response = api.post("/v2.0/security-groups", json={SG: {"name": "one-too-many"}}, headers=quota)
    assert_error(response, 409, "OverQuota")
    assert api.get("/v2.0/quotas/live-quota", headers=ADMIN).json()["quota"]["security_group_rule"] == 100


def test_security_extensions_advertised(api: httpx.Client) -> None:
    """Advertised once the agent enforces them: clients (Tempest, openstacksdk) read the aliases that way."""
    aliases = {e["alias"] for e in api.get("/v2.0/extensions").json()["extensions"]}
    assert {"security-group", "port-security", "allowed-address-pairs", "stateful-security-group"} <= aliases
    assert "security-groups-remote-address-group" not in aliases, "address groups are not implemented"
    shown = api.get("/v2.0/extensions/security-group").json()["extension"]
    assert shown["alias"] == "security-group"
