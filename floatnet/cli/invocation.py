"""One invocation of a command, which every handler gets: the parsed arguments, a lazily built client and the
output settings.

Handlers never print directly with formatting of their own; they hand objects and rows to :class:`Invocation`,
which renders them with :mod:`floatnet.cli.output` in the format the user chose (``-f``, ``-c``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from floatnet.cli import output
from floatnet.cli.client import connect
from floatnet.client import Client


@dataclass
class Invocation:
    """The parsed arguments plus the client (created on first use, so parsing errors never need a server)."""

    args: argparse.Namespace
    out: TextIO = field(default_factory=lambda: sys.stdout)
    _client: Client | None = None

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = connect(self.args.os_url, self.args.os_cloud)
        return self._client

    @property
    def fmt(self) -> str:
        return str(getattr(self.args, "format", "table") or "table")

    @property
    def columns(self) -> list[str] | None:
        return getattr(self.args, "columns", None) or None

    def message(self, text: str) -> None:
        """A human line such as ``Created a new network:`` — only in table format, so ``-f json`` stays
        JSON."""
        if self.fmt == "table":
            print(text, file=self.out)

    def show(self, data: dict[str, Any]) -> None:
        print(output.render_object(data, self.fmt, self.columns), file=self.out)

    def show_list(self, rows: Sequence[dict[str, Any]], default_columns: Sequence[str]) -> None:
        print(output.render_list(rows, default_columns, self.fmt, self.columns), file=self.out)
