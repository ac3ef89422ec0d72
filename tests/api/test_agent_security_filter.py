"""The host state's security filters (``security_group_id`` / ``security_group_rule_id``): a rule change is
refetched by the agent as its group's rules alone — only the ``security`` section of the asked groups, with
the members of the remote groups their rules name and ``absent.security_groups`` for the gone ones."""

from __future__ import annotations

from typing import Any

from tests.api.helpers import network, port, project, subnet

ADMIN = project("alice", admin=True)  # binding:host_id is the admin's to set
GONE = "6a1f0c8e-8a42-4f3e-9d0e-3cbd8e9b5f00"


def _state(client: Any, **params: Any) -> dict[str, Any]:
    response = client.get("/v2.0/floatnet/hosts/node1/state", params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _create(client: Any, resource: str, **attrs: Any) -> dict[str, Any]:
    path = resource.replace("_", "-") + "s"
    response = client.post(f"/v2.0/{path}", json={resource: attrs}, headers=ADMIN)
    assert response.status_code == 201, response.text
    return dict(response.json()[resource])


def _world(client: Any) -> dict[str, Any]:
    """Group ``web`` (one port on node1, a rule admitting ``peers``), ``peers`` (one port on node2), ``idle``."""
    net = network(client, ADMIN, name="n")["id"]
    subnet(client, net, "10.0.0.0/24", ADMIN)
    web, peers, idle = (_create(client, "security_group", name=n) for n in ("web", "peers", "idle"))
    rule = _create(client, "security_group_rule", security_group_id=web["id"], direction="ingress", protocol="tcp",
                   remote_group_id=peers["id"])  # fmt: skip
    here = port(client, net, ADMIN, security_groups=[web["id"]], **{"binding:host_id": "node1"})
    peer = port(client, net, ADMIN, security_groups=[peers["id"]], **{"binding:host_id": "node2"})
    return {"net": net, "web": web, "peers": peers, "idle": idle, "rule": rule, "here": here, "peer": peer}


def test_group_filter_answers_only_the_asked_groups(app_client: Any) -> None:
    w = _world(app_client)
    doc = _state(app_client, security_group_id=[w["web"]["id"], w["idle"]["id"]])
    assert doc["complete"] is False
    assert (doc["ports"], doc["networks"], doc["routers"]) == ([], [], [])
    assert sorted(g["id"] for g in doc["security"]["groups"]) == sorted([w["web"]["id"], w["idle"]["id"]])
    web = next(g for g in doc["security"]["groups"] if g["id"] == w["web"]["id"])
    assert w["rule"]["id"] in {r["id"] for r in web["rules"]}
    assert doc["security"]["remote_groups"] == {w["peers"]["id"]: [w["peer"]["fixed_ips"][0]["ip_address"]]}
    assert doc["absent"]["security_groups"] == []


def test_rule_filter_answers_the_rules_group(app_client: Any) -> None:
    w = _world(app_client)
    doc = _state(app_client, security_group_rule_id=w["rule"]["id"])
    assert [g["id"] for g in doc["security"]["groups"]] == [w["web"]["id"]]
    assert doc["ports"] == [] and doc["absent"]["security_groups"] == []
    assert _state(app_client, security_group_rule_id=GONE)["security"]["groups"] == []


def test_gone_group_is_absent(app_client: Any) -> None:
    w = _world(app_client)
    assert app_client.delete(f"/v2.0/security-groups/{w['idle']['id']}", headers=ADMIN).status_code == 204
    doc = _state(app_client, security_group_id=[w["idle"]["id"], GONE, w["peers"]["id"]])
    assert [g["id"] for g in doc["security"]["groups"]] == [w["peers"]["id"]]
    assert doc["absent"]["security_groups"] == sorted([w["idle"]["id"], GONE])


def test_group_filter_with_a_network_adds_the_groups_to_its_ports(app_client: Any) -> None:
    w = _world(app_client)
    doc = _state(app_client, network_id=w["net"], security_group_id=w["idle"]["id"])
    assert [p["id"] for p in doc["ports"]] == [w["here"]["id"]]
    assert sorted(g["id"] for g in doc["security"]["groups"]) == sorted([w["web"]["id"], w["idle"]["id"]])
    assert "security_groups" not in _state(app_client, network_id=w["net"])["absent"]
