"""``router-*``: routers, their interfaces and their external gateway (the seed's steps 3–5).

``router-interface-add ROUTER SUBNET|subnet=SUBNET|port=PORT`` and ``router-gateway-set ROUTER EXT_NET`` take
names or ids. The seed's step 5 passes the public *subnet* where the network belongs ("router-gateway-set
<router-id> <public_subnet_id>"); that is accepted too: the subnet's network becomes the gateway network and
the gateway address comes from that subnet.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from floatnet.cli.args import key_values_with, parse_bool
from floatnet.cli.client import CliError
from floatnet.cli.context import Context
from floatnet.cli.crud import Body, Verbs, add_common_create_args, common_create_body, compact
from floatnet.cli.port import FIXED_IP, PORT, fixed_ips
from floatnet.client import ApiError

ROUTE = key_values_with(("destination", "nexthop"))


def external_network(ctx: Context, name_or_id: str) -> tuple[str, str | None]:
    """The network id named by ``name_or_id`` — or, if that names a subnet, its network and the subnet id."""
    try:
        return ctx.client.find_id("network", name_or_id), None
    except ApiError as not_a_network:
        try:
            subnet = ctx.client.find("subnet", name_or_id)
        except ApiError:
            raise not_a_network from None
    print(f"Note: {name_or_id} is a subnet; using its network {subnet['network_id']}", file=sys.stderr)
    return str(subnet["network_id"]), str(subnet["id"])


def _add_create_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME")
    parser.add_argument("--admin-state-down", dest="admin_state_up", action="store_false")
    add_common_create_args(parser)


def _create_body(ctx: Context, args: argparse.Namespace) -> Body:
    body: Body = {"name": args.name} | common_create_body(args)
    if not args.admin_state_up:
        body["admin_state_up"] = False
    return body


def _add_update_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name")
    parser.add_argument("--admin-state-up", type=parse_bool, metavar="[BOOL]")
    parser.add_argument("--description")
    routes = parser.add_mutually_exclusive_group()
    routes.add_argument(
        "--route", dest="routes", type=ROUTE, action="append", metavar="destination=CIDR,nexthop=IP"
    )
    routes.add_argument("--no-routes", action="store_true", help="remove every extra route")


def _update_body(ctx: Context, args: argparse.Namespace) -> Body:
    body = compact(name=args.name, admin_state_up=args.admin_state_up, description=args.description)
    if args.routes or args.no_routes:
        body["routes"] = args.routes or []
    return body


ROUTER = Verbs(
    kind="router",
    prefix="router",
    label="router",
    list_columns=("id", "name", "external_gateway_info"),
    add_create_args=_add_create_args,
    create_body=_create_body,
    add_update_args=_add_update_args,
    update_body=_update_body,
)


def interface_body(ctx: Context, interface: str) -> Body:
    """``SUBNET``, ``subnet=SUBNET`` or ``port=PORT`` as the add/remove_router_interface body."""
    key, sep, value = interface.partition("=")
    if not sep:
        key, value = "subnet", interface
    if key not in ("subnet", "port") or not value:
        raise CliError(f"interface {interface!r}: expected SUBNET, subnet=SUBNET or port=PORT")
    return {f"{key}_id": ctx.client.find_id(key, value)}


def _action(ctx: Context, router_id: str, action: str, body: Body) -> Body:
    """``PUT /routers/{id}/{action}`` (add_router_interface / remove_router_interface): the answer."""
    return dict(ctx.client.call("PUT", f"/routers/{router_id}/{action}", body) or {})


def _interface_add(ctx: Context) -> None:
    router_id = ctx.client.find_id("router", ctx.args.router)
    answer = _action(ctx, router_id, "add_router_interface", interface_body(ctx, ctx.args.interface))
    print(f"Added interface {answer.get('port_id', '')} to router {ctx.args.router}.", file=ctx.out)


def _interface_delete(ctx: Context) -> None:
    router_id = ctx.client.find_id("router", ctx.args.router)
    _action(ctx, router_id, "remove_router_interface", interface_body(ctx, ctx.args.interface))
    print(f"Removed interface from router {ctx.args.router}.", file=ctx.out)


def _gateway_set(ctx: Context) -> None:
    args = ctx.args
    router_id = ctx.client.find_id("router", args.router)
    network_id, subnet_id = external_network(ctx, args.external_network)
    info: dict[str, Any] = {"network_id": network_id}
    if args.enable_snat is not None:
        info["enable_snat"] = args.enable_snat
    chosen = fixed_ips(ctx, args.fixed_ips) or ([{"subnet_id": subnet_id}] if subnet_id else None)
    if chosen:
        info["external_fixed_ips"] = chosen
    ctx.client.update("router", router_id, {"external_gateway_info": info})
    print(f"Set gateway for router {args.router}", file=ctx.out)


def _gateway_clear(ctx: Context) -> None:
    router_id = ctx.client.find_id("router", ctx.args.router)
    ctx.client.update("router", router_id, {"external_gateway_info": {}})
    print(f"Removed gateway from router {ctx.args.router}", file=ctx.out)


def _port_list(ctx: Context) -> None:
    router_id = ctx.client.find_id("router", ctx.args.router)
    ctx.show_list(ctx.client.list("port", device_id=router_id), PORT.list_columns)


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    """The router verbs beyond CRUD: interfaces, gateway, router-port-list."""
    for verb, handler, text in (
        ("router-interface-add", _interface_add, "Add an internal network interface to a router."),
        ("router-interface-delete", _interface_delete, "Remove an internal network interface from a router."),
    ):
        parser = subparsers.add_parser(verb, parents=parents, help=text)
        parser.add_argument("router", metavar="ROUTER", help="name or id")
        parser.add_argument("interface", metavar="INTERFACE", help="SUBNET, subnet=SUBNET or port=PORT")
        parser.set_defaults(handler=handler)
    gateway = subparsers.add_parser("router-gateway-set", parents=parents, help="Set the external gateway.")
    gateway.add_argument("router", metavar="ROUTER", help="name or id")
    gateway.add_argument("external_network", metavar="EXTERNAL-NETWORK", help="name or id (or its subnet)")
    snat = gateway.add_mutually_exclusive_group()
    snat.add_argument("--disable-snat", dest="enable_snat", action="store_const", const=False)
    snat.add_argument("--enable-snat", dest="enable_snat", action="store_const", const=True)
    gateway.add_argument(
        "--fixed-ip",
        dest="fixed_ips",
        type=FIXED_IP,
        action="append",
        metavar="subnet_id=SUBNET,ip_address=IP",
    )
    gateway.set_defaults(handler=_gateway_set)
    for verb, handler, text in (
        ("router-gateway-clear", _gateway_clear, "Remove the external gateway."),
        ("router-port-list", _port_list, "List the ports of a router."),
    ):
        parser = subparsers.add_parser(verb, parents=parents, help=text)
        parser.add_argument("router", metavar="ROUTER", help="name or id")
        parser.set_defaults(handler=handler)
