"""``floatingip-port-forwarding-create|list|show|update|delete``: one floating IP shared between instances by
port (the ``openstack floating ip port forwarding`` verbs, in the neutron client's style).

The floating IP is given by id or address, the internal port by name or id; ``--internal-protocol-port`` and
``--external-protocol-port`` take one port (``22``) or a range (``8000:8009``), as OSC's options do.
"""

from __future__ import annotations

import argparse
from typing import Any

from floatnet.cli.client import CliError
from floatnet.cli.crud import Body, compact
from floatnet.cli.invocation import Invocation

PREFIX = "floatingip-port-forwarding"
LIST_COLUMNS = ("id", "internal_port_id", "internal_ip_address", "internal_port", "internal_port_range",
                "external_port", "external_port_range", "protocol", "description")  # fmt: skip


def _path(ctx: Invocation, *pf_id: str) -> str:
    fip_id = ctx.client.find_id("floatingip", ctx.args.floatingip)
    return "/".join((f"floatingips/{fip_id}/port_forwardings", *pf_id))


def _ports(side: str, value: str | None) -> Body:
    """``<side>_port`` for one port, ``<side>_port_range`` for ``N:M`` (the server validates the numbers)."""
    if value is None:
        return {}
    if ":" in value:
        return {f"{side}_port_range": value}
    try:
        return {f"{side}_port": int(value)}
    except ValueError:
        raise CliError(f"--{side}-protocol-port {value!r}: expected a port or a range N:M") from None


def _body(ctx: Invocation) -> Body:
    args = ctx.args
    port_id = ctx.client.find_id("port", args.port) if args.port else None
    body = compact(internal_port_id=port_id, internal_ip_address=args.internal_ip_address, protocol=args.protocol,
                   description=args.description)  # fmt: skip
    return body | _ports("internal", args.internal_protocol_port) | _ports("external", args.external_protocol_port)


def _create(ctx: Invocation) -> None:
    created = ctx.client.call("POST", _path(ctx), {"port_forwarding": _body(ctx)})["port_forwarding"]
    ctx.message("Created a new port forwarding:")
    ctx.show(created)


def _list(ctx: Invocation) -> None:
    rows = ctx.client.call("GET", _path(ctx))["port_forwardings"]
    ctx.show_list(rows, LIST_COLUMNS)


def _show(ctx: Invocation) -> None:
    ctx.show(ctx.client.call("GET", _path(ctx, ctx.args.port_forwarding))["port_forwarding"])


def _update(ctx: Invocation) -> None:
    body = _body(ctx)
    if not body:
        raise CliError("Must specify new values to update port forwarding")
    updated = ctx.client.call("PUT", _path(ctx, ctx.args.port_forwarding), {"port_forwarding": body})
    ctx.message(f"Updated port forwarding: {ctx.args.port_forwarding}")
    if ctx.fmt != "table":
        ctx.show(updated["port_forwarding"])


def _delete(ctx: Invocation) -> None:
    for pf_id in ctx.args.port_forwardings:
        ctx.client.call("DELETE", _path(ctx, pf_id))
        print(f"Deleted port forwarding: {pf_id}", file=ctx.out)


def _options(parser: argparse.ArgumentParser, creating: bool) -> None:
    parser.add_argument("--port", required=creating, metavar="PORT", help="the internal port (name or id)")
    parser.add_argument("--internal-ip-address", required=creating, metavar="IP", help="a fixed IPv4 of the port")
    parser.add_argument("--internal-protocol-port", required=creating, metavar="PORT[:PORT]")
    parser.add_argument("--external-protocol-port", required=creating, metavar="PORT[:PORT]")
    parser.add_argument("--protocol", required=creating, choices=("tcp", "udp"))
    parser.add_argument("--description")


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    """The five verbs; each names the floating IP (id or address) first."""
    verbs = {"create": _create, "list": _list, "show": _show, "update": _update, "delete": _delete}
    for verb, handler in verbs.items():
        parser = subparsers.add_parser(f"{PREFIX}-{verb}", parents=parents, help=f"{verb} floating IP port "
                                       "forwardings (one public address, many instances)")  # fmt: skip
        parser.add_argument("floatingip", metavar="FLOATINGIP", help="id or address")
        if verb in ("show", "update"):
            parser.add_argument("port_forwarding", metavar="PORT_FORWARDING_ID")
        if verb == "delete":
            parser.add_argument("port_forwardings", metavar="PORT_FORWARDING_ID", nargs="+")
        if verb in ("create", "update"):
            _options(parser, creating=verb == "create")
        parser.set_defaults(handler=handler)
