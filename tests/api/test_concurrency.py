"""IPAM under concurrency against a real server: distinct addresses, clean 409s, reuse after delete."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx


def _create_port(url: str, network_id: str) -> httpx.Response:
    with httpx.Client(base_url=url, timeout=60) as client:
        return client.post("/v2.0/ports", json={"port": {"network_id": network_id}})


def test_fifty_concurrent_port_creates_on_a_slash_27(live_server: str) -> None:
    client = httpx.Client(base_url=live_server, timeout=60)
    net = client.post("/v2.0/networks", json={"network": {"name": "race"}}).json()["network"]
    body = {"network_id": net["id"], "cidr": "10.20.0.0/27", "ip_version": 4, "enable_dhcp": False}
    assert client.post("/v2.0/subnets", json={"subnet": body}).status_code == 201
    with ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(pool.map(lambda _: _create_port(live_server, net["id"]), range(50)))
    created = [r.json()["port"] for r in responses if r.status_code == 201]
    refused = [r for r in responses if r.status_code != 201]
    addresses = [p["fixed_ips"][0]["ip_address"] for p in created]
    assert len(created) == 29 and len(set(addresses)) == 29
    assert set(addresses) == {f"10.20.0.{i}" for i in range(2, 31)}
    assert len(refused) == 21
    for response in refused:
        assert response.status_code == 409
        assert response.json()["NeutronError"]["type"] == "IpAddressGenerationFailure"
    freed = created[:5]
    for port in freed:
        assert client.delete(f"/v2.0/ports/{port['id']}").status_code == 204
    with ThreadPoolExecutor(max_workers=10) as pool:
        again = list(pool.map(lambda _: _create_port(live_server, net["id"]), range(10)))
    reused = sorted(r.json()["port"]["fixed_ips"][0]["ip_address"] for r in again if r.status_code == 201)
    assert reused == sorted(p["fixed_ips"][0]["ip_address"] for p in freed)
    assert [r.status_code for r in again].count(409) == 5
    listed = client.get("/v2.0/ports", params={"network_id": net["id"]}).json()["ports"]
    assert len({p["fixed_ips"][0]["ip_address"] for p in listed}) == len(listed) == 29
    client.close()
