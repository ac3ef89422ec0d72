"""``subnetpool-*`` and ``address-scope-*``: the neutron client's subnet pool and address scope verbs.

``subnetpool-create --pool-prefix 10.0.0.0/16 --default-prefixlen 26 NAME`` (``--pool-prefix`` repeatable,
``--address-scope`` by name or id); ``subnetpool-update --pool-prefix`` sends the old prefixes plus the new
ones (a pool's prefixes only grow); ``address-scope-create NAME 4``. Subnets come from a pool with
``subnet-create NET --subnetpool POOL --prefixlen 26``.
"""

from __future__ import annotations

import argparse

from floatnet.cli.args import parse_bool
from floatnet.cli.crud import Body, Verbs, add_common_create_args, common_create_body, compact
from floatnet.cli.invocation import Invocation


def _add_pool_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pool-prefix", dest="prefixes", action="append", metavar="CIDR", help="repeatable")
    for bound in ("default", "min", "max"):
        parser.add_argument(f"--{bound}-prefixlen", dest=f"{bound}_prefixlen", type=int, metavar="N")
    parser.add_argument("--default-quota", type=int, metavar="UNITS", help="addresses (IPv4) or /64s (IPv6)")
    parser.add_argument("--is-default", type=parse_bool, metavar="[BOOL]")
    parser.add_argument("--address-scope", metavar="ADDRESS_SCOPE", help="name or id")


def _pool_body(ctx: Invocation, args: argparse.Namespace) -> Body:
    scope = ctx.client.find_id("address_scope", args.address_scope) if args.address_scope else None
    return compact(
        default_prefixlen=args.default_prefixlen,
        min_prefixlen=args.min_prefixlen,
        max_prefixlen=args.max_prefixlen,
        default_quota=args.default_quota,
        is_default=args.is_default,
        address_scope_id=scope,
    )


def _add_pool_create_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME")
    _add_pool_options(parser)
    parser.add_argument("--shared", action="store_const", const=True)
    add_common_create_args(parser)


def _pool_create_body(ctx: Invocation, args: argparse.Namespace) -> Body:
    body = {"name": args.name} | compact(prefixes=args.prefixes, shared=args.shared)
    return body | _pool_body(ctx, args) | common_create_body(args)


def _add_pool_update_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name")
    parser.add_argument("--description")
    _add_pool_options(parser)


def _pool_update_body(ctx: Invocation, args: argparse.Namespace) -> Body:
    body = compact(name=args.name, description=args.description) | _pool_body(ctx, args)
    if args.prefixes:
        old = ctx.client.find("subnetpool", args.target)["prefixes"]
        body["prefixes"] = [*old, *args.prefixes]
    return body


def _add_scope_create_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME")
    parser.add_argument("ip_version", metavar="IP_VERSION", type=int, choices=(4, 6))
    parser.add_argument("--shared", action="store_const", const=True)
    add_common_create_args(parser)


def _scope_create_body(ctx: Invocation, args: argparse.Namespace) -> Body:
    body = {"name": args.name, "ip_version": args.ip_version} | compact(shared=args.shared)
    return body | common_create_body(args)


def _add_scope_update_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name")
    parser.add_argument("--description")
    parser.add_argument("--shared", type=parse_bool, metavar="[BOOL]")


def _scope_update_body(ctx: Invocation, args: argparse.Namespace) -> Body:
    return compact(name=args.name, description=args.description, shared=args.shared)


SUBNETPOOL = Verbs(
    kind="subnetpool",
    prefix="subnetpool",
    label="subnetpool",
    list_columns=("id", "name", "prefixes", "default_prefixlen", "address_scope_id"),
    add_create_args=_add_pool_create_args,
    create_body=_pool_create_body,
    add_update_args=_add_pool_update_args,
    update_body=_pool_update_body,
)

ADDRESS_SCOPE = Verbs(
    kind="address_scope",
    prefix="address-scope",
    label="address_scope",
    list_columns=("id", "name", "shared", "ip_version"),
    add_create_args=_add_scope_create_args,
    create_body=_scope_create_body,
    add_update_args=_add_scope_update_args,
    update_body=_scope_update_body,
)
