"""Operations on project registers behind the CLI and the service: load, the board."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import duckdb

from ingest.errors import KpiwatchError
from ingest.register_schema import Register
from ingest.register_store import RegisterReport, load_register
from ingest.store import open_store
from ingest.textfiles import resolved
from kpiwatch.config import Config, find_region
from metrics.project_dekads import dekad_checks
from metrics.projects import Supervision, supervise

Outcome = tuple[Path, RegisterReport | None, KpiwatchError | None]


def register_files(config: Config, register: Register) -> list[Path]:
    """The files a register's path or glob names, sorted (oldest register first by name)."""
    pattern = config.resolve(register.path)
    if any(ch in register.path for ch in "*?["):
        return sorted(p for p in pattern.parent.glob(pattern.name) if p.is_file())
    return [pattern]


def is_register(config: Config, name: str | None) -> bool:
    """Whether a --source name names a register."""
    return name is not None and any(r.name == name for r in config.registers)


def register_plan(
    config: Config, files: Sequence[Path], source_name: str | None
) -> list[tuple[Path, Register]]:
    """The register files to load: named ones matching a register, else every register's."""
    by_name = {r.name: r for r in config.registers}
    if files:
        planned = []
        for path in files:
            register = by_name.get(source_name or "") or _match(config, path)
            if register is not None:
                planned.append((path, register))
        return planned
    if source_name is not None and source_name not in by_name:
        return []
    chosen = [by_name[source_name]] if source_name else list(config.registers)
    return [(p, r) for r in chosen for p in register_files(config, r)]


def _match(config: Config, path: Path) -> Register | None:
    target = str(resolved(path))
    for register in config.registers:
        if fnmatch.fnmatch(target, str(config.resolve(register.path).resolve())):
            return register
    return None


def ingest_registers(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    planned: Sequence[tuple[Path, Register]],
    known_from: datetime | None = None,
) -> list[Outcome]:
    """Load register files into an open store, each whole or refused."""
    outcomes: list[Outcome] = []
    for path, register in planned:
        try:
            report = load_register(
                con,
                path,
                register,
                config.indicator_map(),
                config.regions,
                config.registers,
                known_from=known_from,
            )
        except KpiwatchError as exc:
            outcomes.append((path, None, exc))
        else:
            outcomes.append((path, report, None))
    return outcomes


def board(config: Config, as_of: date | None, region: str | None, unit: str | None) -> Supervision:
    """The register board as known at the end of as_of (default: today)."""
    region_id = find_region(config, region).id if region else None
    con = open_store(config.store_path, True, config.store.memory_limit)
    try:
        day = as_of or date.today()
        dekads = dekad_checks(
            con, config.targets, config.indicator_map(), config.thresholds_for, day
        )
        if region_id is not None:
            dekads = [c for c in dekads if c.region == region_id]
        return replace(supervise(con, day, region_id, unit), dekads=dekads)
    finally:
        con.close()
