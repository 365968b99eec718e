"""The forecasts stage on a real store: P(meet target), reuse, faults, and the status feed."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from kpiwatch import app
from tests.checks_helpers import one, pipeline

TARGET = """
[[targets]]
indicator = "projects_started"
region = "{region}"
year = 2026
annual = {annual}
"""


def history(region: str, monthly: float, last: tuple[int, int] = (2026, 9)) -> str:
    """Three steady years of monthly starts, then 2026 up to `last`."""
    rows = []
    for year in (2023, 2024, 2025, 2026):
        for m in range(1, 13):
            if (year, m) <= last:
                rows.append(f"{year}-{m:02d},{region},projects_started,value,{monthly + m % 3}")
    return "\n".join(rows)


def forecasts(config_path: Path) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(config_path), read_only=True)
    try:
        return con.execute(
            "SELECT region, horizon, target, point, lower95, upper95, p_meet, forecast_status, "
            "model, input_hash FROM forecast_results ORDER BY region, horizon"
        ).fetchall()
    finally:
        con.close()


def test_p_meet_and_the_status_feed(tmp_path: Path) -> None:
    # 101 a month on average: 1 212 a year. A target of 1 200 is met, 1 500 is not.
    data = history("zone_a", 100) + "\n" + history("zone_b", 100)
    targets = TARGET.format(region="zone_a", annual=1200) + TARGET.format(
        region="zone_b", annual=1500
    )
    config = pipeline(tmp_path, data, targets)
    report = app.refresh_forecasts(config)
    assert (report.series, report.computed, report.fallbacks) == (2, 2, 0)
    rows = {(r[0], r[1]): r for r in forecasts(config.store_path)}
    easy, hard = rows[("zone_a", "year")], rows[("zone_b", "year")]
    assert easy[3] is not None and 1150 < easy[3] < 1260  # 909 done + about 303
    assert easy[4] <= easy[3] <= easy[5]
    assert easy[6] > 0.5 and hard[6] < 0.05
    assert hard[7] == "behind"
    # the forecast turns the check red and says why
    check = one(config, "zone_b", "2026-09", "year")
    assert check["status"] == "behind" and "likely to meet" in check["reason"]
    # with one decimal, as the CLI prints it: a P(meet) of 0.4 % is not "0 %"
    shown = re.search(r"forecast: (\d+\.\d)% likely to meet the year target", check["reason"])
    assert shown is not None and float(shown[1]) == pytest.approx(hard[6] * 100, abs=0.05)


def test_only_changed_series_are_recomputed(tmp_path: Path) -> None:
    data = history("zone_a", 100) + "\n" + history("zone_b", 50)
    targets = TARGET.format(region="zone_a", annual=1200) + TARGET.format(
        region="zone_b", annual=600
    )
    config = pipeline(tmp_path, data, targets)
    first = app.refresh_forecasts(config)
    before = {(r[0], r[1]): r[9] for r in forecasts(config.store_path)}
    again = app.refresh_forecasts(config)
    assert (first.computed, again.computed, again.reused) == (2, 0, 2)
    (tmp_path / "more.csv").write_text(
        "period,region,indicator,measure,value\n2026-10,zone_b,projects_started,value,55\n"
    )
    app.ingest(config, [tmp_path / "more.csv"], source_name="data")
    app.refresh_checks(config)
    third = app.refresh_forecasts(config)
    after = {(r[0], r[1]): r[9] for r in forecasts(config.store_path)}
    assert (third.computed, third.reused) == (1, 1)
    assert after[("zone_a", "year")] == before[("zone_a", "year")]
    assert after[("zone_b", "year")] != before[("zone_b", "year")]


def test_a_new_forecasting_method_recomputes_every_series(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from forecasts import jobs

    data = history("zone_a", 100) + "\n" + history("zone_b", 50)
    targets = TARGET.format(region="zone_a", annual=1200) + TARGET.format(
        region="zone_b", annual=600
    )
    config = pipeline(tmp_path, data, targets)
    assert app.refresh_forecasts(config).computed == 2
    monkeypatch.setattr(jobs, "METHOD", "an upgraded forecaster")
    again = app.refresh_forecasts(config)
    assert (again.computed, again.reused) == (2, 0)


def test_faulty_series_get_a_labelled_fallback_and_the_refresh_finishes(tmp_path: Path) -> None:
    constant = "\n".join(f"2026-{m:02d},zone_a,projects_started,value,7" for m in range(1, 10))
    short = "\n".join(f"2026-{m:02d},zone_b,projects_started,value,{m}" for m in range(1, 4))
    targets = TARGET.format(region="zone_a", annual=90) + TARGET.format(region="zone_b", annual=40)
    config = pipeline(tmp_path, constant + "\n" + short, targets)
    report = app.refresh_forecasts(config)
    assert report.series == 2 and report.fallbacks == 1
    rows = {(r[0], r[1]): r for r in forecasts(config.store_path)}
    assert rows[("zone_a", "year")][8] == "naive" and rows[("zone_a", "year")][3] == 63 + 21
    assert rows[("zone_b", "year")][8] == "too_little_history"
    assert rows[("zone_b", "year")][3] is None


def test_one_refresh_shares_the_actuals_and_equals_the_stages_run_apart(tmp_path: Path) -> None:
    data = history("zone_a", 100) + "\n" + history("zone_b", 60)
    targets = TARGET.format(region="zone_a", annual=1200) + TARGET.format(
        region="zone_b", annual=1500
    )
    (tmp_path / "apart").mkdir()
    (tmp_path / "shared").mkdir()
    apart = pipeline(tmp_path / "apart", data, targets)
    app.refresh_checks(apart)
    app.refresh_forecasts(apart)
    shared = pipeline(tmp_path / "shared", data, targets)
    checks, made = app.refresh(shared)
    assert (checks.targets, made.series, made.computed) == (2, 2, 2)
    assert forecasts(shared.store_path) == forecasts(apart.store_path)

    def board(path: Path) -> list[tuple[object, ...]]:
        con = duckdb.connect(str(path), read_only=True)
        try:
            return con.execute(
                "SELECT * EXCLUDE (computed_at) FROM progress ORDER BY ALL"
            ).fetchall()
        finally:
            con.close()

    assert board(shared.store_path) == board(apart.store_path)


def test_a_failing_refresh_is_counted_under_the_stage_that_failed(tmp_path: Path) -> None:
    from kpiwatch.service import Service

    data = history("zone_a", 100)
    config = pipeline(tmp_path, data, TARGET.format(region="zone_a", annual=1200))
    service = Service(config)

    def failures(stage: str) -> float:
        value = service.health.registry.get_sample_value(
            "kpiwatch_refresh_failures_total", {"stage": stage}
        )
        return float(value or 0)

    for table, stage in (("forecast_results", "forecasts"), ("check_results", "checks")):
        con = duckdb.connect(str(config.store_path))
        con.execute(f"DROP TABLE {table}")  # the stage's own table is gone: it fails
        con.close()
        assert service.refresh() is False
        assert failures(stage) == 1, stage
    assert failures("ingest") == 0


def test_forecasts_aim_at_the_quarter_target_the_checks_pace(tmp_path: Path) -> None:
    # Seasonal pacing learns from the past years that the third quarter is the busy
    # one, so its target is more than a quarter of the year's.
    data = "\n".join(
        f"{y}-{m:02d},zone_a,projects_started,value,{130 if 7 <= m <= 9 else 100}"
        for y in (2023, 2024, 2025, 2026)
        for m in range(1, 13)
        if (y, m) <= (2026, 8)
    )
    targets = TARGET.format(region="zone_a", annual=1300) + 'pacing = "seasonal"\n'
    config = pipeline(tmp_path, data, targets)
    app.refresh_forecasts(config)
    quarter = {r[1]: r for r in forecasts(config.store_path)}["quarter"]
    check = one(config, "zone_a", "2026-08", "quarter")
    assert check["pacing"] == "seasonal"
    assert quarter[2] == check["horizon_target"] > 1300 / 4
