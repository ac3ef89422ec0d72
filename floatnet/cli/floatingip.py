"""``floatingip-*``: floating IPs on an external network, and (dis)association with a port (seed steps 6–7).

A floating IP is given by id or by its address; the external network by name or id (or one of its subnets, the
way the seed's comments mix them up). There is no ``floatingip-update``: association is the only change, as
in the neutron client.
"""

from __future__ import annotations

import argparse
from typing import Any

from floatnet.cli.crud import Body, Verbs, add_common_create_args, common_create_body, compact
from floatnet.cli.invocation import Invocation
from floatnet.cli.router import external_network


def _add_create_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("floating_network", metavar="FLOATING_NETWORK", help="external network name or id")
    parser.add_argument("--floating-ip-address", metavar="IP", help="the address to take from the pool")
    parser.add_argument("--port-id", metavar="PORT", help="associate with this port (name or id) at once")
    parser.add_argument("--fixed-ip-address", metavar="IP", help="which fixed IP of the port")
    parser.add_argument("--subnet", metavar="SUBNET", help="external subnet to allocate from (name or id)")
    add_common_create_args(parser)


def _create_body(ctx: Invocation, args: argparse.Namespace) -> Body:
    network_id, subnet_id = external_network(ctx, args.floating_network)
    if args.subnet:
        subnet_id = ctx.client.find_id("subnet", args.subnet)
    body: Body = {"floating_network_id": network_id}
    body |= compact(
        subnet_id=subnet_id,
        floating_ip_address=args.floating_ip_address,
        port_id=ctx.client.find_id("port", args.port_id) if args.port_id else None,
        fixed_ip_address=args.fixed_ip_address,
    )
    return body | common_create_body(args)


FLOATINGIP = Verbs(
    kind="floatingip",
    prefix="floatingip",
    label="floatingip",
    list_columns=("id", "fixed_ip_address", "floating_ip_address", "port_id"),
    add_create_args=_add_create_args,
    create_body=_create_body,
)


def _associate(ctx: Invocation) -> None:
    fip_id = ctx.client.find_id("floatingip", ctx.args.floatingip)
    body: Body = {"port_id": ctx.client.find_id("port", ctx.args.port)}
    body |= compact(fixed_ip_address=ctx.args.fixed_ip_address)
    ctx.client.update("floatingip", fip_id, body)
    print(f"Associated floating IP {ctx.args.floatingip}", file=ctx.out)


def _disassociate(ctx: Invocation) -> None:
    fip_id = ctx.client.find_id("floatingip", ctx.args.floatingip)
    ctx.client.update("floatingip", fip_id, {"port_id": None})
    print(f"Disassociated floating IP {ctx.args.floatingip}", file=ctx.out)


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    """``floatingip-associate`` and ``floatingip-disassociate``."""
    associate = subparsers.add_parser(
        "floatingip-associate", parents=parents, help="Associate a floating IP with a port."
    )
    associate.add_argument("floatingip", metavar="FLOATINGIP_ID", help="id or address")
    associate.add_argument("port", metavar="PORT", help="name or id")
    associate.add_argument("--fixed-ip-address", metavar="IP", help="which fixed IP of the port")
    associate.set_defaults(handler=_associate)
    disassociate = subparsers.add_parser(
        "floatingip-disassociate", parents=parents, help="Remove a floating IP's association."
    )
    disassociate.add_argument("floatingip", metavar="FLOATINGIP_ID", help="id or address")
    disassociate.set_defaults(handler=_disassociate)
