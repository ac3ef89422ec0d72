"""The same control plane on PostgreSQL: schema, semantics, and race-free allocation under concurrency."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from floatnet.db.migrate import upgrade
from floatnet.db.models import Base
from floatnet.db.session import Database
from tests.api.helpers import assert_error, network, port, subnet
from tests.api.migration_checks import check_dhcp_bindings_migration, check_provisioning_blocks_migration
from tests.api.test_provisioning_blocks import changed, cloud
from tests.conftest import DEFAULT_INI


def pg_ini(url: str) -> str:
    return DEFAULT_INI + f"\n[database]\nconnection = {url}\n"


def test_migrations_on_postgres(postgres_url: str) -> None:
    db = Database(postgres_url)
    upgrade(db.engine)
    with db.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    db.dispose()


@contextmanager
def _fresh_database(postgres_url: str, name: str) -> Iterator[Database]:
    """A new, empty database ``name`` on the test cluster (a migration test starts from nothing, not from head)."""
    admin = Database(postgres_url.rsplit("/", 1)[0] + "/postgres")
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    db = Database(postgres_url.rsplit("/", 1)[0] + f"/{name}")
    try:
        yield db
    finally:
        db.dispose()


def test_dhcp_bindings_migration_on_postgres(postgres_url: str) -> None:
    with _fresh_database(postgres_url, "floatnet_dhcp_migration") as db:
        check_dhcp_bindings_migration(db.engine)


def test_provisioning_blocks_migration_on_postgres(postgres_url: str) -> None:
    with _fresh_database(postgres_url, "floatnet_blocks_migration") as db:
        check_provisioning_blocks_migration(db.engine)


def test_resources_on_postgres(postgres_url: str, make_app_client: Any) -> None:
    client = make_app_client(pg_ini(postgres_url))
    net = network(client, name="pg", tags=["t"])
    sub = subnet(client, net["id"], "10.40.0.0/24")
    vm = port(client, net["id"], **{"binding:host_id": "node1"})
    assert vm["fixed_ips"] == [{"subnet_id": sub["id"], "ip_address": "10.40.0.3"}]
    assert vm["binding:vif_details"]["bridge_name"] == "br-eth1" and vm["created_at"].endswith("Z")
    listed = client.get("/v2.0/ports", params={"network_id": net["id"]}).json()["ports"]
    assert {p["device_owner"] for p in listed} == {"network:dhcp", ""}
    assert client.get("/v2.0/networks?tags=t").json()["networks"][0]["id"] == net["id"]
    assert_error(client.delete(f"/v2.0/networks/{net['id']}"), 409, "NetworkInUse")
    taken = {"port": {"network_id": net["id"], "fixed_ips": [{"ip_address": "10.40.0.3"}]}}
    assert_error(client.post("/v2.0/ports", json=taken), 409, "IpAddressAlreadyAllocated")
    client.delete(f"/v2.0/ports/{vm['id']}")
    assert client.delete(f"/v2.0/networks/{net['id']}").status_code == 204


def test_concurrency_on_postgres(postgres_url: str, live_server_factory: Any) -> None:
    url = live_server_factory(pg_ini(postgres_url))
    client = httpx.Client(base_url=url, timeout=60)

    def create(path: str, body: dict[str, Any]) -> httpx.Response:
        with httpx.Client(base_url=url, timeout=60) as own:
            return own.post(path, json=body)

    with ThreadPoolExecutor(max_workers=20) as pool:
        nets = list(pool.map(lambda _: create("/v2.0/networks", {"network": {}}), range(20)))
    assert all(r.status_code == 201 for r in nets), [r.text for r in nets if r.status_code != 201]
    vlans = [r.json()["network"]["provider:segmentation_id"] for r in nets]
    assert len(set(vlans)) == 20
    net = nets[0].json()["network"]
    body = {"network_id": net["id"], "cidr": "10.41.0.0/27", "ip_version": 4, "enable_dhcp": False}
    assert client.post("/v2.0/subnets", json={"subnet": body}).status_code == 201
    with ThreadPoolExecutor(max_workers=50) as pool:
        ports = list(pool.map(lambda _: create("/v2.0/ports", {"port": {"network_id": net["id"]}}), range(50)))
    created = [r.json()["port"]["fixed_ips"][0]["ip_address"] for r in ports if r.status_code == 201]
    assert len(created) == len(set(created)) == 29
    refused = [r.json()["NeutronError"]["type"] for r in ports if r.status_code != 201]
    assert refused == ["IpAddressGenerationFailure"] * 21
    client.close()


def test_provisioning_blocks_on_postgres(postgres_url: str, make_app_client: Any) -> None:
    """The blocks' writes (Core INSERT/DELETE, the port's status) on PostgreSQL: L2 first, then DHCP."""
    client = make_app_client(pg_ini(postgres_url))
    _, vm = cloud(client, "10.41.0.0/24")
    assert changed(client, "cmp1", {"ports": {vm["id"]: "ACTIVE"}}) == {"ports": 0}
    assert changed(client, "net1", {"dhcp_ready": [vm["id"]]}) == {"dhcp_ready": 1}
    assert client.get(f"/v2.0/ports/{vm['id']}").json()["port"]["status"] == "ACTIVE"
    assert client.delete(f"/v2.0/ports/{vm['id']}").status_code == 204
