"""Availability zones (issue 21: ``availability_zone``, ``network_availability_zone``): zones from the agents'
reports, a network's ``availability_zone_hints`` validated against them and its ``availability_zones`` from the
DHCP agent hosting it; the ``[agent] availability_zone`` option and what the agent reports."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from floatnet import config
from floatnet.agent.client import Client
from tests.api.helpers import ADMIN, assert_error, network, project, subnet
from tests.api.openstack_clients import noauth_sdk
from tests.api.openstack_clients import openstack_cli as cli

MEMBER = project("alice")


def report(client: Any, host: str, agent_type: str, zone: str | None) -> dict[str, Any]:
    agent = {"host": host, "agent_type": agent_type, **({"availability_zone": zone} if zone else {})}
    response = client.post("/v2.0/floatnet/agents", json={"agent": agent})
    assert response.status_code in (200, 201), response.text
    return dict(response.json()["agent"])


def _zones(client: Any, query: str = "", headers: dict[str, str] | None = None) -> list[tuple[str, str, str]]:
    response = client.get(f"/v2.0/availability_zones{query}", headers=headers or ADMIN)
    assert response.status_code == 200, response.text
    return [(z["name"], z["resource"], z["state"]) for z in response.json()["availability_zones"]]


def test_zones_come_from_the_agents(app_client: Any) -> None:
    assert _zones(app_client) == []
    report(app_client, "h1", "L3 agent", "nova")
    report(app_client, "h1", "DHCP agent", "nova")
    report(app_client, "h1", "Open vSwitch agent", None)
    dhcp2 = report(app_client, "h2", "DHCP agent", "az2")
    assert _zones(app_client) == [("az2", "network", "available"), ("nova", "network", "available"),
                                  ("nova", "router", "available")]  # fmt: skip
    app_client.put(f"/v2.0/agents/{dhcp2['id']}", json={"agent": {"admin_state_up": False}})
    assert _zones(app_client, "?state=unavailable", MEMBER) == [("az2", "network", "unavailable")]
    assert _zones(app_client, "?resource=router&name=nova") == [("nova", "router", "available")]
    reader = {"X-Project-Id": "alice", "X-Roles": "reader"}
    assert len(_zones(app_client, headers=reader)) == 3
    assert_error(app_client.get("/v2.0/availability_zones?colour=x"), 400, "HTTPBadRequest", "colour")
    aliases = {e["alias"] for e in app_client.get("/v2.0/extensions").json()["extensions"]}
    assert {"availability_zone", "network_availability_zone"} <= aliases


def test_network_hints_and_zones(app_client: Any) -> None:
    assert_error(app_client.post("/v2.0/networks", json={"network": {"availability_zone_hints": ["nova"]}}), 404,
                 "AvailabilityZoneNotFound", "nova")  # fmt: skip
    report(app_client, "h1", "DHCP agent", "nova")
    report(app_client, "h1", "L3 agent", "rz")
    created = network(app_client, MEMBER, availability_zone_hints=["nova"])
    assert created["availability_zone_hints"] == ["nova"] and created["availability_zones"] == []
    subnet(app_client, created["id"], "10.62.0.0/24", MEMBER)
    shown = app_client.get(f"/v2.0/networks/{created['id']}", headers=MEMBER).json()["network"]
    assert shown["availability_zones"] == ["nova"]  # the zone of the DHCP agent hosting it
    listed = app_client.get("/v2.0/networks", headers=MEMBER).json()["networks"]
    assert [n["availability_zones"] for n in listed] == [["nova"]]
    for hints, status, kind, text in (
        (["rz"], 404, "AvailabilityZoneNotFound", "rz"),  # a router zone, not a network one
        (["x" * 200, "y" * 60], 400, "InvalidInput", "Too many availability_zone_hints"),
        ("nova", 400, "HTTPBadRequest", "availability_zone_hints"),
        ([7], 400, "HTTPBadRequest", "availability_zone_hints"),
        (["x" * 256], 400, "InvalidInput", "Too many availability_zone_hints"),  # Neutron: joined length
    ):
        body = {"network": {"availability_zone_hints": hints}}
        assert_error(app_client.post("/v2.0/networks", json=body, headers=MEMBER), status, kind, text)
    update = {"network": {"availability_zone_hints": ["nova"]}}
    assert_error(app_client.put(f"/v2.0/networks/{created['id']}", json=update, headers=MEMBER), 400,
                 "HTTPBadRequest", "availability_zone_hints")  # fmt: skip


def test_zone_option_and_the_agents_report(tmp_path: Path) -> None:
    assert config.load(None).availability_zone == "nova"
    ini = tmp_path / "f.ini"
    ini.write_text("[agent]\navailability_zone = rack-7\n")
    assert config.load(ini).availability_zone == "rack-7"
    ini.write_text("[agent]\navailability_zone = " + "z" * 256 + "\n")
    with pytest.raises(config.ConfigError, match="availability_zone"):
        config.load(ini)
    sent: list[dict[str, Any]] = []
    client = Client("http://127.0.0.1:1", "h1", zone="rack-7")
    client._call = lambda method, path, body: sent.extend(body["agents"])  # type: ignore[method-assign,assignment,misc]
    client.register({})
    client.close()
    assert {a["agent_type"]: a.get("availability_zone") for a in sent} == {
        "Open vSwitch agent": None, "L3 agent": "rack-7", "DHCP agent": "rack-7",
    }  # fmt: skip


def test_zones_with_the_clients_live(api: Any, live_server: str) -> None:
    report(api, "live-z", "DHCP agent", "nova")
    report(api, "live-z", "L3 agent", "nova")
    assert_error(api.get("/v2.0/availability_zones?state=maybe&colour=1"), 400, "HTTPBadRequest", "colour")
    body = {"network": {"availability_zone_hints": ["nowhere"]}}
    assert_error(api.post("/v2.0/networks", json=body, headers=MEMBER), 404, "AvailabilityZoneNotFound")
    assert_error(api.post("/v2.0/networks", json={"network": {"availability_zone_hints": {"a": 1}}}), 400,
                 "HTTPBadRequest", "availability_zone_hints")  # fmt: skip
    with noauth_sdk(live_server) as sdk:
        found = {(z.name, z.resource, z.state) for z in sdk.network.availability_zones()}
        assert {("nova", "network", "available"), ("nova", "router", "available")} <= found
        net = sdk.network.create_network(name="az-net", availability_zone_hints=["nova"])
        assert net.availability_zone_hints == ["nova"]
    listed = cli(live_server, "availability", "zone", "list", "--network", "-f", "json")
    assert {"Zone Name": "nova", "Zone Status": "available"}.items() <= listed[0].items()
    made = cli(live_server, "network", "create", "--availability-zone-hint", "nova", "az-cli", "-f", "json")
    assert made["availability_zone_hints"] in (["nova"], "nova")
