"""``port-*``: ports on a network — what an instance (or the lab's stand-in for one) plugs in with.

``--fixed-ip subnet_id=SUBNET,ip_address=IP`` (repeatable; either key alone is fine, a subnet by name or id),
``--mac-address``, ``--device-owner``, ``--device-id`` and ``--binding:host_id`` (the node whose agent plugs
it).
"""

from __future__ import annotations

import argparse

from floatnet.cli.args import key_values_with, parse_bool
from floatnet.cli.client import CliError
from floatnet.cli.crud import Body, Verbs, add_common_create_args, common_create_body, compact
from floatnet.cli.invocation import Invocation

FIXED_IP = key_values_with((), ("subnet_id", "subnet", "ip_address"))
ADDRESS_PAIR = key_values_with(("ip_address",), ("mac_address",))


def fixed_ips(ctx: Invocation, given: list[dict[str, str]] | None) -> list[Body] | None:
    """The ``fixed_ips`` body from ``--fixed-ip`` options, subnets resolved from names to ids."""
    if given is None:
        return None
    result = []
    for item in given:
        subnet = item.get("subnet_id") or item.get("subnet")
        entry = compact(ip_address=item.get("ip_address") or None)
        if subnet:
            entry["subnet_id"] = ctx.client.find_id("subnet", subnet)
        if not entry:
            raise CliError("--fixed-ip needs subnet_id=SUBNET and/or ip_address=IP")
        result.append(entry)
    return result


def _add_port_options(parser: argparse.ArgumentParser) -> None:
    """Options port-create and port-update share."""
    parser.add_argument("--name")
    parser.add_argument(
        "--fixed-ip",
        dest="fixed_ips",
        type=FIXED_IP,
        action="append",
        metavar="subnet_id=SUBNET,ip_address=IP",
    )
    parser.add_argument("--device-owner")
    parser.add_argument("--device-id")
    parser.add_argument("--binding:host_id", dest="host_id", metavar="HOST")
    parser.add_argument("--port-security-enabled", type=parse_bool, metavar="[BOOL]")
    parser.add_argument(
        "--security-group", dest="security_groups", action="append", metavar="SECURITY_GROUP", help="repeatable"
    )
    parser.add_argument(
        "--allowed-address-pair",
        dest="address_pairs",
        type=ADDRESS_PAIR,
        action="append",
        metavar="ip_address=IP[,mac_address=MAC]",
    )


def _security_body(ctx: Invocation, args: argparse.Namespace) -> Body:
    """``security_groups`` (names resolved) and ``allowed_address_pairs``; the ``--no-*`` flags empty them."""
    body: Body = {}
    if args.security_groups:
        body["security_groups"] = [ctx.client.find_id("security_group", name) for name in args.security_groups]
    elif getattr(args, "no_security_groups", False):
        body["security_groups"] = []
    if args.address_pairs:
        body["allowed_address_pairs"] = args.address_pairs
    elif getattr(args, "no_allowed_address_pairs", False):
        body["allowed_address_pairs"] = []
    return body


def _options_body(ctx: Invocation, args: argparse.Namespace) -> Body:
    return compact(
        name=args.name,
        fixed_ips=fixed_ips(ctx, args.fixed_ips),
        device_owner=args.device_owner,
        device_id=args.device_id,
        port_security_enabled=args.port_security_enabled,
        **{"binding:host_id": args.host_id},
    ) | _security_body(ctx, args)


def _add_create_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("network", metavar="NETWORK", help="name or id")
    parser.add_argument("--mac-address")
    parser.add_argument("--admin-state-down", dest="admin_state_up", action="store_false")
    _add_port_options(parser)
    add_common_create_args(parser)


def _create_body(ctx: Invocation, args: argparse.Namespace) -> Body:
    body: Body = {"network_id": ctx.client.find_id("network", args.network)}
    body |= compact(mac_address=args.mac_address) | _options_body(ctx, args) | common_create_body(args)
    if not args.admin_state_up:
        body["admin_state_up"] = False
    return body


def _add_update_args(parser: argparse.ArgumentParser) -> None:
    _add_port_options(parser)
    parser.add_argument("--no-fixed-ips", action="store_true", help="remove every fixed IP")
    parser.add_argument("--no-security-groups", action="store_true", help="remove every security group")
    parser.add_argument("--no-allowed-address-pairs", action="store_true", help="remove every address pair")
    parser.add_argument("--admin-state-up", type=parse_bool, metavar="[BOOL]")
    parser.add_argument("--description")


def _update_body(ctx: Invocation, args: argparse.Namespace) -> Body:
    body = _options_body(ctx, args) | compact(admin_state_up=args.admin_state_up, description=args.description)
    if args.no_fixed_ips:
        body["fixed_ips"] = []
    return body


PORT = Verbs(
    kind="port",
    prefix="port",
    label="port",
    list_columns=("id", "name", "mac_address", "fixed_ips"),
    add_create_args=_add_create_args,
    create_body=_create_body,
    add_update_args=_add_update_args,
    update_body=_update_body,
)
