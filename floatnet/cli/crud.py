"""The five generic verbs (``X-create|show|list|update|delete``) built once from a per-resource description.

A resource module (networks, ports, routers, …) describes only what differs — its options and how they become
a request body — in a :class:`Verbs`; this module adds the sub-commands and implements the shared behaviour:
name-or-id lookup, the neutron client's messages (``Created a new network:``, ``Updated network: X``,
``Deleted network: X``) and list filters given as options.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from floatnet.cli.args import extra_filters
from floatnet.cli.client import CliError
from floatnet.cli.invocation import Invocation

Body = dict[str, Any]
AddArgs = Callable[[argparse.ArgumentParser], None]
MakeBody = Callable[[Invocation, argparse.Namespace], Body]
Decorate = Callable[[Invocation, list[Body]], list[Body]]


@dataclass(frozen=True)
class Verbs:
    """How one resource type maps to the neutron client's verbs."""

    kind: str  # API singular: "network"
    prefix: str  # verb prefix: "net"
    label: str  # word in messages: "network"
    list_columns: tuple[str, ...]
    add_create_args: AddArgs
    create_body: MakeBody
    add_update_args: AddArgs | None = None
    update_body: MakeBody | None = None
    decorate_list: Decorate | None = None


def compact(**attrs: Any) -> Body:
    """The attributes that were given (not None), for a request body that changes only what the user asked."""
    return {key: value for key, value in attrs.items() if value is not None}


def add_common_create_args(parser: argparse.ArgumentParser) -> None:
    """Options every create verb has: owner project, description, tags."""
    parser.add_argument("--tenant-id", "--project-id", dest="project_id", metavar="PROJECT_ID")
    parser.add_argument("--description")
    parser.add_argument("--tag", dest="tags", action="append", metavar="TAG", help="repeatable")


def common_create_body(args: argparse.Namespace) -> Body:
    return compact(project_id=args.project_id, description=args.description, tags=args.tags)


def register(subparsers: Any, verbs: Verbs, parents: Sequence[argparse.ArgumentParser]) -> None:
    """Add ``<prefix>-create|show|list|update|delete`` for ``verbs`` to the CLI's sub-parsers."""
    name = verbs.label
    create = subparsers.add_parser(f"{verbs.prefix}-create", parents=parents, help=f"Create a {name}.")
    verbs.add_create_args(create)
    create.set_defaults(handler=lambda ctx: _create(ctx, verbs))
    show = subparsers.add_parser(f"{verbs.prefix}-show", parents=parents, help=f"Show a {name}.")
    show.add_argument("target", metavar=verbs.kind.upper(), help="name or id")
    show.set_defaults(handler=lambda ctx: ctx.show(ctx.client.find(verbs.kind, ctx.args.target)))
    listing = subparsers.add_parser(f"{verbs.prefix}-list", parents=parents, help=f"List {name}s.")
    listing.add_argument("-D", "--show-details", action="store_true", help="all fields as columns")
    listing.set_defaults(handler=lambda ctx: _list(ctx, verbs), accepts_filters=True)
    if verbs.add_update_args is not None:
        update = subparsers.add_parser(f"{verbs.prefix}-update", parents=parents, help=f"Update a {name}.")
        update.add_argument("target", metavar=verbs.kind.upper(), help="name or id")
        verbs.add_update_args(update)
        update.set_defaults(handler=lambda ctx: _update(ctx, verbs))
    delete = subparsers.add_parser(f"{verbs.prefix}-delete", parents=parents, help=f"Delete {name}(s).")
    delete.add_argument("targets", metavar=verbs.kind.upper(), nargs="+", help="names or ids")
    delete.set_defaults(handler=lambda ctx: _delete(ctx, verbs))


def _create(ctx: Invocation, verbs: Verbs) -> None:
    created = ctx.client.create(verbs.kind, verbs.create_body(ctx, ctx.args))
    ctx.message(f"Created a new {verbs.label}:")
    ctx.show(created)


def _list(ctx: Invocation, verbs: Verbs) -> None:
    try:
        filters = extra_filters(getattr(ctx.args, "extra", []))
    except ValueError as error:
        raise CliError(str(error)) from None
    rows = ctx.client.list(verbs.kind, **filters)
    if verbs.decorate_list is not None:
        rows = verbs.decorate_list(ctx, rows)
    columns = list(verbs.list_columns)
    if ctx.args.show_details:
        columns += sorted({key for row in rows for key in row if key not in columns})
    ctx.show_list(rows, columns)


def _update(ctx: Invocation, verbs: Verbs) -> None:
    assert verbs.update_body is not None
    body = verbs.update_body(ctx, ctx.args)
    if not body:
        raise CliError(f"Must specify new values to update {verbs.label}")
    target_id = ctx.client.find_id(verbs.kind, ctx.args.target)
    updated = ctx.client.update(verbs.kind, target_id, body)
    ctx.message(f"Updated {verbs.label}: {ctx.args.target}")
    if ctx.fmt != "table":
        ctx.show(updated)


def _delete(ctx: Invocation, verbs: Verbs) -> None:
    for target in ctx.args.targets:
        ctx.client.delete(verbs.kind, ctx.client.find_id(verbs.kind, target))
        print(f"Deleted {verbs.label}: {target}", file=ctx.out)
