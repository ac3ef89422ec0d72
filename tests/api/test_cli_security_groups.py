"""floatnet's own security group verbs against a real server (as the noauth admin), in the seed's
table style, and the port options that use groups."""

from __future__ import annotations

from tests.api.helpers import Cli, as_json
from tests.api.test_cli_seed import by_column, fields


def test_group_and_rule_verbs(cli: Cli) -> None:
    out = cli("security-group-create web --description frontends")
    assert out.startswith("Created a new security_group:")
    assert fields(out.split("\n", 1)[1])["name"] == "web"
    listed = {row["name"] for row in by_column(cli("security-group-list"))}
    assert {"default", "web"} <= listed
    assert cli("security-group-update web --name www").strip() == "Updated security_group: web"
    out = cli(
        "security-group-rule-create --direction ingress --protocol tcp --port-range-min 22 --port-range-max 22 "
        "--remote-ip-prefix 0.0.0.0/0 default"
    )
    rule = fields(out.split("\n", 1)[1])
    assert (rule["protocol"], rule["port_range_min"], rule["remote_ip_prefix"]) == ("tcp", "22", "0.0.0.0/0")
    rows = by_column(cli("security-group-rule-list"))
    mine = next(row for row in rows if row["id"] == rule["id"])
    assert (mine["security_group"], mine["port/protocol"], mine["remote"]) == ("default", "22/tcp", "0.0.0.0/0")
    assert any(row["remote"] == "group: default" for row in rows)
    assert as_json(cli, f"security-group-rule-show {rule['id']}")["direction"] == "ingress"
    dup = cli(
        "security-group-rule-create --protocol tcp --port-range-min 22 --port-range-max 22 "
        "--remote-ip-prefix 0.0.0.0/0 default",
        expect=1,
    )
    assert "Security group rule already exists" in dup
    assert cli(f"security-group-rule-delete {rule['id']}").strip() == f"Deleted security_group_rule: {rule['id']}"
    assert cli("security-group-delete www").strip() == "Deleted security_group: www"
    assert "Updating default security group not allowed" in cli("security-group-update default --name x", expect=1)


def test_port_security_group_options(cli: Cli) -> None:
    net = as_json(cli, "net-create sg_net")["id"]
    cli(f"subnet-create {net} 10.66.0.0/24")
    web, db = as_json(cli, "security-group-create sg_web")["id"], as_json(cli, "security-group-create sg_db")["id"]
    port = as_json(cli, "port-create sg_net --name sg_port --security-group sg_web")
    assert port["security_groups"] == [web]
    cli("port-update sg_port --security-group sg_web --security-group sg_db")
    assert sorted(as_json(cli, "port-show sg_port")["security_groups"]) == sorted([web, db])
    cli("port-update sg_port --no-security-groups --allowed-address-pair ip_address=10.66.0.200")
    shown = as_json(cli, "port-show sg_port")
    assert shown["security_groups"] == [] and shown["allowed_address_pairs"][0]["ip_address"] == "10.66.0.200"
    default_port = as_json(cli, "port-create sg_net --name sg_default")
    default = as_json(cli, "security-group-show default")["id"]
    assert default_port["security_groups"] == [default]
