"""Port forwardings through a real listening server (issue 17): every hostile request the issue names, and the
unchanged ``openstack floating ip port forwarding create/list/show/set/delete``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api import l3_world
from tests.api.helpers import assert_error
from tests.api.l3_world import World, ok
from tests.api.openstack_clients import openstack_cli

PF = "/v2.0/floatingips/{}/port_forwardings"
VERB = ("floating", "ip", "port", "forwarding")


@pytest.fixture(scope="module")
def world(live_server: str) -> Iterator[World]:
    with httpx.Client(base_url=live_server, timeout=60) as client:
        built = l3_world.build(client)
        built.router()
        yield built


def _body(port: dict[str, Any], **attrs: Any) -> dict[str, Any]:
    return {"port_forwarding": {"internal_port_id": port["id"], "protocol": "tcp",
                                "internal_ip_address": port["fixed_ips"][0]["ip_address"], **attrs}}  # fmt: skip


@pytest.mark.parametrize(
    ("attrs", "kind", "names"),
    [
        ({"protocol": "icmp", "external_port": 1, "internal_port": 1}, "HTTPBadRequest", "protocol"),
        ({"external_port": 0, "internal_port": 1}, "HTTPBadRequest", "external_port"),
        ({"external_port": 1, "internal_port": 99999}, "HTTPBadRequest", "internal_port"),
        ({"external_port": True, "internal_port": 1}, "HTTPBadRequest", "external_port"),
        ({"external_port_range": "5:1", "internal_port": 1}, "HTTPBadRequest", "external_port_range"),
        ({"external_port_range": "1:2:3", "internal_port": 1}, "HTTPBadRequest", "external_port_range"),
        ({"external_port_range": "1:10", "internal_port_range": "1:2"}, "BadRequest", "N-N or 1-N"),
        ({"external_port": 1, "internal_port": 1, "internal_ip_address": "300.1.1.1"}, "HTTPBadRequest",
         "internal_ip_address"),
        ({"external_port": 1, "internal_port": 1, "internal_port_id": 7}, "HTTPBadRequest", "internal_port_id"),
        ({"external_port": 1, "internal_port": 1, "id": "x"}, "HTTPBadRequest", "id"),
    ],
)  # fmt: skip
def test_hostile_bodies_are_400_naming_the_attribute(world: World, attrs: dict[str, Any], kind: str,
                                                      names: str) -> None:  # fmt: skip
    fip, vm = world.fip(), world.port()
    assert_error(world.client.post(PF.format(fip["id"]), json=_body(vm, **attrs)), 400, kind, names)


def test_hostile_envelopes_and_paths(world: World) -> None:
    fip = world.fip()
    url = PF.format(fip["id"])
    for raw in (b"{", b"[]", b'{"port_forwarding": 5}', b'{"port_forwardings": {}}'):
        answer = world.client.post(url, content=raw, headers={"Content-Type": "application/json"})
        assert answer.status_code == 400, answer.text
    assert_error(world.client.get(PF.format("not-a-uuid")), 404, "FloatingIPNotFound")
    assert_error(world.client.get(url + "/not-a-uuid"), 404, "PortForwardingNotFound")
    assert_error(world.client.get(url, params={"internal_ip_address": "10.0.0.5"}), 400,
                 "PortForwardingNotSupportFilterField")  # fmt: skip


def test_conflicts_both_ways_and_overlaps(world: World) -> None:
    fip, vm1, vm2 = world.fip(), world.port(), world.port()
    ok(world.client.post(PF.format(fip["id"]), json=_body(vm1, external_port_range="100:199", internal_port=80)), 201)
    overlap = world.client.post(PF.format(fip["id"]), json=_body(vm2, external_port=150, internal_port=80))
    assert_error(overlap, 409, "PortForwardingCollision", "100:199")
    assert_error(world.associate(fip["id"], vm2["id"]), 409, "FipInUseByPortForwarding")
    bound = world.fip()
    ok(world.associate(bound["id"], vm2["id"]))
    taken = world.client.post(PF.format(bound["id"]), json=_body(vm1, external_port=1, internal_port=1))
    assert_error(taken, 409, "FloatingIPPortAlreadyAssociated")


def test_foreign_projects_are_refused(world: World) -> None:
    fip, vm = world.fip(project_id="pf-owner"), world.port(project_id="pf-owner")
    created = world.client.post(PF.format(fip["id"]), json=_body(vm, external_port=22, internal_port=22))
    pf_id = ok(created, 201)["port_forwarding"]["id"]
    stranger = {"X-Project-Id": "pf-stranger", "X-Roles": "member"}
    url = PF.format(fip["id"]) + f"/{pf_id}"
    assert_error(world.client.get(url, headers=stranger), 404, "FloatingIPNotFound")
    assert_error(world.client.delete(url, headers=stranger), 404, "FloatingIPNotFound")
    body = {"port_forwarding": {"external_port": 23}}
    assert_error(world.client.put(url, json=body, headers=stranger), 404, "FloatingIPNotFound")
    reader = {"X-Project-Id": "pf-owner", "X-Roles": "reader"}
    assert_error(world.client.put(url, json=body, headers=reader), 403, "PolicyNotAuthorized")
    assert_error(world.client.delete(url, headers=reader), 403, "PolicyNotAuthorized")


def test_openstack_cli_port_forwarding_verbs(world: World, live_server: str) -> None:
    fip, vm = world.fip(), world.port()
    address = vm["fixed_ips"][0]["ip_address"]
    created = openstack_cli(live_server, *VERB, "create", "--internal-ip-address", address,
                            "--port", vm["id"], "--internal-protocol-port", "22", "--external-protocol-port", "2222",
                            "--protocol", "tcp", "--description", "ssh", fip["id"], "-f", "json")  # fmt: skip
    assert created["external_port"] == 2222 and created["internal_port"] == 22 and created["description"] == "ssh"
    listed = openstack_cli(live_server, *VERB, "list", fip["id"], "-f", "json")
    assert [row["ID"] for row in listed] == [created["id"]]
    openstack_cli(live_server, *VERB, "set", "--external-protocol-port", "2223", fip["id"],
                  created["id"])  # fmt: skip
    shown = openstack_cli(live_server, *VERB, "show", fip["id"], created["id"], "-f", "json")
    assert shown["external_port"] == 2223
    openstack_cli(live_server, *VERB, "delete", fip["id"], created["id"])
    assert ok(world.client.get(PF.format(fip["id"])))["port_forwardings"] == []


def test_floatnet_cli_port_forwarding_verbs(world: World, cli: Any) -> None:
    fip, vm = world.fip(), world.port()
    address = vm["fixed_ips"][0]["ip_address"]
    created = json.loads(cli(f"floatingip-port-forwarding-create {fip['floating_ip_address']} --port {vm['id']} "
                             f"--internal-ip-address {address} --internal-protocol-port 8000:8009 "
                             "--external-protocol-port 9000:9009 --protocol udp -f json"))  # fmt: skip
    assert created["external_port_range"] == "9000:9009" and created["internal_port"] is None
    listed = json.loads(cli(f"floatingip-port-forwarding-list {fip['id']} -f json"))
    assert [row["id"] for row in listed] == [created["id"]]
    cli(f"floatingip-port-forwarding-update {fip['id']} {created['id']} --description games")
    shown = json.loads(cli(f"floatingip-port-forwarding-show {fip['id']} {created['id']} -f json"))
    assert shown["description"] == "games"
    clash = cli(f"floatingip-port-forwarding-create {fip['id']} --port {vm['id']} --internal-ip-address {address} "
                "--internal-protocol-port 22 --external-protocol-port 9005 --protocol udp", expect=1)  # fmt: skip
    assert "port collision" in clash
    assert "Deleted port forwarding" in cli(f"floatingip-port-forwarding-delete {fip['id']} {created['id']}")
