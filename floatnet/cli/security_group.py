"""``security-group-*`` and ``security-group-rule-*``: the neutron client's security group verbs.

``security-group-rule-create --direction ingress --protocol tcp --port-range-min 22 --port-range-max 22
--remote-ip-prefix 0.0.0.0/0 default`` names the group by name or id (``default`` is the project's own default
group). ``security-group-rule-list`` shows the neutron client's summary columns: the group's name,
``port/protocol`` (``22/tcp``, ``any``, ``icmp``) and ``remote`` (a prefix, ``group: NAME`` or ``any``).
"""

from __future__ import annotations

import argparse
from typing import Any

from floatnet.cli.args import parse_bool
from floatnet.cli.crud import Body, Verbs, add_common_create_args, common_create_body, compact
from floatnet.cli.invocation import Invocation


def _add_group_create_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME")
    parser.add_argument("--stateful", type=parse_bool, metavar="[BOOL]")
    add_common_create_args(parser)


def _group_create_body(ctx: Invocation, args: argparse.Namespace) -> Body:
    return {"name": args.name} | compact(stateful=args.stateful) | common_create_body(args)


def _add_group_update_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name")
    parser.add_argument("--description")
    parser.add_argument("--stateful", type=parse_bool, metavar="[BOOL]")


def _group_update_body(ctx: Invocation, args: argparse.Namespace) -> Body:
    return compact(name=args.name, description=args.description, stateful=args.stateful)


def _add_rule_create_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("security_group", metavar="SECURITY_GROUP", help="name or id")
    parser.add_argument("--direction", choices=("ingress", "egress"), default="ingress")
    parser.add_argument("--ethertype", default=None, help="IPv4 (default) or IPv6")
    parser.add_argument("--protocol", help="name (tcp, udp, icmp, …) or number")
    parser.add_argument("--port-range-min", "--port_range_min", dest="port_range_min", metavar="PORT_OR_ICMP_TYPE")
    parser.add_argument("--port-range-max", "--port_range_max", dest="port_range_max", metavar="PORT_OR_ICMP_CODE")
    remote = parser.add_mutually_exclusive_group()
    remote.add_argument("--remote-ip-prefix", "--remote_ip_prefix", dest="remote_ip_prefix", metavar="CIDR")
    remote.add_argument("--remote-group-id", "--remote_group_id", dest="remote_group", metavar="SECURITY_GROUP")
    add_common_create_args(parser)


def _rule_create_body(ctx: Invocation, args: argparse.Namespace) -> Body:
    body: Body = {"security_group_id": ctx.client.find_id("security_group", args.security_group)}
    remote = ctx.client.find_id("security_group", args.remote_group) if args.remote_group else None
    body |= compact(
        direction=args.direction,
        ethertype=args.ethertype,
        protocol=args.protocol,
        port_range_min=args.port_range_min,
        port_range_max=args.port_range_max,
        remote_ip_prefix=args.remote_ip_prefix,
        remote_group_id=remote,
    )
    return body | common_create_body(args)


def _port_protocol(rule: dict[str, Any]) -> str:
    protocol, low, high = rule.get("protocol"), rule.get("port_range_min"), rule.get("port_range_max")
    if protocol is None:
        return "any"
    if low is None:
        return str(protocol)
    return f"{low}/{protocol}" if low == high else f"{low}-{high}/{protocol}"


def _decorate_rules(ctx: Invocation, rows: list[Body]) -> list[Body]:
    """The neutron client's summary columns, the groups' names from one list call."""
    names = {group["id"]: group["name"] for group in ctx.client.list("security_group")}
    for row in rows:
        row["security_group"] = names.get(row["security_group_id"], row["security_group_id"])
        row["port/protocol"] = _port_protocol(row)
        remote_group = row.get("remote_group_id")
        row["remote"] = (
            f"group: {names.get(remote_group, remote_group)}" if remote_group else row.get("remote_ip_prefix") or "any"
        )
    return rows


SECURITY_GROUP = Verbs(
    kind="security_group",
    prefix="security-group",
    label="security_group",
    list_columns=("id", "name", "description"),
    add_create_args=_add_group_create_args,
    create_body=_group_create_body,
    add_update_args=_add_group_update_args,
    update_body=_group_update_body,
)

SECURITY_GROUP_RULE = Verbs(
    kind="security_group_rule",
    prefix="security-group-rule",
    label="security_group_rule",
    list_columns=("id", "security_group", "direction", "ethertype", "port/protocol", "remote"),
    add_create_args=_add_rule_create_args,
    create_body=_rule_create_body,
    decorate_list=_decorate_rules,
)
