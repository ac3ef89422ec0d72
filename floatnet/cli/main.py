"""``floatnet <verb> …``: the CLI entry point (every sub-command but server/db/agent, see floatnet.entry).

Global options follow the neutron client: ``--os-url``/``OS_URL`` (no auth), ``--os-cloud``/``OS_CLOUD``
(clouds.yaml), ``--debug``; per command ``-f table|json|value|yaml`` and ``-c COLUMN``. Global options are
accepted before or after the verb.

Verbs come from small modules that each add their sub-parsers. Other helpers' commands plug in the same way:
a module ``floatnet.cli.<name>`` in :data:`PLUGINS` with ``register(subparsers)`` (adds its sub-parsers) and
``run(args) -> int``; a missing module is skipped, a broken one answers with its error instead of taking the
whole CLI down. The CLI talks HTTP only — it never imports the server's layers (api, core, db).
"""

from __future__ import annotations

import argparse
import functools
import importlib
import logging
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from floatnet.cli import crud, floatingip, nat, port_forwarding, router, updown
from floatnet.cli.args import normalize_bool_flags
from floatnet.cli.client import CliError
from floatnet.cli.floatingip import FLOATINGIP
from floatnet.cli.invocation import Invocation
from floatnet.cli.network import NETWORK, SUBNET
from floatnet.cli.output import FORMATS, OutputError
from floatnet.cli.port import PORT
from floatnet.cli.router import ROUTER
from floatnet.cli.security_group import SECURITY_GROUP, SECURITY_GROUP_RULE
from floatnet.cli.subnet_pool import ADDRESS_SCOPE, SUBNETPOOL
from floatnet.client import ApiError

PLUGINS = ("lab", "demo", "diagnose", "cleanup")
GLOBAL_DESTS = ("os_url", "os_cloud", "debug")


def _global_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """Endpoint and debug options; on sub-parsers with SUPPRESS defaults so they never clobber the main's."""
    default: Any = argparse.SUPPRESS if suppress else None
    parser.add_argument("--os-url", default=default, metavar="URL", help="API endpoint, no auth (env OS_URL)")
    parser.add_argument(
        "--os-cloud", default=default, metavar="CLOUD", help="clouds.yaml entry (env OS_CLOUD)"
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="log HTTP requests",
    )


def _command_parent() -> argparse.ArgumentParser:
    """Options every API verb takes: the global ones again, plus the output format and columns."""
    parent = argparse.ArgumentParser(add_help=False)
    _global_options(parent, suppress=True)
    parent.add_argument("-f", "--format", choices=FORMATS, default="table", help="output format")
    parent.add_argument(
        "-c",
        "--column",
        dest="columns",
        action="append",
        metavar="COLUMN",
        help="show this column (repeatable)",
    )
    return parent


def build_parser(plugins: Sequence[str] = PLUGINS) -> argparse.ArgumentParser:
    """The whole command line: API verbs, ``router-nat-show``, ``up``/``down`` and the ``plugins`` named."""
    parser = argparse.ArgumentParser(
        prog="floatnet", description="Floating IPs without the cloud: the neutron client's verbs, and more."
    )
    _global_options(parser, suppress=False)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    parents = [_command_parent()]
    resources = (NETWORK, SUBNET, PORT, ROUTER, FLOATINGIP, SECURITY_GROUP, SECURITY_GROUP_RULE)
    for verbs in (*resources, SUBNETPOOL, ADDRESS_SCOPE):
        crud.register(subparsers, verbs, parents)
    router.register(subparsers, parents)
    floatingip.register(subparsers, parents)
    port_forwarding.register(subparsers, parents)
    nat.register(subparsers, parents)
    updown.register(subparsers)
    for name in plugins:
        _register_plugin(subparsers, name)
    return parser


@functools.cache
def _own_commands() -> frozenset[str]:
    """The verbs this package defines itself (the parser built without plugins)."""
    parser = build_parser(())
    return frozenset(
        name
        for action in parser._actions
        if isinstance(action, argparse._SubParsersAction)
        for name in action.choices
    )


def plugins_needed(words: Sequence[str]) -> tuple[str, ...]:
    """The plugins to import for this command line: only the one it runs, none for our own verbs.

    Plugins (lab, demo, …) pull in the kernel layer; ``floatnet net-list`` should not pay for that. Help or an
    unknown verb loads them all so the usage message lists every command.
    """
    skip_value = False
    for word in words:
        if skip_value:
            skip_value = False
        elif word in ("--os-url", "--os-cloud"):
            skip_value = True
        elif not word.startswith("-"):
            if word in PLUGINS:
                return (word,)
            return () if word in _own_commands() else PLUGINS
    return PLUGINS


def _register_plugin(subparsers: Any, name: str) -> None:
    """Let ``floatnet.cli.<name>`` add its sub-parsers; mark them to run through its ``run(args)``."""
    module_name = f"{__package__}.{name}"
    before = set(subparsers.choices)
    try:
        module = importlib.import_module(module_name)
        module.register(subparsers)
    except ModuleNotFoundError as error:
        if error.name == module_name:
            return
        _unavailable(subparsers, name, error)
        return
    except Exception as error:  # a broken plugin must not take the other commands down
        _unavailable(subparsers, name, error)
        return
    for added in set(subparsers.choices) - before:
        subparsers.choices[added].set_defaults(plugin_run=module.run)
        _keep_global_values(subparsers.choices[added])


def _keep_global_values(parser: argparse.ArgumentParser) -> None:
    """Stop a plugin's own ``--os-url``/``--os-cloud``/``--debug`` defaults from erasing the global ones.

    argparse copies every sub-parser default over the main parser's values, so ``floatnet --os-url X lab …``
    would lose X; a SUPPRESS default leaves the value given before the verb in place.
    """
    for action in parser._actions:
        if action.dest in GLOBAL_DESTS:
            action.default = argparse.SUPPRESS


def _unavailable(subparsers: Any, name: str, error: BaseException) -> None:
    if name in subparsers.choices:
        return
    parser = subparsers.add_parser(name, help=f"(unavailable: {error})", add_help=False)
    parser.add_argument("rest", nargs=argparse.REMAINDER)

    def handler(ctx: Invocation) -> int:
        raise CliError(f"floatnet {name} is unavailable: {error}")

    parser.set_defaults(handler=handler)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one CLI command; 0 on success, 1 on an error (message on stderr), 2 on a usage error."""
    words = normalize_bool_flags(sys.argv[1:] if argv is None else argv)
    parser = build_parser(plugins_needed(words))
    try:
        args, extra = parser.parse_known_args(words)
        if extra and not getattr(args, "accepts_filters", False):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else 2
    args.extra = extra
    if args.debug:
        logging.basicConfig(level=logging.DEBUG, format="%(name)s %(levelname)s %(message)s")
    if not args.command:
        parser.print_help(sys.stderr)
        return 2
    return _run(args)


def _run(args: argparse.Namespace) -> int:
    run: Callable[[], Any] = (
        (lambda: args.plugin_run(args))
        if hasattr(args, "plugin_run")
        else (lambda: args.handler(Invocation(args)))
    )
    try:
        return int(run() or 0)
    except (CliError, OutputError) as error:
        print(str(error), file=sys.stderr)
        return 1
    except ApiError as error:
        print(error.message, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        if args.debug:
            traceback.print_exc()
        print(f"floatnet {args.command}: unexpected error: {error}", file=sys.stderr)
        return 1
