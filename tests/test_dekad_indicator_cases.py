"""Indicators published per 旬, case by case: paging once, year-to-dates, nowcasts, refreshes."""

from __future__ import annotations

import subprocess
from datetime import date
from pathlib import Path

import pytest
import yaml

from exporters import dekad_rules, project_rules
from exporters.rule_tests import dekad_check_series
from ingest.errors import ConfigError
from kpiwatch import app
from kpiwatch.config import load_config
from tests.test_dekad_indicators import CONFIG, store_rows


def test_a_dekad_figure_pages_once_not_also_as_a_count(tmp_path: Path) -> None:
    """A 旬 figure loaded while its 旬 runs is 'live' too: only KpiBehindDekad pages."""
    project_rules.write_rules(
        tmp_path, project_rules.ProjectAlertSettings(count_targets=True, released=("fai_d",))
    )
    dekad_rules.write_rules(tmp_path, dekad_rules.DekadAlertSettings(indicators=("fai_d",)))
    values = {"attainment_ratio": 0.5, "pace_status": 1, "horizon_end_timestamp_seconds": 86400}
    series = dekad_check_series("a", "fai_d", "wc", values, 120)
    alert = {"severity": "warning", "job": "kpiwatch", "indicator": "fai_d", "region": "wc"}
    tests = {
        "rule_files": [project_rules.RULES_FILE, dekad_rules.RULES_FILE],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "alert_rule_test": [
                    {"eval_time": "90m", "alertname": "ProjectCountBehindDekad", "exp_alerts": []},
                    {
                        "eval_time": "90m",
                        "alertname": "KpiBehindDekad",
                        "exp_alerts": [
                            {
                                "exp_labels": {**alert, "year": "2026"},
                                "exp_annotations": {
                                    "summary": "fai_d in wc is behind pace (红) at its latest 旬",
                                    "description": "50% of the pace due by that 旬's end; "
                                    "`kpiwatch status --horizon dekad` shows it against its pace.",
                                },
                            }
                        ],
                    },
                ],
            }
        ],
    }
    (tmp_path / "both.test.yml").write_text(yaml.safe_dump(tests), encoding="utf-8")
    run = subprocess.run(
        ["promtool", "test", "rules", "both.test.yml"], cwd=tmp_path, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stdout + run.stderr
    own = subprocess.run(
        ["promtool", "test", "rules", project_rules.TESTS_FILE],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert own.returncode == 0, own.stdout + own.stderr


def test_a_dekad_year_to_date(tmp_path: Path) -> None:
    """A flow published as 旬 year-to-dates: checked on them, its month from the 下旬's."""
    (tmp_path / "config.toml").write_text(CONFIG, encoding="utf-8")
    config = load_config(tmp_path / "config.toml")
    good = tmp_path / "ytd.csv"
    good.write_text(
        "旬,指标,口径,数值\n2026-01-D1,fai_d,ytd,10\n2026-01-D2,fai_d,ytd,20\n"
        "2026-01-D3,fai_d,ytd,31\n2026-02-D1,fai_d,ytd,39\n",
        encoding="utf-8",
    )
    [loaded] = app.ingest(config, [good], source_name="dekads")
    assert loaded.error is None, loaded.error
    falls = tmp_path / "falls.csv"
    falls.write_text("旬,指标,口径,数值\n2026-02-D2,fai_d,ytd,38\n", encoding="utf-8")
    [refused] = app.ingest(config, [falls], source_name="dekads")
    assert "falls from 39.0 (2026-02-D1" in str(refused.error), refused.error
    app.refresh_checks(config, today=date(2026, 2, 15))
    rows = store_rows(
        tmp_path,
        "SELECT period, actual, round(dekad_target, 4) FROM progress_dekads "
        "WHERE indicator = 'fai_d' AND region = 'wc' ORDER BY period_start",
    )
    assert rows[2:] == [("2026-01-D3", 31.0, 30.0), ("2026-02-D1", 39.0, round(30 + 300 / 28, 4))]
    months = store_rows(
        tmp_path,
        "SELECT as_of, actual FROM progress "
        "WHERE horizon = 'year' AND indicator = 'fai_d' AND region = 'wc'",
    )
    assert months == [("2026-01", 31.0)]  # February has no 下旬 yet


def test_a_dekad_indicator_is_no_nowcast_input(tmp_path: Path) -> None:
    nowcast = """
[[indicators]]
id = "gdp_growth"
name = "GDP growth"
kind = "growth"
frequency = "quarterly"

[[nowcasts]]
target = "gdp_growth"
region = "wc"
release_lag_days = 17
monthly = [{ indicator = "rate_d", transform = "yoy", release_lag_days = 5 }]
"""
    (tmp_path / "config.toml").write_text(CONFIG + nowcast, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "config.toml")
    [problem] = info.value.problems
    assert problem.path == "nowcasts[target=gdp_growth, region=wc].monthly[0].indicator"
    assert "per 旬" in problem.message


def test_a_refresh_after_a_release_keeps_the_other_dekad_checks(tmp_path: Path) -> None:
    """A stock's 旬 pace starts from last December's level, whichever series a release
    touched: a refresh after one stores the 旬 checks a full recompute stores."""
    (tmp_path / "config.toml").write_text(CONFIG, encoding="utf-8")
    config = load_config(tmp_path / "config.toml")
    first = tmp_path / "dekads_1.csv"
    first.write_text(
        "旬,指标,口径,数值\n2025-12-D3,building_d,value,100\n2026-01-D1,building_d,value,101\n"
        "2026-01-D1,fai_d,value,10\n",
        encoding="utf-8",
    )
    app.ingest(config)
    app.refresh(config, today=date(2026, 1, 25))
    sql = (
        "SELECT indicator, period, actual, round(dekad_target, 4), status FROM progress_dekads "
        "WHERE region = 'wc' ORDER BY ALL"
    )
    full = store_rows(tmp_path, sql)
    # from 100 at the end of 2025 to 120 at the end of 2026, linear: 100 + 20 × (10/31)/12
    assert (
        "building_d",
        "2026-01-D1",
        101.0,
        round(100 + 20 * 10 / 31 / 12, 4),
        "on_track",
    ) in full
    (tmp_path / "dekads_2.csv").write_text(
        "旬,指标,口径,数值\n2026-01-D2,fai_d,value,10\n", encoding="utf-8"
    )
    app.ingest(config)
    app.refresh(config, today=date(2026, 1, 25))  # only fai_d's checks are recomputed
    after = store_rows(tmp_path, sql)
    assert [r for r in after if r[0] == "building_d"] == [r for r in full if r[0] == "building_d"]
    assert ("fai_d", "2026-01-D2", 20.0, round(600 / 31, 4), "on_track") in after
    app.refresh(config, today=date(2026, 1, 25))  # nothing new: nothing recomputed
    assert store_rows(tmp_path, sql) == after
