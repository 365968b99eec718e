"""Late 旬 figures: the next 旬's figure is due at its end plus release_lag_days_dekad."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exporters.rules import AlertSettings, write_rules
from ingest.grains import span_of
from ingest.store import open_store
from kpiwatch.config import load_config
from metrics.dekad_stale import dekad_releases, next_due
from tests.cli_helpers import run_kpiwatch, store_metrics

# a: figures to February's 下旬, b: to February's 中旬, c: to March's 中旬; p has none of
# its own: p1 reports to March's 上旬, p2 to February's 下旬. gdp is monthly.
CONFIG = """
[store]
path = "store.duckdb"

[[regions]]
id = "a"
name = "甲"

[[regions]]
id = "b"
name = "乙"

[[regions]]
id = "c"
name = "丙"

[[regions]]
id = "p"
name = "丁"

[[regions]]
id = "p1"
name = "丁一"
parent = "p"

[[regions]]
id = "p2"
name = "丁二"
parent = "p"

[[indicators]]
id = "fai_d"
name = "固定资产投资"
unit = "亿元"
kind = "flow"
frequency = "dekad"

[[indicators]]
id = "gdp"
name = "GDP"
unit = "亿元"
kind = "flow"

[[targets]]
indicator = "fai_d"
region = "a"
year = 2026
annual = 360

[[targets]]
indicator = "fai_d"
region = "b"
year = 2026
annual = 360

[[targets]]
indicator = "fai_d"
region = "c"
year = 2026
annual = 360

[[targets]]
indicator = "fai_d"
region = "p"
year = 2026
annual = 720

[[targets]]
indicator = "gdp"
region = "a"
year = 2026
annual = 1200

[[sources]]
name = "figures"
path = "figures_*.csv"
layout = "long"
columns = { period = "期", region = "地区", series = "指标", value = "数值" }
"""


def _rows() -> str:
    last = {"甲": "2026-02-D3", "乙": "2026-02-D2", "丙": "2026-03-D2"}
    last |= {"丁一": "2026-03-D1", "丁二": "2026-02-D3"}
    lines = ["期,地区,指标,数值"]
    for region, until in last.items():
        for month in (1, 2, 3):
            for d in (1, 2, 3):
                label = f"2026-{month:02d}-D{d}"
                if label <= until:
                    lines.append(f"{label},{region},fai_d,10")
    lines += ["2026-01,甲,gdp,100", "2026-02,甲,gdp,100"]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """The store, and its metrics after refreshes on 15 and (re-judged) 16 March 2026."""
    tmp = tmp_path_factory.mktemp("dekadstale")
    (tmp / "config.toml").write_text(CONFIG, encoding="utf-8")
    (tmp / "figures_1.csv").write_text(_rows(), encoding="utf-8")
    loaded = run_kpiwatch(tmp, "ingest")
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    seen = []
    for day in ("2026-03-15", "2026-03-16"):
        refreshed = run_kpiwatch(tmp, "refresh", "--today", day)
        assert refreshed.returncode == 0, refreshed.stdout + refreshed.stderr
        seen.append(store_metrics(tmp))
    return tmp, seen[0], seen[1]


@pytest.mark.parametrize(
    ("latest", "lag", "label", "due"),
    [
        (date(2026, 2, 28), 5, "2026-03-D1", date(2026, 3, 15)),  # a 旬 ending on the 10th
        (date(2026, 3, 10), 5, "2026-03-D2", date(2026, 3, 25)),
        (date(2026, 2, 20), 5, "2026-02-D3", date(2026, 3, 5)),  # February's 8-day 下旬
        (date(2026, 2, 20), 0, "2026-02-D3", date(2026, 2, 28)),
        (date(2028, 2, 20), 0, "2028-02-D3", date(2028, 2, 29)),  # a leap year's 9 days
        (date(2026, 3, 20), 5, "2026-03-D3", date(2026, 4, 5)),  # a 31-day month's 11 days
        (date(2026, 4, 20), 5, "2026-04-D3", date(2026, 5, 5)),
        (date(2026, 12, 31), 5, "2027-01-D1", date(2027, 1, 15)),  # into the next year
    ],
)
def test_the_next_dekad_is_due_at_its_end_plus_the_lag(
    latest: date, lag: int, label: str, due: date
) -> None:
    assert next_due(latest, lag) == (label, due)


@settings(deadline=None)
@given(st.dates(date(2000, 1, 1), date(2099, 12, 1)), st.integers(0, 60))
def test_the_due_day_follows_the_dekad_calendar(day: date, lag: int) -> None:
    latest = span_of(day, "dekad").end
    label, due = next_due(latest, lag)
    nxt = span_of(latest + timedelta(days=1), "dekad")
    assert nxt.label == label and nxt.start == latest + timedelta(days=1)
    assert 8 <= nxt.days <= 11 and due - timedelta(days=lag) == nxt.end
    assert nxt.end.day in (10, 20) or (nxt.end + timedelta(days=1)).day == 1


@pytest.mark.parametrize(
    ("day", "stale"),
    [
        (date(2026, 3, 5), set()),  # b's 下旬 of February is due on 5 March
        (date(2026, 3, 6), {"b"}),
        (date(2026, 3, 15), {"b"}),  # a's (and p's) 上旬 of March is due on the 15th
        (date(2026, 3, 16), {"a", "b", "p"}),
        (date(2026, 4, 5), {"a", "b", "p"}),  # c's 11-day 下旬 of March: due on 5 April
        (date(2026, 4, 6), {"a", "b", "c", "p"}),
    ],
)
def test_a_series_is_stale_from_the_day_after_its_next_dekad_was_due(
    store: tuple[Path, str, str], day: date, stale: set[str]
) -> None:
    tmp = store[0]
    config = load_config(tmp / "config.toml")
    con = open_store(tmp / "store.duckdb", read_only=True)
    try:
        found = dekad_releases(con, config.targets, config.indicator_map(), config.regions, day, 5)
    finally:
        con.close()
    assert {r.region for r in found if r.stale} == stale
    # p has a 旬 once both its children have it: p2's February 下旬
    assert {r.region: r.latest_end for r in found}["p"] == date(2026, 2, 28)
    assert all(r.indicator == "fai_d" for r in found)  # a monthly series is not judged here


def _sample(metrics: str, name: str, region: str, horizon: str = "dekad") -> float:
    labels = f'horizon="{horizon}",indicator="fai_d",region="{region}",year="2026"'
    found = re.search(rf"^kpiwatch_kpi_{name}{{{re.escape(labels)}}} (\S+)$", metrics, re.M)
    assert found, f"no {name} for {region}"
    return float(found[1])


def _end_of(day: date) -> float:
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC).timestamp()


def test_the_metrics_say_stale_and_when_the_figure_was_due(store: tuple[Path, str, str]) -> None:
    _, on_15th, on_16th = store
    assert [_sample(on_15th, "stale", r) for r in "abc"] == [0.0, 1.0, 0.0]
    # a refresh on a new day re-judges without new data
    assert [_sample(on_16th, "stale", r) for r in ("a", "b", "c", "p")] == [1.0, 1.0, 0.0, 1.0]
    due = {r: _sample(on_16th, "next_release_due_timestamp_seconds", r) for r in "abcp"}
    assert due == {
        "a": _end_of(date(2026, 3, 15)),
        "b": _end_of(date(2026, 3, 5)),
        "c": _end_of(date(2026, 3, 31) + timedelta(days=5)),
        "p": _end_of(date(2026, 3, 15)),
    }
    # the months are judged as before: February arrived, March is due on 25 April
    assert _sample(on_16th, "stale", "a", "year") == 0.0
    due_m = _sample(on_16th, "next_release_due_timestamp_seconds", "a", "year")
    assert due_m == _end_of(date(2026, 4, 25))
    assert (
        'indicator="gdp",region="a"' in on_16th
        and 'stale{horizon="dekad",indicator="gdp"' not in on_16th
    )
    check = subprocess.run(
        ["promtool", "check", "metrics"], input=on_16th, capture_output=True, text=True
    )
    assert check.returncode == 0 and not check.stdout.strip(), check.stdout + check.stderr


def test_the_dekad_board_says_which_figure_is_late(store: tuple[Path, str, str]) -> None:
    board = run_kpiwatch(store[0], "status", "--horizon", "dekad")
    assert board.returncode == 0, board.stderr
    text = " ".join(board.stdout.replace("│", " ").split())
    assert text.count("is late") == 3, text  # a, b and p, not c
    assert "the figure for 2026-03-D1 is late (due 2026-03-15)" in text
    assert "the figure for 2026-02-D3 is late (due 2026-03-05)" in text
    past = run_kpiwatch(store[0], "status", "--horizon", "dekad", "--as-of", "2026-02-D1")
    assert past.returncode == 0 and "late" not in past.stdout, past.stdout + past.stderr


def test_the_stale_alert_pages_once_per_late_dekad_series(tmp_path: Path) -> None:
    """The generated promtool test holds a late 旬 series: one alert, as horizon "dekad";
    the rules without the 旬 item's precedence page twice and fail it."""
    write_rules(tmp_path, AlertSettings(stale_for="0s"), [])
    for args in (
        ("check", "rules", "kpiwatch-rules.yml"),
        ("test", "rules", "kpiwatch-rules.test.yml"),
    ):
        run = subprocess.run(["promtool", *args], cwd=tmp_path, capture_output=True, text=True)
        assert run.returncode == 0, run.stdout + run.stderr
    rules = tmp_path / "kpiwatch-rules.yml"
    text = rules.read_text(encoding="utf-8")
    twice = re.sub(r"\n *unless on\([^)]*\) \([^\n]*stale\{horizon=\"dekad\"\}[^\n]*", "", text)
    assert twice != text
    rules.write_text(twice, encoding="utf-8")
    run = subprocess.run(
        ["promtool", "test", "rules", "kpiwatch-rules.test.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert run.returncode != 0 and 'horizon="year"' in run.stdout + run.stderr
