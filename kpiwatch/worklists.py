"""Operations on units' lists (一单位一清单) behind the CLI verbs and the service."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path

import duckdb

from ingest.errors import ConfigError, KpiwatchError
from ingest.loader import LoadReport
from ingest.store import open_store, sync_catalog, transaction
from ingest.task_checks import unknown_projects
from ingest.tasks import ORDER, load_records, sync_declared, sync_units
from ingest.textfiles import resolved
from ingest.unit_schema import TaskFile, unit_ids
from kpiwatch.config import Config
from metrics import task_status, unit_list


def record_files(config: Config, spec: TaskFile) -> list[Path]:
    """The files a [[task_files]] path or glob names, sorted."""
    pattern = config.resolve(spec.path)
    if any(ch in spec.path for ch in "*?["):
        return sorted(p for p in pattern.parent.glob(pattern.name) if p.is_file())
    return [pattern]


def _match(config: Config, path: Path) -> TaskFile | None:
    for spec in config.task_files:
        if fnmatch.fnmatch(str(resolved(path)), str(config.resolve(spec.path).resolve())):
            return spec
    return None


def split_files(config: Config, files: Sequence[Path]) -> tuple[list[Path], list[Path]]:
    """The files a [[task_files]] entry matches, and the others."""
    mine = [p for p in files if _match(config, p) is not None]
    return mine, [p for p in files if p not in mine]


def ingest_records(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    files: Sequence[Path] | None = None,
    known_from: datetime | None = None,
    rejects_dir: Path | None = None,
) -> list[tuple[Path, LoadReport | None, KpiwatchError | None]]:
    """Sync the config's units, tasks and problems, then load task files: `files` (each
    matching a [[task_files]] entry), or every configured one when None. With
    `rejects_dir`, each refused file's problems go to DIR/<file>.rejects.csv."""
    with transaction(con):  # the units view shows the regions too
        sync_catalog(con, config.indicators, config.regions)
    sync_units(con, config.units)
    # Like a file, the config's problems are written whole or not at all.
    unknown = unknown_projects(con, config.problems)
    declared = None if unknown else config.problems
    sync_declared(con, "config.toml", config.tasks, declared, known_from)
    task_status.install(con, config.task_scoring)
    results: list[tuple[Path, LoadReport | None, KpiwatchError | None]] = []
    if unknown:
        results.append((Path("config.toml"), None, ConfigError("config.toml", unknown)))
    if files is not None:
        todo = [(p, spec) for p in files if (spec := _match(config, p)) is not None]
    else:
        todo = [(p, s) for s in config.task_files for p in record_files(config, s)]
    todo.sort(key=lambda ps: ORDER[ps[1].kind])
    units = unit_ids(config.units, config.regions)
    for path, spec in todo:
        rejects = rejects_dir / f"{path.name}.rejects.csv" if rejects_dir else None
        try:
            load = load_records(con, path, spec, units, known_from, rejects)
        except KpiwatchError as exc:
            results.append((path, None, exc))
            continue
        report = LoadReport(
            load.file,
            f"task_files:{load.kind}",
            load.rows_read,
            load.load_id,
            already_loaded=load.already_loaded,
        )
        results.append((path, report, None))
    return results


def _open(config: Config) -> duckdb.DuckDBPyConnection:
    """The store, with the status macros as the config weighs them now."""
    con = open_store(config.store_path, False, config.store.memory_limit)
    try:
        task_status.install(con, config.task_scoring)
    except BaseException:
        con.close()
        raise
    return con


def ranking(config: Config, as_of: date) -> list[dict[str, object]]:
    """Every unit's score and rank within its parent, as of a day."""
    con = _open(config)
    try:
        return unit_list.ranking(con, as_of)
    finally:
        con.close()


def one_unit(config: Config, unit: str, as_of: date) -> unit_list.UnitList | None:
    """One unit's list as of a day (None: no such unit)."""
    con = _open(config)
    try:
        return unit_list.unit_list(con, unit, as_of)
    finally:
        con.close()
