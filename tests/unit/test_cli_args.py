"""Argument parsing of the CLI: the seed's commands as written, neutron's conventions (no server needed)."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from floatnet.cli import args as cli_args
from floatnet.cli.main import PLUGINS, build_parser, main, plugins_needed
from floatnet.cli.updown import api_url
from floatnet.client import neutron_message, versioned
from tests.conftest import free_port


def parse(line: str) -> argparse.Namespace:
    words = cli_args.normalize_bool_flags(line.split())
    namespace, extra = build_parser().parse_known_args(words)
    namespace.extra = extra
    return namespace


def test_seed_net_create_vlan() -> None:
    ns = parse(
        "net-create --provider:network_type vlan --provider:physical_network public_eth1 "
        "--provider:segmentation_id 100 vlan_100"
    )
    assert (ns.command, ns.name, ns.network_type, ns.physical_network) == (
        "net-create",
        "vlan_100",
        "vlan",
        "public_eth1",
    )
    assert ns.segmentation_id == 100
    assert ns.router_external is None and ns.shared is None and ns.admin_state_up is True


def test_seed_external_net_flag_before_other_options_and_before_the_name() -> None:
    ns = parse(
        "net-create --router:external --provider:network_type flat --provider:physical_network public_eth0 n1"
    )
    assert ns.router_external is True and ns.network_type == "flat" and ns.name == "n1"
    ns = parse("net-create --router:external public_net")
    assert ns.router_external is True and ns.name == "public_net"
    ns = parse("net-update public_net --router:external=False")
    assert ns.router_external is False and ns.target == "public_net"
    ns = parse("net-create --shared false n2")
    assert ns.shared is False and ns.name == "n2"


def test_seed_subnet_create_lines() -> None:
    ns = parse("subnet-create --enable-dhcp --ip-version 4 --name vlan_100_subnet01 2426ff0d 192.168.46.0/24")
    assert (ns.network, ns.cidr, ns.ip_version, ns.enable_dhcp, ns.name) == (
        "2426ff0d",
        "192.168.46.0/24",
        4,
        True,
        "vlan_100_subnet01",
    )
    ns = parse(
        "subnet-create --name public_eth0_subnet01 --allocation-pool start=192.168.1.100,end=192.168.1.119 "
        "--gateway 192.168.1.30 --disable-dhcp --ip-version 4 22d01ce7 192.168.1.0/24"
    )
    assert ns.pools == [{"start": "192.168.1.100", "end": "192.168.1.119"}]
    assert ns.gateway_ip == "192.168.1.30" and ns.enable_dhcp is False and ns.no_gateway is False


def test_repeatable_options_and_key_values() -> None:
    ns = parse(
        "subnet-create --dns-nameserver 8.8.8.8 --dns-nameserver 1.1.1.1 "
        "--host-route destination=192.0.2.0/24,nexthop=10.0.0.7 --no-gateway n 10.0.0.0/24"
    )
    assert ns.dns == ["8.8.8.8", "1.1.1.1"] and ns.no_gateway is True
    assert ns.routes == [{"destination": "192.0.2.0/24", "nexthop": "10.0.0.7"}]
    ns = parse("port-create --fixed-ip subnet_id=s1,ip_address=10.0.0.9 --binding:host_id node1 net1")
    assert ns.fixed_ips == [{"subnet_id": "s1", "ip_address": "10.0.0.9"}] and ns.host_id == "node1"


def test_l3_verbs_parse() -> None:
    ns = parse("router-gateway-set --disable-snat router1 public_net")
    assert (ns.router, ns.external_network, ns.enable_snat) == ("router1", "public_net", False)
    ns = parse("router-interface-add router1 port=p1")
    assert (ns.router, ns.interface) == ("router1", "port=p1")
    ns = parse("floatingip-create --floating-ip-address 203.0.113.9 public_net")
    assert (ns.floating_network, ns.floating_ip_address) == ("public_net", "203.0.113.9")
    ns = parse("floatingip-associate --fixed-ip-address 10.0.0.5 fip1 port1")
    assert (ns.floatingip, ns.port, ns.fixed_ip_address) == ("fip1", "port1", "10.0.0.5")


def test_global_options_before_or_after_the_verb() -> None:
    ns = parse("--os-url http://a:1 net-list -f json -c id")
    assert (ns.os_url, ns.format, ns.columns) == ("http://a:1", "json", ["id"])
    ns = parse("net-show x --os-url http://b:2")
    assert ns.os_url == "http://b:2" and ns.format == "table"


def test_list_filters_from_unknown_options() -> None:
    ns = parse("port-list --device_owner network:dhcp --network-id=n1 --network-id n2")
    assert cli_args.extra_filters(ns.extra) == {"device_owner": ["network:dhcp"], "network_id": ["n1", "n2"]}
    with pytest.raises(ValueError, match="unrecognized"):
        cli_args.extra_filters(["stray"])


def test_bad_key_value_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["subnet-create", "--allocation-pool", "start=1.2.3.4", "n", "10.0.0.0/24"]) == 2
    assert "start=…,end=…" in capsys.readouterr().err
    assert main(["net-show", "x", "--bogus", "1"]) == 2


def test_neutron_error_message_and_versioned_endpoint() -> None:
    body = {
        "NeutronError": {"type": "NetworkNotFound", "message": "Network x could not be found.", "detail": ""}
    }
    assert neutron_message(404, body, "") == "Network x could not be found."
    assert neutron_message(502, None, "") == "HTTP 502"
    assert versioned("http://h:9696") == versioned("http://h:9696/v2.0/") == "http://h:9696/v2.0"
    assert api_url("0.0.0.0", 9696) == "http://127.0.0.1:9696"
    assert api_url("::1", 80) == "http://[::1]:80"


def test_unreachable_server_is_one_line_and_exit_1() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    done = subprocess.run(
        [sys.executable, "-m", "floatnet", "--os-url", url, "net-list"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == f"Unable to establish connection to {url}/v2.0"
    assert "Traceback" not in done.stderr


def test_only_the_plugin_a_command_runs_is_imported() -> None:
    assert plugins_needed(["--os-url", "lab", "net-list"]) == ()
    assert plugins_needed(["--debug", "lab", "up"]) == ("lab",)
    assert plugins_needed(["--help"]) == PLUGINS
    assert plugins_needed(["no-such-verb"]) == PLUGINS


def test_global_options_survive_a_plugin_that_defines_them_too() -> None:
    parser = build_parser(("diagnose",))
    given_before = parser.parse_args(["--os-url", "http://x:1", "diagnose", "203.0.113.5"])
    assert given_before.os_url == "http://x:1"
    assert parser.parse_args(["diagnose", "203.0.113.5"]).os_url is None
