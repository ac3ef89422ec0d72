"""Fifty clients race for a twenty-address pool on a real server: twenty win, no duplicate address."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.api.l3_world import build, ok

CLIENTS = 50
POOL = ("203.0.113.100", "203.0.113.119")


def test_concurrent_creates_on_a_small_pool(live_server: str) -> None:
    with httpx.Client(base_url=live_server, timeout=60) as client:
        world = build(client, pool=POOL)
        body = {"floatingip": {"floating_network_id": world.ext_net}}

        def create(_: int) -> httpx.Response:
            with httpx.Client(base_url=live_server, timeout=60) as own:
                return own.post("/v2.0/floatingips", json=body)

        with ThreadPoolExecutor(CLIENTS) as pool:
            responses = list(pool.map(create, range(CLIENTS)))
        created = [r.json()["floatingip"] for r in responses if r.status_code == 201]
        refused = [r.json()["NeutronError"] for r in responses if r.status_code == 409]
        assert len(created) == 20 and len(refused) == 30, [r.status_code for r in responses]
        assert {e["type"] for e in refused} == {"IpAddressGenerationFailure"}
        addresses = [f["floating_ip_address"] for f in created]
        assert len(set(addresses)) == 20
        listed = ok(client.get("/v2.0/floatingips"))["floatingips"]
        assert sorted(f["floating_ip_address"] for f in listed) == sorted(addresses)
        ports = ok(client.get("/v2.0/ports", params={"device_owner": "network:floatingip"}))["ports"]
        assert len(ports) == 20
