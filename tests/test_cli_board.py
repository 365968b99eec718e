"""The board and the other verbs as a user runs them: plain text, clear errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.checks_helpers import CONFIG

KPIWATCH = str(Path(sys.executable).parent / "kpiwatch")


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KPIWATCH, *args], capture_output=True, text=True, cwd=cwd)


def refreshed(tmp: Path, config: str, rows: str) -> Path:
    """A refreshed store in tmp from config text and CSV rows."""
    (tmp / "config.toml").write_text(config, encoding="utf-8")
    (tmp / "data.csv").write_text("period,region,indicator,measure,value\n" + rows, "utf-8")
    done = run(tmp, "refresh", "--today", "2026-04-10")
    assert done.returncode == 0, done.stderr
    return tmp


def target(indicator: str, region: str, annual: float, year: int = 2026, extra: str = "") -> str:
    return (
        f'[[targets]]\nindicator = "{indicator}"\nregion = "{region}"\nyear = {year}\n'
        f"annual = {annual}\n{extra}\n"
    )


def assert_clear_failure(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) >= 1
    for word in words:
        assert word in done.stderr, done.stderr


def test_no_data_checks_and_markup_in_names_are_shown_as_typed(tmp_path: Path) -> None:
    config = CONFIG.replace('name = "A区"', 'name = "b2 [/] 区"').replace(
        'name = "B区"', 'name = "[bold]x"'
    )
    # zone_b misses February: its year to date in March is unknown, a no_data check.
    config += target("projects_started", "zone_a", 1200) + target("projects_started", "zone_b", 60)
    refreshed(
        tmp_path,
        config,
        "2026年3月,zone_a,projects_started,ytd,310\n"
        "2026年1月,zone_b,projects_started,value,5\n"
        "2026年3月,zone_b,projects_started,value,5\n",
    )
    board = run(tmp_path, "status")
    assert board.returncode == 0, board.stderr
    assert "b2 [/] 区" in board.stdout
    assert "[bold]x" in board.stdout
    assert "no_data" in board.stdout


def test_markup_in_a_store_path_is_shown_as_typed(tmp_path: Path) -> None:
    refreshed(
        tmp_path,
        '[store]\npath = "[red]k.duckdb"\n' + CONFIG + target("projects_started", "zone_a", 12),
        "2026年3月,zone_a,projects_started,ytd,3\n",
    )
    summary = run(tmp_path, "summary")
    assert summary.returncode == 0, summary.stderr
    assert "[red]k" in summary.stdout


def test_a_locked_store_is_one_clear_message_for_every_reader(tmp_path: Path) -> None:
    refreshed(
        tmp_path,
        CONFIG + target("projects_started", "zone_a", 1200),
        "2026年3月,zone_a,projects_started,ytd,310\n",
    )
    holder = duckdb.connect(str(tmp_path / "kpiwatch.duckdb"))
    try:
        for verb in (
            ["summary"],
            ["forecast", "--indicator", "projects_started", "--region", "zone_a"],
            ["status"],
            ["backfill", "-o", "history.om"],
            ["refresh"],
            ["ingest"],
        ):
            assert_clear_failure(run(tmp_path, *verb), "kpiwatch.duckdb")
    finally:
        holder.close()


@pytest.mark.parametrize(
    ("verb", "make"),
    [
        (["rules", "-o", "taken"], "file"),
        (["dashboards", "-o", "taken"], "file"),
        (["backfill", "-o", "taken/history.om"], "file"),
        (["backfill", "-o", "taken"], "dir"),
    ],
)
def test_outputs_that_cannot_be_written_are_one_clear_message(
    tmp_path: Path, verb: list[str], make: str
) -> None:
    refreshed(
        tmp_path,
        CONFIG + target("projects_started", "zone_a", 1200),
        "2026年3月,zone_a,projects_started,ytd,310\n",
    )
    if make == "file":
        (tmp_path / "taken").write_text("mine\n", encoding="utf-8")
    else:
        (tmp_path / "taken").mkdir()
    assert_clear_failure(run(tmp_path, *verb), "taken")
    if make == "file":
        assert (tmp_path / "taken").read_text(encoding="utf-8") == "mine\n"


def test_backfill_into_a_missing_folder_creates_it(tmp_path: Path) -> None:
    refreshed(
        tmp_path,
        CONFIG + target("projects_started", "zone_a", 1200),
        "2026年3月,zone_a,projects_started,ytd,310\n",
    )
    done = run(tmp_path, "backfill", "-o", "new/folder/history.om")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "new/folder/history.om").read_text(encoding="utf-8").endswith("# EOF\n")
