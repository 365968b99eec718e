"""Which year's checks /metrics shows for a series with targets in several years."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import duckdb
import pytest

from exporters.snapshot import read_snapshot_data, render
from kpiwatch.config import Config
from tests.checks_helpers import pipeline
from tests.test_target_status import target


def _year_checks(config: Config, indicator: str) -> dict[str, tuple[str, str]]:
    """Per exported year: the year check's status and stale flag."""
    con = duckdb.connect(str(config.store_path), read_only=True)
    try:
        text = render(read_snapshot_data(con), 0.0, 100_000).text.decode()
    finally:
        con.close()
    sel = rf'horizon="year",indicator="{indicator}",region="\w+"'
    stale = re.findall(rf'^kpiwatch_kpi_stale{{{sel},year="(\d+)"}} (\S+)$', text, re.M)
    status = re.findall(
        rf'^kpiwatch_kpi_status{{{sel},status="(\w+)",year="(\d+)"}} 1.0$', text, re.M
    )
    return {year: (s, dict(stale)[year]) for s, year in status}


@pytest.mark.parametrize(
    ("rows", "today", "shown"),
    [
        # 90 of a pace of 100 by October: at risk, November not due before 25 December;
        # 2027's target, configured early, has no figure
        ("2026年10月,zone_a,projects_started,ytd,90", date(2026, 11, 1), ("at_risk", "0.0")),
        # December's figure in; January's was due on 25 February: late on 1 March, shown on
        # the year that has figures, not on 2027's empty first month
        ("2026年12月,zone_a,projects_started,ytd,120", date(2027, 3, 1), ("on_track", "1.0")),
    ],
)
def test_a_year_without_figures_never_hides_one_with_them(
    tmp_path: Path, rows: str, today: date, shown: tuple[str, str]
) -> None:
    targets = target("projects_started", "zone_a", 120) + target(
        "projects_started", "zone_a", 120, 2027
    )
    config = pipeline(tmp_path, rows, targets, today=today)
    assert _year_checks(config, "projects_started") == {"2026": shown}


@pytest.mark.parametrize(
    ("today", "shown"),
    [
        # 2026's first figure (January) was due on 25 February: 2026 is late, and shown
        (date(2026, 11, 1), {"2026": ("no_data", "1.0")}),
        # nothing due yet: the year whose first figure comes first
        (date(2026, 1, 10), {"2026": ("no_data", "0.0")}),
        # both years' first figures are late: the latest
        (date(2027, 3, 1), {"2027": ("no_data", "1.0")}),
    ],
)
def test_a_series_without_any_figure_shows_the_year_it_is_late_for(
    tmp_path: Path, today: date, shown: dict[str, tuple[str, str]]
) -> None:
    targets = target("energy", "CN", 50) + target("energy", "CN", 50, 2027)
    config = pipeline(tmp_path, "2026年3月,zone_a,projects_started,ytd,40", targets, today=today)
    assert _year_checks(config, "energy") == shown
