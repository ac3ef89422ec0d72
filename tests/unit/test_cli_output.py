"""The seed's table shapes, rendered by floatnet.cli.output (pure formatting, no server)."""

from __future__ import annotations

import json

import pytest
import yaml

from floatnet.cli import output

SUBNET = {
    "allocation_pools": [{"start": "192.168.46.2", "end": "192.168.46.254"}],
    "cidr": "192.168.46.0/24",
    "dns_nameservers": [],
    "enable_dhcp": True,
    "gateway_ip": "192.168.46.1",
    "id": "fab94e2f-f7de-4bf6-8e9b-7ade0fcfad1f",
    "ipv6_ra_mode": None,
    "name": "vlan_100_subnet01",
}


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def test_show_table_is_field_value_sorted_with_seed_cell_rendering() -> None:
    text = output.render_object(dict(reversed(SUBNET.items())))
    lines = text.splitlines()
    assert lines[0] == lines[2] == lines[-1]
    assert lines[0].startswith("+-") and lines[0].endswith("-+")
    assert _cells(lines[1]) == ["Field", "Value"]
    rows = {_cells(line)[0]: _cells(line)[1] for line in lines[3:-1]}
    assert [_cells(line)[0] for line in lines[3:-1]] == sorted(SUBNET)
    assert rows["allocation_pools"] == '{"start": "192.168.46.2", "end": "192.168.46.254"}'
    assert rows["dns_nameservers"] == ""
    assert rows["ipv6_ra_mode"] == ""
    assert rows["enable_dhcp"] == "True"
    assert len({len(line) for line in lines}) == 1


def test_list_value_spans_one_line_per_item() -> None:
    fixed = [{"subnet_id": "s1", "ip_address": "10.0.0.5"}, {"subnet_id": "s2", "ip_address": "10.0.1.5"}]
    rows = [
        {"id": "p1", "name": "", "mac_address": "fa:16:3e:00:00:01", "fixed_ips": fixed, "status": "DOWN"}
    ]
    text = output.render_list(rows, ("id", "name", "mac_address", "fixed_ips"))
    lines = text.splitlines()
    assert _cells(lines[1]) == ["id", "name", "mac_address", "fixed_ips"]
    assert _cells(lines[3]) == ["p1", "", "fa:16:3e:00:00:01", json.dumps(fixed[0])]
    assert _cells(lines[4]) == ["", "", "", json.dumps(fixed[1])]
    assert "status" not in text


def test_empty_list_prints_header_only() -> None:
    lines = output.render_list([], ("id", "fixed_ip_address", "floating_ip_address", "port_id")).splitlines()
    assert len(lines) == 3
    assert _cells(lines[1]) == ["id", "fixed_ip_address", "floating_ip_address", "port_id"]


def test_columns_select_in_data_order_and_reject_unknown() -> None:
    assert output.render_object(SUBNET, "value", ["name", "cidr"]) == "192.168.46.0/24\nvlan_100_subnet01"
    with pytest.raises(output.OutputError, match="No recognized column names"):
        output.render_object(SUBNET, "table", ["nope"])


def test_list_columns_may_name_fields_outside_the_defaults() -> None:
    rows = [{"id": "a", "name": "n", "status": "ACTIVE"}]
    assert output.render_list(rows, ("id", "name"), "value", ["id", "status"]) == "a ACTIVE"


def test_json_and_yaml_keep_raw_values() -> None:
    assert json.loads(output.render_object(SUBNET, "json")) == SUBNET
    assert yaml.safe_load(output.render_object(SUBNET, "yaml")) == SUBNET
    rows = [{"id": "x", "name": "n", "subnets": ["s"]}]
    assert json.loads(output.render_list(rows, ("id", "subnets"), "json")) == [{"id": "x", "subnets": ["s"]}]


def test_value_format_of_a_list() -> None:
    rows: list[dict[str, str | None]] = [{"id": "a", "name": "one"}, {"id": "b", "name": None}]
    assert output.render_list(rows, ("id", "name"), "value") == "a one\nb "


def test_format_value() -> None:
    assert output.format_value(None) == ""
    assert output.format_value(False) == "False"
    assert output.format_value(["8.8.8.8", "1.1.1.1"]) == "8.8.8.8\n1.1.1.1"
    assert (
        output.format_value({"network_id": "n", "enable_snat": True})
        == '{"network_id": "n", "enable_snat": true}'
    )
