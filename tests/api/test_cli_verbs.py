"""Every CLI verb against a real server: names or ids, messages, formats, and errors as one line with exit 1.

The CLI runs in-process (``floatnet.cli.main.main``) for speed; the seed test runs it as a subprocess. The
server is shared by this module, so each test names its resources after itself.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from tests.api.helpers import Cli, as_json
from tests.api.test_cli_seed import by_column, fields


def test_network_update_delete_messages(cli: Cli) -> None:
    assert cli("net-create t_upd").startswith("Created a new network:")
    assert cli("net-update t_upd --name t_upd2 --shared").strip() == "Updated network: t_upd"
    shown = as_json(cli, "net-show t_upd2")
    assert (shown["name"], shown["shared"]) == ("t_upd2", True)
    assert cli("net-delete t_upd2").strip() == "Deleted network: t_upd2"
    assert cli("net-show t_upd2", expect=1).strip() == "Unable to find network with name or id 't_upd2'"
    assert cli("net-update t_upd", expect=1).strip() == "Must specify new values to update network"


def test_ambiguous_name_lists_the_ids(cli: Cli) -> None:
    first = as_json(cli, "net-create t_dup")["id"]
    second = as_json(cli, "net-create t_dup")["id"]
    message = cli("net-show t_dup", expect=1)
    assert message.startswith("Multiple network matches found for name 't_dup'")
    assert first in message and second in message
    assert as_json(cli, f"net-show {first}")["id"] == first
    cli(f"net-delete {first} {second}")


def test_neutron_error_message_exit_1(cli: Cli) -> None:
    flags = (
        "--provider:network_type vlan --provider:physical_network public_eth1 --provider:segmentation_id 150"
    )
    cli(f"net-create {flags} t_vlan_a")
    message = cli(f"net-create {flags} t_vlan_b", expect=1)
    assert message.count("\n") == 1 and "150" in message and "public_eth1" in message
    assert "NeutronError" not in message


def test_formats_and_columns(cli: Cli) -> None:
    cli("net-create --description hello t_fmt")
    assert yaml.safe_load(cli("net-show t_fmt -f yaml"))["description"] == "hello"
    network_id = as_json(cli, "net-show t_fmt")["id"]
    assert cli("net-show t_fmt -f value -c name -c id").splitlines() == [network_id, "t_fmt"]
    name_row = cli("net-show -c name t_fmt").splitlines()[3]
    assert [cell.strip() for cell in name_row.split("|")] == ["", "name", "t_fmt", ""]
    assert "No recognized column names" in cli("net-show t_fmt -c bogus", expect=1)
    listed = as_json(cli, "net-list --name t_fmt")
    assert listed == [{"id": network_id, "name": "t_fmt", "subnets": []}]
    assert cli("net-list --name t_fmt -f value -c id -c status").strip() == f"{network_id} ACTIVE"


def test_subnet_verbs_and_net_list_cidrs(cli: Cli) -> None:
    cli("net-create t_sub")
    created = as_json(
        cli,
        "subnet-create --name t_sub_s --dns-nameserver 192.0.2.53 "
        "--allocation-pool start=10.9.0.10,end=10.9.0.20 t_sub 10.9.0.0/24",
    )
    assert created["dns_nameservers"] == ["192.0.2.53"]
    assert created["allocation_pools"] == [{"start": "10.9.0.10", "end": "10.9.0.20"}]
    row = by_column(cli("net-list --name t_sub"))[0]
    assert row["subnets"] == f"{created['id']} 10.9.0.0/24"
    header = cli("subnet-list --name t_sub_s").splitlines()[1]
    assert [cell.strip() for cell in header.strip("|").split("|")] == [
        "id",
        "name",
        "cidr",
        "allocation_pools",
    ]
    cli("subnet-update t_sub_s --no-gateway --host-route destination=192.0.2.0/24,nexthop=10.9.0.7")
    updated = as_json(cli, "subnet-show t_sub_s")
    assert updated["gateway_ip"] is None
    assert updated["host_routes"] == [{"destination": "192.0.2.0/24", "nexthop": "10.9.0.7"}]
    assert cli("subnet-delete t_sub_s").strip() == "Deleted subnet: t_sub_s"


def test_port_verbs(cli: Cli) -> None:
    cli("net-create t_port")
    cli("subnet-create --name t_port_s --disable-dhcp t_port 10.8.0.0/24")
    port = as_json(
        cli,
        "port-create --name t_p1 --fixed-ip subnet_id=t_port_s,ip_address=10.8.0.50 "
        "--mac-address fa:16:3e:00:08:50 --device-owner compute:nova --device-id vm-1 "
        "--binding:host_id node9 t_port",
    )
    assert port["fixed_ips"][0]["ip_address"] == "10.8.0.50" and port["mac_address"] == "fa:16:3e:00:08:50"
    assert (port["device_owner"], port["device_id"], port["binding:host_id"]) == (
        "compute:nova",
        "vm-1",
        "node9",
    )
    cli("port-update t_p1 --name t_p2 --admin-state-up False")
    assert as_json(cli, "port-show t_p2")["admin_state_up"] is False
    rows = by_column(cli(f"port-list --network_id {port['network_id']} --device_owner compute:nova"))
    assert [row["id"] for row in rows] == [port["id"]]
    assert json.loads(rows[0]["fixed_ips"])["ip_address"] == "10.8.0.50"
    assert cli("port-delete t_p2").strip() == "Deleted port: t_p2"


def _external(cli: Cli, prefix: str, cidr: str) -> dict[str, Any]:
    cli(f"net-create --router:external {prefix}_ext")
    return dict(as_json(cli, f"subnet-create --name {prefix}_ext_s --disable-dhcp {prefix}_ext {cidr}"))


def test_router_verbs(cli: Cli) -> None:
    ext_subnet = _external(cli, "t_r", "192.0.2.0/26")
    cli("net-create t_r_int")
    cli("subnet-create --name t_r_int_s t_r_int 10.7.0.0/24")
    cli("router-create t_r1")
    port = as_json(cli, "port-create --fixed-ip subnet_id=t_r_int_s,ip_address=10.7.0.254 t_r_int")
    assert (
        cli(f"router-interface-add t_r1 port={port['id']}").strip()
        == f"Added interface {port['id']} to router t_r1."
    )
    added = cli("router-interface-add t_r1 subnet=t_r_int_s", expect=1)
    assert added.count("\n") == 1
    cli("router-gateway-set --disable-snat t_r1 t_r_ext")
    info = as_json(cli, "router-show t_r1")["external_gateway_info"]
    assert info["network_id"] == ext_subnet["network_id"] and info["enable_snat"] is False
    owners = {row["id"] for row in by_column(cli("router-port-list t_r1"))}
    assert port["id"] in owners and len(owners) == 2
    assert cli("router-gateway-clear t_r1").strip() == "Removed gateway from router t_r1"
    assert as_json(cli, "router-show t_r1")["external_gateway_info"] is None
    cli("router-update t_r1 --name t_r2")
    assert cli("router-delete t_r2", expect=1).count("\n") == 1
    assert (
        cli("router-interface-delete t_r2 port=" + port["id"]).strip()
        == "Removed interface from router t_r2."
    )
    assert cli("router-delete t_r2").strip() == "Deleted router: t_r2"


def test_floatingip_verbs(cli: Cli) -> None:
    ext_subnet = _external(cli, "t_f", "192.0.2.64/26")
    cli("net-create t_f_int")
    cli("subnet-create --name t_f_int_s t_f_int 10.6.0.0/24")
    cli("router-create t_f_r")
    cli("router-interface-add t_f_r t_f_int_s")
    cli("router-gateway-set t_f_r t_f_ext")
    port = as_json(cli, "port-create --name t_f_vm t_f_int")
    address = ext_subnet["allocation_pools"][0]["end"]
    fip = as_json(cli, f"floatingip-create --floating-ip-address {address} --port-id t_f_vm t_f_ext")
    assert (fip["floating_ip_address"], fip["port_id"]) == (address, port["id"])
    assert cli(f"floatingip-disassociate {address}").strip() == f"Disassociated floating IP {address}"
    assert as_json(cli, f"floatingip-show {fip['id']}")["port_id"] is None
    fixed = port["fixed_ips"][0]["ip_address"]
    cli(f"floatingip-associate --fixed-ip-address {fixed} {fip['id']} t_f_vm")
    assert as_json(cli, f"floatingip-show {address}")["fixed_ip_address"] == fixed
    assert cli(f"floatingip-create --floating-ip-address {address} t_f_ext", expect=1).count("\n") == 1
    assert cli(f"floatingip-delete {fip['id']}").strip() == f"Deleted floatingip: {fip['id']}"
    fields(cli("net-show t_f_ext"))
