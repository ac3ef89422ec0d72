"""Floating IP port forwardings through the in-process app (issue 17): Neutron's attributes, ranges, errors,
the 409s both ways with floating IP association, collisions, policy, the extensions and the floating IP's
``port_forwardings``. The hostile requests again through a live server: tests/api/test_port_forwardings_live.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event

from floatnet.core.agent_protocol import router_slice
from tests.api import l3_world
from tests.api.helpers import assert_error, project
from tests.api.l3_world import World, ok

PF = "/v2.0/floatingips/{}/port_forwardings"


@pytest.fixture
def world(app_client: Any) -> World:
    built = l3_world.build(app_client)
    built.router()
    return built


def _pf(world: World, fip_id: str, port: dict[str, Any], **attrs: Any) -> Any:
    body = {"internal_port_id": port["id"], "internal_ip_address": port["fixed_ips"][0]["ip_address"],
            "protocol": "tcp", **attrs}  # fmt: skip
    return world.client.post(PF.format(fip_id), json={"port_forwarding": body})


def test_create_show_list_update_delete(world: World) -> None:
    fip, vm = world.fip(), world.port()
    created = ok(_pf(world, fip["id"], vm, external_port=2222, internal_port=22, description="ssh"), 201)
    pf = created["port_forwarding"]
    assert pf["external_port"] == 2222 and pf["internal_port"] == 22 and pf["protocol"] == "tcp"
    assert pf["external_port_range"] == "2222:2222" and pf["internal_port_range"] == "22:22"
    assert pf["internal_ip_address"] == vm["fixed_ips"][0]["ip_address"] and pf["description"] == "ssh"
    assert set(pf) == {"id", "internal_port_id", "internal_ip_address", "protocol", "external_port",
                       "internal_port", "external_port_range", "internal_port_range", "description"}  # fmt: skip
    url = PF.format(fip["id"]) + f"/{pf['id']}"
    assert ok(world.client.get(url))["port_forwarding"] == pf
    assert ok(world.client.get(PF.format(fip["id"])))["port_forwardings"] == [pf]
    assert ok(world.client.get(PF.format(fip["id"]), params={"protocol": "udp"}))["port_forwardings"] == []
    shown = ok(world.client.get(f"/v2.0/floatingips/{fip['id']}"))["floatingip"]
    assert shown["router_id"] is not None and shown["port_id"] is None
    assert shown["port_forwardings"] == [{key: pf[key] for key in ("id", "internal_ip_address", "protocol",
                                          "internal_port", "external_port", "internal_port_id")}]  # fmt: skip
    updated = ok(world.client.put(url, json={"port_forwarding": {"external_port": 2223, "protocol": "udp"}}))
    assert updated["port_forwarding"]["external_port"] == 2223 and updated["port_forwarding"]["protocol"] == "udp"
    assert world.client.delete(url).status_code == 204
    assert_error(world.client.get(url), 404, "PortForwardingNotFound")
    after = ok(world.client.get(f"/v2.0/floatingips/{fip['id']}"))["floatingip"]
    assert after["router_id"] is None and after["port_forwardings"] == []  # the last one frees the floating IP


def test_ranges_n_to_n_and_n_to_1(world: World) -> None:
    fip, vm = world.fip(), world.port()
    pf = ok(_pf(world, fip["id"], vm, external_port_range="8000:8009", internal_port_range="9000:9009"), 201)
    assert pf["port_forwarding"]["external_port"] is None and pf["port_forwarding"]["internal_port"] is None
    ok(_pf(world, fip["id"], vm, external_port_range="7000:7009", internal_port=7000), 201)
    bad = _pf(world, fip["id"], vm, external_port_range="6000:6009", internal_port_range="6000:6001")
    assert_error(bad, 400, "BadRequest", "N-N or 1-N")
    assert_error(_pf(world, fip["id"], vm, external_port_range="9:1", internal_port=1), 400, "HTTPBadRequest",
                 "external_port_range")  # fmt: skip


def test_overlapping_external_ports_conflict(world: World) -> None:
    fip, vm1, vm2 = world.fip(), world.port(), world.port()
    ok(_pf(world, fip["id"], vm1, external_port_range="8000:8009", internal_port_range="8000:8009"), 201)
    clash = _pf(world, fip["id"], vm2, external_port=8005, internal_port=80)
    assert_error(clash, 409, "PortForwardingCollision", "external_port_range")
    ok(_pf(world, fip["id"], vm2, external_port=8005, internal_port=80, protocol="udp"), 201)  # other protocol
    ok(_pf(world, fip["id"], vm2, external_port=8010, internal_port=80), 201)  # two instances, one address


def test_fip_in_use_both_ways(world: World) -> None:
    fip, vm1, vm2 = world.fip(), world.port(), world.port()
    ok(_pf(world, fip["id"], vm1, external_port=22, internal_port=22), 201)
    assert_error(world.associate(fip["id"], vm2["id"]), 409, "FipInUseByPortForwarding")
    bound = world.fip()
    ok(world.associate(bound["id"], vm2["id"]))
    taken = _pf(world, bound["id"], vm1, external_port=22, internal_port=22)
    assert_error(taken, 409, "FloatingIPPortAlreadyAssociated")
    assert_error(_pf(world, fip["id"], vm2, external_port=23, internal_port=22), 409, "PortHasBindingFloatingIP")


@pytest.mark.parametrize(
    ("attrs", "status", "kind", "names"),
    [
        ({"protocol": "icmp", "external_port": 1, "internal_port": 1}, 400, "HTTPBadRequest", "protocol"),
        ({"external_port": 0, "internal_port": 1}, 400, "HTTPBadRequest", "external_port"),
        ({"external_port": 65536, "internal_port": 1}, 400, "HTTPBadRequest", "external_port"),
        ({"external_port": "x", "internal_port": 1}, 400, "HTTPBadRequest", "external_port"),
        ({"internal_port": 1}, 400, "BadRequest", "external_port"),
        ({"external_port": 1}, 400, "BadRequest", "internal_port"),
        ({"external_port": 1, "internal_port": 1, "internal_ip_address": "10.9.9.9"}, 400, "BadRequest", "10.9.9.9"),
        ({"external_port": 1, "internal_port": 1, "internal_port_id": "nope"}, 400, "HTTPBadRequest",
         "internal_port_id"),
        ({"external_port": 1, "internal_port": 1, "bogus": 1}, 400, "HTTPBadRequest", "bogus"),
        ({"external_port": 1, "external_port_range": "2:3", "internal_port": 1}, 400, "BadRequest",
         "external_port_range"),
    ],
)  # fmt: skip
def test_bad_input_names_the_attribute(world: World, attrs: dict[str, Any], status: int, kind: str,
                                       names: str) -> None:  # fmt: skip
    fip, vm = world.fip(), world.port()
    assert_error(_pf(world, fip["id"], vm, **attrs), status, kind, names)


def test_unknown_parent_and_unsupported_filter(world: World) -> None:
    assert_error(world.client.get(PF.format("5f1f5f1f-0000-4000-8000-000000000000")), 404, "FloatingIPNotFound")
    fip = world.fip()
    refused = world.client.get(PF.format(fip["id"]), params={"internal_port": "22"})
    assert_error(refused, 400, "PortForwardingNotSupportFilterField", "internal_port")


def test_policy_parent_owner(world: World) -> None:
    """Another project's member cannot see the forwardings (404); the owner's reader sees them but may not
    create (403)."""
    fip, vm = world.fip(project_id="owner"), world.port(project_id="owner")
    ok(_pf(world, fip["id"], vm, external_port=22, internal_port=22), 201)
    other = world.client.get(PF.format(fip["id"]), headers=project("other"))
    assert_error(other, 404, "FloatingIPNotFound")
    reader = {"X-Project-Id": "owner", "X-Roles": "reader"}
    assert len(ok(world.client.get(PF.format(fip["id"]), headers=reader))["port_forwardings"]) == 1
    body = {"port_forwarding": {"internal_port_id": vm["id"], "protocol": "tcp", "external_port": 23,
            "internal_port": 23, "internal_ip_address": vm["fixed_ips"][0]["ip_address"]}}  # fmt: skip
    assert_error(world.client.post(PF.format(fip["id"]), json=body, headers=reader), 403, "PolicyNotAuthorized")
    member = {"X-Project-Id": "owner", "X-Roles": "member"}
    ok(world.client.post(PF.format(fip["id"]), json=body, headers=member), 201)


def test_extensions_advertised(app_client: Any) -> None:
    aliases = {ext["alias"] for ext in ok(app_client.get("/v2.0/extensions"))["extensions"]}
    assert {"floating-ip-port-forwarding", "expose-port-forwarding-in-fip", "floating-ip-port-forwarding-description",
            "floating-ip-port-forwarding-port-ranges"} <= aliases  # fmt: skip


def test_deleting_the_floating_ip_or_the_port_deletes_its_forwardings(world: World) -> None:
    fip, vm = world.fip(), world.port()
    pf = ok(_pf(world, fip["id"], vm, external_port=22, internal_port=22), 201)["port_forwarding"]
    assert world.client.delete(f"/v2.0/ports/{vm['id']}").status_code == 204
    assert ok(world.client.get(PF.format(fip["id"])))["port_forwardings"] == []
    assert_error(world.client.get(PF.format(fip["id"]) + f"/{pf['id']}"), 404, "PortForwardingNotFound")
    assert ok(world.client.get(f"/v2.0/floatingips/{fip['id']}"))["floatingip"]["router_id"] is None
    vm2 = world.port()
    ok(_pf(world, fip["id"], vm2, external_port=22, internal_port=22), 201)
    assert world.client.delete(f"/v2.0/floatingips/{fip['id']}").status_code == 204


def test_router_slice_carries_forwardings_through_indexes(world: World, app_client: Any) -> None:
    """The agent's router slice lists a floating IP with forwardings (no fixed IP) and its forwardings as
    ranges, reading them through indexes only."""
    fip, vm = world.fip(), world.port()
    ok(_pf(world, fip["id"], vm, external_port_range="8000:8009", internal_port=80, protocol="udp"), 201)
    router_id = ok(world.client.get(f"/v2.0/floatingips/{fip['id']}"))["floatingip"]["router_id"]
    core = app_client.app.state.core
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        captured.append((statement, parameters))

    event.listen(core.db.engine, "before_cursor_execute", capture)
    try:
        [router] = core.db.run(lambda s: router_slice.load(s, core.config, [router_id]), write=False)
    finally:
        event.remove(core.db.engine, "before_cursor_execute", capture)
    [entry] = router["floatingips"]
    [pf] = entry["port_forwardings"]
    assert entry["fixed_ip_address"] is None and pf["protocol"] == "udp"
    assert (pf["external_port_range"], pf["internal_port_range"]) == ("8000:8009", "80:80")
    assert pf["internal_ip_address"] == vm["fixed_ips"][0]["ip_address"]
    with core.db.engine.connect() as conn:
        for sql, params in captured:
            plan = [row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params).all()]
            assert not [step for step in plan if step.startswith("SCAN") and "USING" not in step], (sql, plan)
