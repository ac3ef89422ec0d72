"""The `floatnet` console script.

Dispatches to the process that a sub-command names, importing only that process's layer: `server` and `db`
load the API (and so the domain and the database), `agent` loads the reconcile loop, and everything else is the
HTTP-only CLI. Keeping this dispatch outside `floatnet.cli` is what lets the CLI stay free of server code.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Run the sub-command in ``argv`` (default: the process arguments) and return its exit status."""
    args = sys.argv[1:] if argv is None else list(argv)
    command = args[0] if args else ""
    if command in ("server", "db"):
        from floatnet.api.serve import main as serve_main

        return serve_main(args)
    if command == "agent":
        from floatnet.agent.main import main as agent_main

        return agent_main(args[1:])
    from floatnet.cli.main import main as cli_main

    return cli_main(args)


if __name__ == "__main__":
    sys.exit(main())
