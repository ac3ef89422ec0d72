"""Ports and security groups: default group, port security, allowed address pairs, the host state and the
change feed (in-process), and the default group's creation under concurrency (live server)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.api import l3_world
from tests.api.helpers import assert_error, network, port, project, subnet

ALICE, BOB = project("alice"), project("bob")
SG = "security_group"


def _net(client: Any, headers: dict[str, str], **attrs: Any) -> str:
    net = network(client, headers, name="n", **attrs)
    subnet(client, net["id"], "10.0.0.0/24", headers)
    return str(net["id"])


def _group(client: Any, headers: dict[str, str], name: str, **attrs: Any) -> dict[str, Any]:
    response = client.post("/v2.0/security-groups", json={SG: {"name": name, **attrs}}, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json()[SG])


def _default(client: Any, headers: dict[str, str]) -> str:
    found = client.get("/v2.0/security-groups?name=default", headers=headers).json()["security_groups"]
    return str(found[0]["id"])


def _put(client: Any, port_id: str, headers: dict[str, str], **attrs: Any) -> Any:
    return client.put(f"/v2.0/ports/{port_id}", json={"port": attrs}, headers=headers)


def test_new_port_gets_its_projects_default_group(app_client: Any) -> None:
    net = _net(app_client, ALICE)
    made = port(app_client, net, ALICE)
    assert made["security_groups"] == [_default(app_client, ALICE)]
    assert made["port_security_enabled"] is True and made["allowed_address_pairs"] == []
    shown = app_client.get(f"/v2.0/ports/{made['id']}", headers=ALICE).json()["port"]
    assert shown["security_groups"] == made["security_groups"]
    listed = app_client.get(f"/v2.0/ports?security_groups={made['security_groups'][0]}", headers=ALICE).json()
    assert [p["id"] for p in listed["ports"]] == [made["id"]]


def test_network_port_security_is_the_default_and_off_means_no_group(app_client: Any) -> None:
    net = _net(app_client, ALICE, port_security_enabled=False)
    made = port(app_client, net, ALICE)
    assert made["port_security_enabled"] is False and made["security_groups"] == []
    web = _group(app_client, ALICE, "web")
    body = {"network_id": net, "security_groups": [web["id"]]}
    response = app_client.post("/v2.0/ports", json={"port": body}, headers=ALICE)
    assert_error(response, 400, "PortSecurityAndIPRequiredForSecurityGroups")
    body = {"network_id": net, "allowed_address_pairs": [{"ip_address": "10.0.0.50"}]}
    response = app_client.post("/v2.0/ports", json={"port": body}, headers=ALICE)
    assert_error(response, 409, "AddressPairAndPortSecurityRequired")


def test_turning_port_security_off_needs_no_groups_and_no_pairs(app_client: Any) -> None:
    net = _net(app_client, ALICE)
    made = port(app_client, net, ALICE, allowed_address_pairs=[{"ip_address": "10.0.0.0/28"}])
    assert_error(
        _put(app_client, made["id"], ALICE, port_security_enabled=False), 409, "AddressPairAndPortSecurityRequired"
    )
    response = _put(app_client, made["id"], ALICE, port_security_enabled=False, allowed_address_pairs=[])
    assert_error(response, 409, "PortSecurityPortHasSecurityGroup")
    response = _put(app_client, made["id"], ALICE, port_security_enabled=False, allowed_address_pairs=[],
                    security_groups=[])  # fmt: skip
    assert response.status_code == 200, response.text
    updated = response.json()["port"]
    assert updated["security_groups"] == [] and updated["allowed_address_pairs"] == []
    assert updated["port_security_enabled"] is False
    web = _group(app_client, ALICE, "web")
    assert_error(_put(app_client, made["id"], ALICE, security_groups=[web["id"]]), 400,
                 "PortSecurityAndIPRequiredForSecurityGroups")  # fmt: skip


def test_update_groups_and_remove_them(app_client: Any) -> None:
    net = _net(app_client, ALICE)
    made = port(app_client, net, ALICE)
    web, db = _group(app_client, ALICE, "web"), _group(app_client, ALICE, "db")
    response = _put(app_client, made["id"], ALICE, security_groups=[web["id"], db["id"]])
    assert sorted(response.json()["port"]["security_groups"]) == sorted([web["id"], db["id"]])
    assert response.json()["port"]["revision_number"] == made["revision_number"] + 1
    assert _put(app_client, made["id"], ALICE, security_groups=None).json()["port"]["security_groups"] == []
    assert app_client.delete(f"/v2.0/security-groups/{web['id']}", headers=ALICE).status_code == 204


def test_member_cannot_use_another_projects_group(app_client: Any) -> None:
    net = _net(app_client, ALICE)
    theirs = _group(app_client, BOB, "theirs")
    body = {"network_id": net, "security_groups": [theirs["id"]]}
    response = app_client.post("/v2.0/ports", json={"port": body}, headers=ALICE)
    assert_error(response, 404, "SecurityGroupNotFound", theirs["id"])
    made = port(app_client, net, ALICE)
    assert_error(_put(app_client, made["id"], ALICE, security_groups=[theirs["id"]]), 404, "SecurityGroupNotFound")
    admin = project("root", admin=True)
    body = {"network_id": net, "security_groups": [theirs["id"]], "project_id": "alice"}
    assert app_client.post("/v2.0/ports", json={"port": body}, headers=admin).status_code == 201


def test_stateful_and_stateless_groups_do_not_mix(app_client: Any) -> None:
    net = _net(app_client, ALICE)
    on, off = _group(app_client, ALICE, "on"), _group(app_client, ALICE, "off", stateful=False)
    body = {"network_id": net, "security_groups": [on["id"], off["id"]]}
    response = app_client.post("/v2.0/ports", json={"port": body}, headers=ALICE)
    assert_error(response, 409, "SecurityGroupConflict")


BAD_PAIRS = [
    ("x", "HTTPBadRequest"),
    ([{"mac_address": "fa:16:3e:00:00:01"}], "AllowedAddressPairsMissingIP"),
    ([{"ip_address": "10.0.0.9"}, {"ip_address": "10.0.0.9"}], "DuplicateAddressPairInRequest"),
    ([{"ip_address": "10.0.0.9", "bogus": 1}], "HTTPBadRequest"),
    ([{"ip_address": "not-an-ip"}], "HTTPBadRequest"),
    ([{"ip_address": "224.0.0.1"}], "HTTPBadRequest"),
    ([{"ip_address": "10.0.0.9", "mac_address": "ff:ff:ff:ff:ff:ff"}], "HTTPBadRequest"),
    ([{"ip_address": f"10.0.1.{i}"} for i in range(11)], "AllowedAddressPairExhausted"),
    (["10.0.0.9"], "HTTPBadRequest"),
]


def test_bad_address_pairs_are_400(app_client: Any) -> None:
    net = _net(app_client, ALICE)
    for pairs, error in BAD_PAIRS:
        body = {"network_id": net, "allowed_address_pairs": pairs}
        assert_error(app_client.post("/v2.0/ports", json={"port": body}, headers=ALICE), 400, error)


def test_address_pair_mac_defaults_to_the_ports(app_client: Any) -> None:
    net = _net(app_client, ALICE)
    pairs = [{"ip_address": "10.0.0.64/26"}, {"ip_address": "10.0.0.9", "mac_address": "FA:16:3E:00:00:09"}]
    made = port(app_client, net, ALICE, allowed_address_pairs=pairs)
    assert sorted(made["allowed_address_pairs"], key=lambda p: p["ip_address"]) == [
        {"ip_address": "10.0.0.64/26", "mac_address": made["mac_address"]},
        {"ip_address": "10.0.0.9", "mac_address": "fa:16:3e:00:00:09"},
    ]


def test_network_owned_ports_get_no_group(app_client: Any) -> None:
    world = l3_world.build(app_client)
    router_id = world.router()
    fip = world.fip()
    ports = app_client.get("/v2.0/ports").json()["ports"]
    owned = [p for p in ports if p["device_owner"].startswith("network:")]
    assert {p["device_owner"] for p in owned} >= {"network:router_interface", "network:router_gateway"}
    assert all(p["security_groups"] == [] for p in owned), router_id + fip["id"]


def test_host_state_carries_groups_rules_members_and_pairs(app_client: Any) -> None:
    admin = project("alice", admin=True)  # binding:host_id is the admin's to set
    net = _net(app_client, admin)
    web = _group(app_client, admin, "web")
    rule = {"security_group_id": web["id"], "direction": "ingress", "remote_group_id": web["id"], "protocol": "tcp"}
    assert (
        app_client.post("/v2.0/security-group-rules", json={"security_group_rule": rule}, headers=admin).status_code
        == 201
    )
    pairs = [{"ip_address": "10.0.0.200"}]
    here = port(app_client, net, admin, security_groups=[web["id"]], allowed_address_pairs=pairs,
                **{"binding:host_id": "node1"})  # fmt: skip
    peer = port(app_client, net, admin, security_groups=[web["id"]], **{"binding:host_id": "node2"})
    state = app_client.get("/v2.0/floatnet/hosts/node1/state").json()
    listed = next(p for p in state["ports"] if p["id"] == here["id"])
    assert listed["security_groups"] == [web["id"]] and listed["port_security_enabled"] is True
    assert listed["allowed_address_pairs"] == [{"ip_address": "10.0.0.200", "mac_address": here["mac_address"]}]
    group = next(g for g in state["security"]["groups"] if g["id"] == web["id"])
    assert group["stateful"] is True and len(group["rules"]) == 3
    members = state["security"]["remote_groups"][web["id"]]
    assert members == sorted([here["fixed_ips"][0]["ip_address"], "10.0.0.200", peer["fixed_ips"][0]["ip_address"]])


def _feed(client: Any, host: str, after: int | None = None) -> Any:
    cursor = "" if after is None else f"&after={after}"
    return client.get(f"/v2.0/floatnet/hosts/{host}/changes?timeout=0{cursor}").json()


def test_rule_changes_wake_the_networks_of_member_ports(app_client: Any) -> None:
    net = _net(app_client, ALICE)
    web = _group(app_client, ALICE, "web")
    port(app_client, net, project("alice", admin=True), security_groups=[web["id"]], **{"binding:host_id": "node1"})
    after = _feed(app_client, "node1")["seq"]
    rule = {"security_group_id": web["id"], "direction": "ingress", "protocol": "icmp"}
    created = app_client.post("/v2.0/security-group-rules", json={"security_group_rule": rule}, headers=ALICE)
    app_client.delete(f"/v2.0/security-group-rules/{created.json()['security_group_rule']['id']}", headers=ALICE)
    feed = _feed(app_client, "node1", after)["changes"]
    assert [(c["kind"], c["op"], c["network_id"]) for c in feed] == [
        ("security_group_rule", "create", net),
        ("security_group_rule", "delete", net),
    ]
    assert _feed(app_client, "node2", after)["changes"] == []  # no port of node2 is in the group (issue 16)


def test_port_joining_or_leaving_a_group_logs_its_member_change(app_client: Any) -> None:
    admin = project("alice", admin=True)
    net, other = _net(app_client, admin), network(app_client, admin, name="other")["id"]
    subnet(app_client, other, "10.1.0.0/24", admin)
    web = _group(app_client, admin, "web")
    rule = {"security_group_id": web["id"], "direction": "ingress", "remote_group_id": web["id"]}
    app_client.post("/v2.0/security-group-rules", json={"security_group_rule": rule}, headers=admin)
    # a member of web on another network, on node1: its rules admit web's members
    port(app_client, other, admin, security_groups=[web["id"]], **{"binding:host_id": "node1"})
    after = _feed(app_client, "node1")["seq"]
    joined = port(app_client, net, admin, security_groups=[web["id"]], **{"binding:host_id": "node2"})
    app_client.delete(f"/v2.0/ports/{joined['id']}", headers=admin)
    feed = _feed(app_client, "node2", after)["changes"]
    woken = {(c["op"], c["network_id"]) for c in feed if c["id"] == joined["id"]}
    assert woken == {("create", net), ("delete", net)}  # its host, told of its delete too
    feed = _feed(app_client, "node1", after)["changes"]
    members_moved = [(c["kind"], c["op"], c["network_id"]) for c in feed if c["id"] == web["id"]]
    assert members_moved == [("security_group", "update", None)] * 2  # joined, then left


def _first_list(url: str, project_id: str) -> httpx.Response:
    with httpx.Client(base_url=url, timeout=60, headers=project(project_id)) as client:
        return client.get("/v2.0/security-groups")


def test_concurrent_first_requests_create_exactly_one_default_group(live_server: str) -> None:
    with ThreadPoolExecutor(max_workers=12) as pool:
        responses = list(pool.map(lambda _: _first_list(live_server, "racer"), range(12)))
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    ids = {g["id"] for r in responses for g in r.json()["security_groups"]}
    assert len(ids) == 1
    admin = httpx.get(f"{live_server}/v2.0/security-groups?project_id=racer&name=default", timeout=60).json()
    assert len(admin["security_groups"]) == 1
