"""Host state narrowed to floating IPs (``state?router_id=R&floatingip_id=F``): what the agent refetches per
floating-IP change, independent of the router's size."""

from __future__ import annotations

from typing import Any

from tests.api.l3_world import build
from tests.api.test_agents import register, state


def test_floatingip_filter_lists_only_those_and_marks_the_router(app_client: Any) -> None:
    world = build(app_client)
    register(app_client, "node1")
    router = world.router()
    fips = []
    for _ in range(3):
        fip = world.fip()
        world.associate(fip["id"], world.port()["id"])
        fips.append(fip["id"])
    full = state(app_client, "node1", router_id=router)["routers"][0]
    assert sorted(f["id"] for f in full["floatingips"]) == sorted(fips) and "floatingips_partial" not in full
    narrowed = state(app_client, "node1", router_id=router, floatingip_id=fips[1])
    assert narrowed["complete"] is False and narrowed["networks"] == []
    [only] = narrowed["routers"]
    assert only["floatingips_partial"] is True and [f["id"] for f in only["floatingips"]] == [fips[1]]
    assert only["gateway"] == full["gateway"] and only["interfaces"] == full["interfaces"]
    world.associate(fips[1], None)
    gone = state(app_client, "node1", router_id=router, floatingip_id=fips[1])["routers"][0]
    assert gone["floatingips"] == [] and gone["floatingips_partial"] is True
