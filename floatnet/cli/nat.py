"""``floatnet router-nat-show ROUTER``: the router's NAT table and floating-IP maps, as the kernel has them.

The seed inspects floating IPs with ``ip netns exec qrouter-<id> iptables -t nat -S``; floatnet's equivalent
is ``ip netns exec qrouter-<id> nft list table ip floatnet`` (maps ``fip_dnat``/``fip_snat``, see
docs/linux-api.md). This command runs exactly that (printing the command, so the operator learns it) on this
node. The router is resolved by name or id through the API; with the API down, an id still works. Needs root,
like ``ip netns exec``.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
from typing import Any

from floatnet.cli.client import CliError
from floatnet.cli.context import Context
from floatnet.client import ApiError
from floatnet.linux.names import router_ns

NAT_TABLE = ("ip", "floatnet")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)


def _router_id(ctx: Context, name_or_id: str) -> str:
    """The router's id from the API; a UUID is taken as is when the API cannot be asked."""
    try:
        return ctx.client.find_id("router", name_or_id)
    except ApiError:
        if UUID.match(name_or_id):
            return name_or_id
        raise


def nft_argv(namespace: str, as_json: bool) -> list[str]:
    """``ip netns exec <ns> nft [-j] list table ip floatnet``."""
    return [
        "ip",
        "netns",
        "exec",
        namespace,
        "nft",
        *(["-j"] if as_json else []),
        "list",
        "table",
        *NAT_TABLE,
    ]


def _namespace_present(namespace: str) -> bool:
    from floatnet.linux import netns

    return netns.exists(namespace)


def show_nat(ctx: Context) -> int:
    router = ctx.args.router
    router_id = _router_id(ctx, router)
    namespace = router_ns(router_id)
    if not _namespace_present(namespace):
        raise CliError(
            f"Router {router} has no namespace {namespace} on this node: the router is hosted on another "
            "node, has no gateway or interface yet, or the floatnet agent is not running here "
            "(start it: floatnet up)."
        )
    argv = nft_argv(namespace, ctx.fmt == "json")
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise CliError(f"{' '.join(argv)}: {error}") from None
    if done.returncode != 0:
        reason = done.stderr.strip() or f"exit status {done.returncode}"
        raise CliError(
            f"No NAT table {' '.join(NAT_TABLE)} in {namespace} "
            f"(the agent has not configured it yet?): {reason}"
        )
    if ctx.fmt == "json":
        print(json.dumps(_parsed(done.stdout), indent=4), file=ctx.out)
        return 0
    print(f"# {' '.join(argv)}", file=ctx.out)
    print(done.stdout.rstrip("\n"), file=ctx.out)
    return 0


def _parsed(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise CliError(f"nft printed no JSON: {text[:200]!r}") from None


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "router-nat-show", parents=parents, help="Show a router's NAT table and floating-IP maps (this node)."
    )
    parser.add_argument("router", metavar="ROUTER", help="name or id")
    parser.set_defaults(handler=show_nat)
