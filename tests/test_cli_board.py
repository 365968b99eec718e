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
    assert "[red]" in summary.stdout


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


BOARD_CONFIG = (
    CONFIG.replace('name = "A区"', 'name = "A区"\naliases = ["甲区"]')
    + target("projects_started", "zone_a", 1200)
    + target("projects_started", "zone_b", 1200)
    + target("gdp_growth", "CN", 5.0)
)
BOARD_ROWS = (
    "2026年3月,zone_a,projects_started,ytd,310\n"
    "2026年3月,zone_b,projects_started,ytd,150\n"
    "2026Q1,CN,gdp_growth,ytd_yoy_pct,5.2\n"
)


@pytest.fixture(scope="module")
def board_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One refreshed store for the board tests that only read it."""
    return refreshed(tmp_path_factory.mktemp("board"), BOARD_CONFIG, BOARD_ROWS)


def board_lines(done: subprocess.CompletedProcess[str]) -> list[str]:
    assert done.returncode == 0, done.stderr
    return [ln for ln in done.stdout.splitlines() if "区" in ln or "全国" in ln]


@pytest.mark.parametrize("named", ["zone_a", "A区", "甲区", " a区 ", "ＺＯＮＥ_Ａ"])
def test_a_region_is_named_by_id_name_or_alias(board_store: Path, named: str) -> None:
    tmp_path = board_store
    lines = board_lines(run(tmp_path, "status", "--region", named))
    assert len(lines) == 1 and "A区" in lines[0]
    made = run(tmp_path, "forecast", "--indicator", "重点项目开工", "--region", named)
    assert made.returncode == 0, made.stderr
    assert "projects_started · zone_a" in made.stdout


@pytest.mark.parametrize("verb", [["status"], ["forecast", "--indicator", "projects_started"]])
def test_an_unknown_region_is_refused_with_the_nearest(board_store: Path, verb: list[str]) -> None:
    tmp_path = board_store
    done = run(tmp_path, *verb, "--region", "A区x")
    assert_clear_failure(done, "A区x", "nearest", "zone_a (A区)")


@pytest.mark.parametrize("as_of", ["2026-13", "March", "2026-03-40"])
def test_a_bad_as_of_is_refused(board_store: Path, as_of: str) -> None:
    tmp_path = board_store
    assert_clear_failure(run(tmp_path, "status", "--as-of", as_of), "--as-of", as_of)


@pytest.mark.parametrize("as_of", ["2026-03", "2026-02", "2026年3月", "2026Q1"])
def test_as_of_a_month_reads_quarterly_series_at_its_quarter(board_store: Path, as_of: str) -> None:
    tmp_path = board_store
    lines = board_lines(run(tmp_path, "status", "--as-of", as_of))
    gdp = [ln for ln in lines if "全国" in ln]
    assert len(gdp) == 1 and "2026Q1" in gdp[0]
    zones = [ln for ln in lines if "区" in ln]
    assert len(zones) == 2


def test_the_board_shows_every_year_still_open(tmp_path: Path) -> None:
    config = (
        CONFIG
        + target("projects_started", "zone_a", 100, 2024)
        + target("projects_started", "zone_a", 100, 2025)
        + target("projects_started", "zone_a", 100, 2026)
        + target("gdp_growth", "CN", 5.0, 2025)
    )
    refreshed(
        tmp_path,
        config,
        "2024年12月,zone_a,projects_started,ytd,100\n2026年3月,zone_a,projects_started,ytd,30\n",
    )
    lines = board_lines(run(tmp_path, "status"))
    assert len(lines) == 3, lines
    text = "\n".join(lines)
    assert "2026-03" in text and "no data for 2025" in text and "2025Q1" in text
    assert "2024-12" not in text
    closed = board_lines(run(tmp_path, "status", "--as-of", "2024-12"))
    assert len(closed) == 1 and "2024-12" in closed[0]


def test_illustrative_figures_are_marked_on_the_board(tmp_path: Path) -> None:
    config = CONFIG.replace('owner = "发展改革局"', 'owner = "发展改革局"\nillustrative = true')
    refreshed(
        tmp_path,
        config + target("projects_started", "zone_a", 1200) + target("gdp_growth", "CN", 5.0),
        BOARD_ROWS,
    )
    lines = board_lines(run(tmp_path, "status"))
    assert [("illustrative" in ln) for ln in lines if "A区" in ln] == [True]
    assert [("illustrative" in ln) for ln in lines if "全国" in ln] == [False]


def test_a_store_of_an_older_kpiwatch_is_one_clear_message(tmp_path: Path) -> None:
    refreshed(tmp_path, BOARD_CONFIG, BOARD_ROWS)
    con = duckdb.connect(str(tmp_path / "kpiwatch.duckdb"))
    try:  # as an older kpiwatch left it: the last migration not applied
        con.execute(
            "DELETE FROM schema_version WHERE version = (SELECT max(version) FROM schema_version)"
        )
    finally:
        con.close()
    for verb in (
        ["status"],
        ["forecast", "--indicator", "projects_started", "--region", "zone_a"],
        ["backfill", "-o", "history.om"],
    ):
        assert_clear_failure(run(tmp_path, *verb), "older kpiwatch", "kpiwatch refresh")


def test_an_error_keeps_a_long_file_name_on_one_line(tmp_path: Path) -> None:
    # A user copies the file name and line out of the message: it is never wrapped.
    refreshed(tmp_path, CONFIG, "2026年3月,zone_a,projects_started,ytd,310\n")
    deep = tmp_path / ("月报" * 30) / ("releases_of_the_statistics_bureau_" * 3)
    deep.mkdir(parents=True)
    bad = deep / "data.csv"
    bad.write_text("period,region,indicator,measure,value\n2026年3月,nowhere,x,ytd,1\n", "utf-8")
    done = run(tmp_path, "ingest", "--source", "data", str(bad))
    assert done.returncode == 1, done.stderr
    assert any(str(bad) in line for line in done.stderr.splitlines()), done.stderr
