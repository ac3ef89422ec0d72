"""The seed's commands, verbatim with ``neutron`` replaced by ``floatnet``, against a real server.

Every command runs as a real subprocess (``python -m floatnet …``) and its table is read back the way a person
reads it: columns by header, ``Field | Value`` rows by field. The seed's ids are replaced by the ids the
server gave (the seed mixes ids up; its step 5 passes the public *subnet* id as the gateway network — kept).
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
from typing import Any

import pytest

SEED_NET_FIELDS = {
    "admin_state_up",
    "id",
    "mtu",
    "name",
    "port_security_enabled",
    "provider:network_type",
    "provider:physical_network",
    "provider:segmentation_id",
    "router:external",
    "shared",
    "status",
    "subnets",
    "tenant_id",
}
SEED_SUBNET_FIELDS = {
    "allocation_pools",
    "cidr",
    "dns_nameservers",
    "enable_dhcp",
    "gateway_ip",
    "host_routes",
    "id",
    "ip_version",
    "ipv6_address_mode",
    "ipv6_ra_mode",
    "name",
    "network_id",
    "subnetpool_id",
    "tenant_id",
}


def floatnet(url: str, line: str, expect: int = 0) -> str:
    """Run ``floatnet <line>`` as a subprocess with OS_URL set; its stdout (asserting the exit status)."""
    env = dict(os.environ, OS_URL=url)
    env.pop("OS_CLOUD", None)
    done = subprocess.run(
        [sys.executable, "-m", "floatnet", *line.split()], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == expect, f"floatnet {line}: {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr
    return done.stdout if expect == 0 else done.stderr


def table(text: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the first bordered table in ``text``; a multi-line cell is joined with newlines."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    split = [[cell.strip() for cell in line.strip()[1:-1].split("|")] for line in lines]
    header, rows = split[0], list[list[str]]()
    for cells in split[1:]:
        if rows and cells[0] == "":
            rows[-1] = [f"{old}\n{new}".strip("\n") for old, new in zip(rows[-1], cells, strict=True)]
        else:
            rows.append(cells)
    return header, rows


def fields(text: str) -> dict[str, str]:
    """A ``Field | Value`` table as a dict."""
    header, rows = table(text)
    assert header == ["Field", "Value"]
    return {row[0]: row[1] for row in rows}


def by_column(text: str) -> list[dict[str, str]]:
    header, rows = table(text)
    return [dict(zip(header, row, strict=True)) for row in rows]


def test_seed_walkthrough(live_server: str) -> None:
    url = live_server
    out = floatnet(
        url,
        "net-create --provider:network_type vlan --provider:physical_network public_eth1 "
        "--provider:segmentation_id 100 vlan_100",
    )
    assert out.startswith("Created a new network:\n")
    net = fields(floatnet(url, "net-show vlan_100"))
    assert set(net) >= SEED_NET_FIELDS
    assert list(net) == sorted(net)
    expected = {"provider:network_type": "vlan", "provider:physical_network": "public_eth1"}
    expected |= {"provider:segmentation_id": "100", "router:external": "False", "shared": "False"}
    expected |= {"status": "ACTIVE", "name": "vlan_100", "admin_state_up": "True", "subnets": ""}
    assert {key: net[key] for key in expected} == expected

    subnet_out = floatnet(
        url,
        f"subnet-create --enable-dhcp --ip-version 4 --name vlan_100_subnet01 {net['id']} 192.168.46.0/24",
    )
    assert subnet_out.startswith("Created a new subnet:\n")
    subnet_id = fields(subnet_out)["id"]
    subnet = fields(floatnet(url, f"subnet-show {subnet_id}"))
    assert set(subnet) >= SEED_SUBNET_FIELDS
    assert json.loads(subnet["allocation_pools"]) == {"start": "192.168.46.2", "end": "192.168.46.254"}
    expected = {"cidr": "192.168.46.0/24", "enable_dhcp": "True", "gateway_ip": "192.168.46.1"}
    expected |= {
        "ip_version": "4",
        "name": "vlan_100_subnet01",
        "network_id": net["id"],
        "dns_nameservers": "",
    }
    assert {key: subnet[key] for key in expected} == expected
    assert fields(floatnet(url, "net-show vlan_100"))["subnets"] == subnet_id
    _seed_external_side(url, subnet_id)


def _seed_external_side(url: str, private_subnet_id: str) -> None:
    """Steps 1–7: external network, pool, router, interface, gateway, floating IP, list, associate."""
    public = fields(
        floatnet(
            url,
            "net-create --router:external --provider:network_type flat "
            "--provider:physical_network public_eth0 public_net",
        )
    )
    assert (public["router:external"], public["provider:network_type"]) == ("True", "flat")
    public_subnet = fields(
        floatnet(
            url,
            "subnet-create --name public_eth0_subnet01 "
            "--allocation-pool start=192.168.1.100,end=192.168.1.119 "
            f"--gateway 192.168.1.30 --disable-dhcp --ip-version 4 {public['id']} 192.168.1.0/24",
        )
    )
    assert json.loads(public_subnet["allocation_pools"]) == {"start": "192.168.1.100", "end": "192.168.1.119"}
    assert (public_subnet["gateway_ip"], public_subnet["enable_dhcp"]) == ("192.168.1.30", "False")
    router = fields(floatnet(url, "router-create router1"))
    out = floatnet(url, f"router-interface-add {router['id']} {private_subnet_id}")
    assert out.startswith("Added interface ") and out.rstrip().endswith(f"to router {router['id']}.")
    out = floatnet(url, f"router-gateway-set {router['id']} {public_subnet['id']}")
    assert out.strip() == f"Set gateway for router {router['id']}"
    gateway = json.loads(fields(floatnet(url, "router-show router1"))["external_gateway_info"])
    assert gateway["network_id"] == public["id"] and gateway["enable_snat"] is True
    vm_port = fields(floatnet(url, "port-create --name vm1 --device-owner compute:nova vlan_100"))
    fip = fields(floatnet(url, f"floatingip-create {public['id']}"))
    assert _in_pool(fip["floating_ip_address"])
    _check_lists_and_associate(url, fip, vm_port, private_subnet_id, router["id"])


def _in_pool(address: str) -> bool:
    """True if ``address`` is in the seed's floating pool 192.168.1.100–119."""
    low, high = int(ipaddress.IPv4Address("192.168.1.100")), int(ipaddress.IPv4Address("192.168.1.119"))
    return low <= int(ipaddress.IPv4Address(address)) <= high


def _check_lists_and_associate(
    url: str, fip: dict[str, str], vm_port: dict[str, str], private_subnet_id: str, router_id: str
) -> None:
    header, _ = table(floatnet(url, "floatingip-list"))
    assert header == ["id", "fixed_ip_address", "floating_ip_address", "port_id"]
    listed = {row["id"]: row for row in by_column(floatnet(url, "floatingip-list"))}
    assert listed[fip["id"]]["floating_ip_address"] == fip["floating_ip_address"]
    assert listed[fip["id"]]["port_id"] == ""
    header, _ = table(floatnet(url, "port-list"))
    assert header == ["id", "name", "mac_address", "fixed_ips"]
    ports = {row["id"]: row for row in by_column(floatnet(url, "port-list"))}
    vm_ip = json.loads(ports[vm_port["id"]]["fixed_ips"])
    assert vm_ip["subnet_id"] == private_subnet_id
    assert ipaddress.ip_address(vm_ip["ip_address"]) in ipaddress.ip_network("192.168.46.0/24")
    assert ports[vm_port["id"]]["mac_address"].startswith("fa:16:3e:")
    gateway_ips = [json.loads(row["fixed_ips"])["ip_address"] for row in ports.values() if row["fixed_ips"]]
    assert any(_in_pool(ip) for ip in gateway_ips if ip != fip["floating_ip_address"])
    out = floatnet(url, f"floatingip-associate {fip['id']} {vm_port['id']}")
    assert out.strip() == f"Associated floating IP {fip['id']}"
    row = {r["id"]: r for r in by_column(floatnet(url, "floatingip-list"))}[fip["id"]]
    assert (row["fixed_ip_address"], row["port_id"]) == (vm_ip["ip_address"], vm_port["id"])
    shown: dict[str, Any] = json.loads(floatnet(url, f"floatingip-show {fip['id']} -f json"))
    assert shown["router_id"] == router_id and shown["port_id"] == vm_port["id"]


@pytest.mark.parametrize("line", ["net-show no_such_net", "floatingip-show 192.0.2.250"])
def test_unknown_name_exits_1_with_message(live_server: str, line: str) -> None:
    message = floatnet(live_server, line, expect=1)
    assert message.startswith("Unable to find ") and message.count("\n") == 1
