"""floatnet's own subnet pool and address scope verbs against a real server (as the noauth admin), and
``subnet-create --subnetpool POOL --prefixlen N``."""

from __future__ import annotations

from tests.api.helpers import Cli, as_json
from tests.api.test_cli_seed import by_column


def test_subnetpool_and_address_scope_verbs(cli: Cli) -> None:
    scope = as_json(cli, "address-scope-create cli-scope 4")
    assert (scope["name"], scope["ip_version"], scope["shared"]) == ("cli-scope", 4, False)
    pool = as_json(
        cli, "subnetpool-create --pool-prefix 10.150.0.0/24 --default-prefixlen 26 --address-scope cli-scope cli-pool"
    )
    assert (pool["prefixes"], pool["default_prefixlen"], pool["address_scope_id"]) == (
        ["10.150.0.0/24"], 26, scope["id"])  # fmt: skip
    assert "cli-pool" in {row["name"] for row in by_column(cli("subnetpool-list"))}
    assert cli("subnetpool-update cli-pool --pool-prefix 10.150.1.0/24").strip() == "Updated subnetpool: cli-pool"
    assert as_json(cli, "subnetpool-show cli-pool")["prefixes"] == ["10.150.0.0/23"]
    cli("net-create cli-pool-net")
    sub = as_json(cli, "subnet-create --subnetpool cli-pool --prefixlen 27 cli-pool-net")
    assert (sub["cidr"], sub["subnetpool_id"]) == ("10.150.0.0/27", pool["id"])
    assert as_json(cli, "net-show cli-pool-net")["ipv4_address_scope"] == scope["id"]
    err = cli("subnetpool-delete cli-pool", expect=1)
    assert "Subnet pool has existing allocations" in err
    err = cli("address-scope-delete cli-scope", expect=1)
    assert "subnet pools in use" in err
    cli(f"subnet-delete {sub['id']}")
    assert cli("subnetpool-delete cli-pool").strip() == "Deleted subnetpool: cli-pool"
    assert cli("address-scope-update cli-scope --name renamed").strip() == "Updated address_scope: cli-scope"
    assert "renamed" in {row["name"] for row in by_column(cli("address-scope-list"))}
    assert cli("address-scope-delete renamed").strip() == "Deleted address_scope: renamed"
