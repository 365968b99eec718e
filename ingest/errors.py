"""The exception hierarchy of kpiwatch, shared by every stage.

KpiwatchError
├── ConfigError     config.toml is invalid; carries every problem with its TOML path
├── IngestError     a file was refused; carries file, line and field of each bad row
├── StoreError      the DuckDB file cannot be opened, migrated or written
├── StageError      a later stage (checks, forecasts, exporters) failed as a whole
└── UsageError      a command-line value names nothing kpiwatch knows (region, period …)
"""

from __future__ import annotations

from dataclasses import dataclass


class KpiwatchError(Exception):
    """Base of every error kpiwatch raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the config: where (TOML path) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConfigError(KpiwatchError):
    """config.toml failed validation; `problems` lists every finding."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s)\n{lines}")


@dataclass(frozen=True)
class RowError:
    """One bad row of an input file."""

    line: int
    field: str
    value: str
    reason: str

    def __str__(self) -> str:
        shown = self.value if len(self.value) <= 60 else self.value[:57] + "..."
        return f"line {self.line}, field {self.field!r} ({shown!r}): {self.reason}"


class IngestError(KpiwatchError):
    """A file was refused whole; nothing of it was written."""

    shown = 10

    def __init__(self, file: str, errors: list[RowError], total: int | None = None) -> None:
        self.file = file
        self.errors = errors
        self.total = total if total is not None else len(errors)
        head = "\n".join(f"  {file}: {e}" for e in errors[: self.shown])
        more = self.total - min(len(errors), self.shown)
        tail = f"\n  … and {more} more" if more > 0 else ""
        super().__init__(f"{file}: refused, {self.total} bad row(s)\n{head}{tail}")


class StoreError(KpiwatchError):
    """The DuckDB store could not be used."""


class StageError(KpiwatchError):
    """A pipeline stage failed as a whole."""


class UsageError(KpiwatchError):
    """A value given on the command line matches nothing; the message lists the nearest."""
