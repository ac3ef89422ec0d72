"""Floating IPs created concurrently through two servers on one PostgreSQL database (issue 16's multi-server
setup): every create succeeds, each with its own address — none refused with ``TooManyConflicts`` because the
two servers kept picking the same free address."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from tests.api.l3_world import build
from tests.api.test_postgres import pg_ini

CREATES = 240
CLIENTS = 48


def test_concurrent_floating_ips_through_two_servers(
    postgres_url: str, live_server_factory: Any, tmp_path: Path
) -> None:
    urls = [live_server_factory(pg_ini(postgres_url)) for _ in range(2)]
    with httpx.Client(base_url=urls[0], timeout=60) as client:
        world = build(client, pool=("203.0.113.10", "203.0.113.250"))
        quota = client.put("/v2.0/quotas/admin", json={"quota": {"floatingip": -1, "port": -1}})
        assert quota.status_code == 200, quota.text
    body = {"floatingip": {"floating_network_id": world.ext_net}}

    def create(index: int) -> httpx.Response:
        with httpx.Client(base_url=urls[index % 2], timeout=60) as own:
            return own.post("/v2.0/floatingips", json=body)

    with ThreadPoolExecutor(CLIENTS) as pool:
        responses = list(pool.map(create, range(CREATES)))
    refused = [r.text for r in responses if r.status_code != 201]
    logs = "".join(log.read_text() for log in tmp_path.rglob("server-*.log"))
    assert not refused, (refused[:3], logs[-2000:])
    addresses = [r.json()["floatingip"]["floating_ip_address"] for r in responses]
    assert len(set(addresses)) == CREATES
