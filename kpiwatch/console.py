"""The CLI's terminal output: tables and messages on stdout, one-line errors on stderr."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import NoReturn

from rich.console import Console
from rich.table import Table
from rich.text import Text

# Wide enough for the tables when output goes to a file or a pipe.
out = Console(highlight=False, emoji=False, width=None if sys.stdout.isatty() else 140)
# Errors are never wrapped: a user copies the file name and line from them.
err = Console(
    stderr=True,
    highlight=False,
    emoji=False,
    soft_wrap=True,
    width=None if sys.stderr.isatty() else 140,
)


def fail(message: str) -> NoReturn:
    """Print one clear message on stderr and exit 1."""
    err.print(message, markup=False)
    sys.exit(1)


def table(*columns: str, title: str) -> Table:
    """A table whose title is shown as typed (never read as rich markup)."""
    return Table(*columns, title=Text(title))


def wrote(paths: Iterable[Path]) -> None:
    """Name each file written, one a line."""
    for path in paths:
        out.print(f"wrote {path}", markup=False)


def add_row(into: Table, cells: Iterable[object]) -> None:
    """Add a row, each cell as plain text: config and file texts are never markup."""
    into.add_row(*(c if isinstance(c, Text) else Text(str(c)) for c in cells))
