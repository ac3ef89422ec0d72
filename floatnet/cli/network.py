"""``net-*`` and ``subnet-*``: the seed's provider networks and their subnets, with the seed's flags as
written.

``net-create --provider:network_type vlan --provider:physical_network public_eth1 --provider:segmentation_id
100 vlan_100`` and ``subnet-create --enable-dhcp --ip-version 4 --name vlan_100_subnet01 NET
192.168.46.0/24`` run unchanged; a network may be given by name or id.
"""

from __future__ import annotations

import argparse
from typing import Any

from floatnet.cli.args import key_values_with, parse_bool
from floatnet.cli.crud import Body, Verbs, add_common_create_args, common_create_body, compact
from floatnet.cli.invocation import Invocation

POOL = key_values_with(("start", "end"))
ROUTE = key_values_with(("destination", "nexthop"))


def _add_network_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--shared", type=parse_bool, metavar="[BOOL]")
    parser.add_argument("--router:external", dest="router_external", type=parse_bool, metavar="[BOOL]")
    parser.add_argument("--mtu", type=int)
    parser.add_argument("--port-security-enabled", type=parse_bool, metavar="[BOOL]")


def _add_net_create_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME")
    parser.add_argument("--admin-state-down", dest="admin_state_up", action="store_false")
    _add_network_flags(parser)
    parser.add_argument("--provider:network_type", dest="network_type", metavar="TYPE")
    parser.add_argument("--provider:physical_network", dest="physical_network", metavar="PHYSNET")
    parser.add_argument("--provider:segmentation_id", dest="segmentation_id", type=int, metavar="ID")
    add_common_create_args(parser)


def _net_create_body(ctx: Invocation, args: argparse.Namespace) -> Body:
    body = compact(
        name=args.name,
        shared=args.shared,
        mtu=args.mtu,
        port_security_enabled=args.port_security_enabled,
        **{
            "router:external": args.router_external,
            "provider:network_type": args.network_type,
            "provider:physical_network": args.physical_network,
            "provider:segmentation_id": args.segmentation_id,
        },
    )
    if not args.admin_state_up:
        body["admin_state_up"] = False
    return body | common_create_body(args)


def _add_net_update_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name")
    parser.add_argument("--admin-state-up", type=parse_bool, metavar="[BOOL]")
    parser.add_argument("--description")
    _add_network_flags(parser)


def _net_update_body(ctx: Invocation, args: argparse.Namespace) -> Body:
    return compact(
        name=args.name,
        admin_state_up=args.admin_state_up,
        description=args.description,
        shared=args.shared,
        mtu=args.mtu,
        port_security_enabled=args.port_security_enabled,
        **{"router:external": args.router_external},
    )


def _with_subnet_cidrs(ctx: Invocation, rows: list[Body]) -> list[Body]:
    """net-list's ``subnets`` column as the neutron client showed it: ``<subnet id> <cidr>`` per line."""
    wanted = {subnet_id for row in rows for subnet_id in row.get("subnets") or []}
    cidrs = (
        {s["id"]: s.get("cidr", "") for s in ctx.client.list("subnet", fields=["id", "cidr"])}
        if wanted
        else {}
    )
    return [
        row | {"subnets": [f"{sid} {cidrs.get(sid, '')}".strip() for sid in row.get("subnets") or []]}
        for row in rows
    ]


NETWORK = Verbs(
    kind="network",
    prefix="net",
    label="network",
    list_columns=("id", "name", "subnets"),
    add_create_args=_add_net_create_args,
    create_body=_net_create_body,
    add_update_args=_add_net_update_args,
    update_body=_net_update_body,
    decorate_list=_with_subnet_cidrs,
)


def _add_subnet_options(parser: argparse.ArgumentParser) -> None:
    """Options subnet-create and subnet-update share."""
    parser.add_argument("--name")
    gateway = parser.add_mutually_exclusive_group()
    gateway.add_argument("--gateway", dest="gateway_ip", metavar="GATEWAY_IP")
    gateway.add_argument("--no-gateway", action="store_true")
    parser.add_argument(
        "--allocation-pool", dest="pools", type=POOL, action="append", metavar="start=IP,end=IP"
    )
    parser.add_argument(
        "--host-route", dest="routes", type=ROUTE, action="append", metavar="destination=CIDR,nexthop=IP"
    )
    parser.add_argument("--dns-nameserver", dest="dns", action="append", metavar="DNS_NAMESERVER")
    dhcp = parser.add_mutually_exclusive_group()
    dhcp.add_argument("--enable-dhcp", dest="enable_dhcp", action="store_const", const=True)
    dhcp.add_argument("--disable-dhcp", dest="enable_dhcp", action="store_const", const=False)


def _subnet_options_body(args: argparse.Namespace) -> Body:
    body = compact(
        name=args.name,
        gateway_ip=args.gateway_ip,
        allocation_pools=args.pools,
        host_routes=args.routes,
        dns_nameservers=args.dns,
        enable_dhcp=args.enable_dhcp,
    )
    if args.no_gateway:
        body["gateway_ip"] = None
    return body


def _add_subnet_create_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("network", metavar="NETWORK", help="name or id")
    parser.add_argument("cidr", metavar="CIDR", nargs="?", help="optional with --subnetpool")
    parser.add_argument("--ip-version", type=int, choices=(4, 6))
    parser.add_argument("--subnetpool", metavar="SUBNETPOOL", help="name or id: take the CIDR from this pool")
    parser.add_argument("--prefixlen", type=int, metavar="N", help="prefix length of the CIDR from the pool")
    parser.add_argument("--ipv6-ra-mode", choices=("slaac", "dhcpv6-stateful", "dhcpv6-stateless"))
    parser.add_argument("--ipv6-address-mode", choices=("slaac", "dhcpv6-stateful", "dhcpv6-stateless"))
    _add_subnet_options(parser)
    add_common_create_args(parser)


def _subnet_create_body(ctx: Invocation, args: argparse.Namespace) -> Body:
    body: dict[str, Any] = {"network_id": ctx.client.find_id("network", args.network)}
    pool = ctx.client.find_id("subnetpool", args.subnetpool) if args.subnetpool else None
    body |= compact(cidr=args.cidr, ip_version=args.ip_version, subnetpool_id=pool, prefixlen=args.prefixlen)
    body |= compact(ipv6_ra_mode=args.ipv6_ra_mode, ipv6_address_mode=args.ipv6_address_mode)
    return body | _subnet_options_body(args) | common_create_body(args)


def _add_subnet_update_args(parser: argparse.ArgumentParser) -> None:
    _add_subnet_options(parser)
    parser.add_argument("--description")


def _subnet_update_body(ctx: Invocation, args: argparse.Namespace) -> Body:
    return _subnet_options_body(args) | compact(description=args.description)


SUBNET = Verbs(
    kind="subnet",
    prefix="subnet",
    label="subnet",
    list_columns=("id", "name", "cidr", "allocation_pools"),
    add_create_args=_add_subnet_create_args,
    create_body=_subnet_create_body,
    add_update_args=_add_subnet_update_args,
    update_body=_subnet_update_body,
)
