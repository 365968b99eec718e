"""When a month's or quarter's next figure is due: the day /metrics, the board and the
stale flag share, for series that report and for series that never have."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from ingest.store import open_store
from tests.cli_helpers import run_kpiwatch, store_metrics

DAYS = ("2026-04-25", "2026-05-01")
NEW_YEAR = "2027-01-20"

# gdp is monthly: a has January and February 2026, d all of 2025, j all of 2025 with
# January and February as one release, n nothing at all. gdp_q is quarterly: a has
# 2026Q1, n nothing. fai_d is published per 旬: n has nothing. Lags: 25 days a month, 30
# a quarter, 5 a 旬.
CONFIG = """
[store]
path = "store.duckdb"

[[regions]]
id = "a"
name = "甲"

[[regions]]
id = "d"
name = "丁"

[[regions]]
id = "j"
name = "合"

[[regions]]
id = "n"
name = "无"

[[indicators]]
id = "gdp"
name = "GDP"
unit = "亿元"
kind = "flow"

[[indicators]]
id = "gdp_q"
name = "季度GDP"
unit = "亿元"
kind = "flow"
frequency = "quarterly"

[[indicators]]
id = "fai_d"
name = "投资旬报"
unit = "亿元"
kind = "flow"
frequency = "dekad"

[[sources]]
name = "figures"
path = "figures_*.csv"
layout = "long"
columns = { period = "期", region = "地区", series = "指标", value = "数值" }
"""
TARGETS = [("gdp", "a", 2026), ("gdp", "n", 2026), ("gdp", "d", 2025)]
TARGETS += [("gdp", "j", 2025), ("gdp", "j", 2026)]
TARGETS += [("gdp_q", "a", 2026), ("gdp_q", "n", 2026), ("fai_d", "n", 2026), ("fai_d", "n", 2027)]
ROWS = ["2026-01,甲,gdp,100", "2026-02,甲,gdp,100", "2026Q1,甲,gdp_q,300"]
ROWS += [f"2025-{m:02d},丁,gdp,100" for m in range(1, 13)]
ROWS += ["2025年1-2月,合,gdp,200"] + [f"2025-{m:02d},合,gdp,100" for m in range(3, 13)]


@dataclass(frozen=True)
class Seen:
    """The store, its metrics after a refresh on each of DAYS and NEW_YEAR (each
    re-judges the targets it does not recompute), and its board and progress view on the
    last of DAYS."""

    tmp: Path
    metrics: dict[str, str]
    board: str
    progress: list[tuple[object, ...]]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Seen:
    tmp = tmp_path_factory.mktemp("releasedue")
    targets = "".join(
        f'\n[[targets]]\nindicator = "{i}"\nregion = "{r}"\nyear = {y}\nannual = 1200\n'
        for i, r, y in TARGETS
    )
    (tmp / "config.toml").write_text(CONFIG + targets, encoding="utf-8")
    (tmp / "figures_1.csv").write_text("期,地区,指标,数值\n" + "\n".join(ROWS) + "\n", "utf-8")
    loaded = run_kpiwatch(tmp, "ingest")
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    seen = {}
    for day in (*DAYS, NEW_YEAR):
        if day == NEW_YEAR:
            board = run_kpiwatch(tmp, "status")
            assert board.returncode == 0, board.stderr
            progress = _progress(tmp)
        refreshed = run_kpiwatch(tmp, "refresh", "--today", day)
        assert refreshed.returncode == 0, refreshed.stdout + refreshed.stderr
        seen[day] = store_metrics(tmp)
    return Seen(tmp, seen, " ".join(board.stdout.replace("│", " ").split()), progress)


def _progress(tmp: Path) -> list[tuple[object, ...]]:
    con = open_store(tmp / "store.duckdb", read_only=True)
    try:
        return con.execute(
            "SELECT indicator, region, as_of, release_due, stale FROM progress "
            "WHERE horizon = 'year' ORDER BY ALL"
        ).fetchall()
    finally:
        con.close()


def _end_of(day: date) -> float:
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC).timestamp()


def _samples(metrics: str, name: str) -> dict[tuple[str, str, str, str], float]:
    """(indicator, region, horizon, year) -> value of one KPI family."""
    pattern = (
        rf'^kpiwatch_kpi_{name}{{horizon="(\w+)",indicator="(\w+)",region="(\w+)",'
        rf'year="(\d+)"}} (\S+)$'
    )
    found = re.findall(pattern, metrics, re.M)
    return {(i, r, h, y): float(v) for h, i, r, y, v in found}


# (indicator, region, year): the day the next figure is due, and whether it is late on
# each of DAYS (from the day after the due day)
DUE = {
    ("gdp", "a", "2026"): (date(2026, 4, 25), (0.0, 1.0)),  # March: 31 March + 25 days
    ("gdp", "n", "2026"): (date(2026, 2, 25), (1.0, 1.0)),  # never reported: January's
    ("gdp", "d", "2025"): (date(2026, 2, 25), (1.0, 1.0)),  # December in: next January's
    # its year with figures stands for it: January and February come as one, by 25 March
    ("gdp", "j", "2025"): (date(2026, 3, 25), (1.0, 1.0)),
    ("gdp_q", "a", "2026"): (date(2026, 7, 30), (0.0, 0.0)),  # Q2: 30 June + 30 days
    ("gdp_q", "n", "2026"): (date(2026, 4, 30), (0.0, 1.0)),  # never reported: Q1's
}


def test_months_and_quarters_export_the_day_their_next_figure_is_due(store: Seen) -> None:
    for n, day in enumerate(DAYS):
        metrics = store.metrics[day]
        due = _samples(metrics, "next_release_due_timestamp_seconds")
        stale = _samples(metrics, "stale")
        # every horizon of a series carries its day; quarterly series have no month
        for (ind, region, year), (when, late) in DUE.items():
            horizons = ("year", "quarter") if ind == "gdp_q" else ("year", "quarter", "month")
            for h in horizons:
                assert due[(ind, region, h, year)] == _end_of(when), (ind, region, h, day)
                assert stale[(ind, region, h, year)] == late[n], (ind, region, h, day)
        # fai_d's first 旬 was due on 15 January, its January on 25 February
        assert due[("fai_d", "n", "dekad", "2026")] == _end_of(date(2026, 1, 15))
        assert due[("fai_d", "n", "year", "2026")] == _end_of(date(2026, 2, 25))
        assert len(due) == 20  # one series per indicator × region × horizon
        # the flag is read from the day: stale exactly when the day has ended
        judged = datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp()
        assert all(stale[k] == float(judged >= v) for k, v in due.items())
        check = subprocess.run(
            ["promtool", "check", "metrics"], input=metrics, capture_output=True, text=True
        )
        assert check.returncode == 0 and not check.stdout.strip(), check.stdout + check.stderr


def test_the_progress_view_gives_the_day_on_the_newest_check(store: Seen) -> None:
    assert store.progress == [
        ("fai_d", "n", "2026-01", date(2026, 2, 25), True),
        ("fai_d", "n", "2027-01", date(2027, 2, 25), False),
        ("gdp", "a", "2026-01", None, False),
        ("gdp", "a", "2026-02", date(2026, 4, 25), True),
        ("gdp", "d", "2025-01", None, False),
        *[("gdp", "d", f"2025-{m:02d}", None, False) for m in range(2, 12)],
        ("gdp", "d", "2025-12", date(2026, 2, 25), True),
        *[("gdp", "j", f"2025-{m:02d}", None, False) for m in range(2, 12)],
        ("gdp", "j", "2025-12", date(2026, 3, 25), True),
        ("gdp", "j", "2026-01", date(2026, 3, 25), True),  # 2026 awaits its 1-2月 too
        ("gdp", "n", "2026-01", date(2026, 2, 25), True),  # its one no_data check
        ("gdp_q", "a", "2026Q1", date(2026, 7, 30), False),
        ("gdp_q", "n", "2026Q1", date(2026, 4, 30), True),
    ]


def test_the_board_says_when_the_late_figure_was_due(store: Seen) -> None:
    text = store.board
    # a's, n's, n's quarter and fai_d, and j's 2026 (d's and j's 2025 are over)
    assert text.count("the next release is late") == 5, text
    assert "the next release is late (due 2026-04-25)" in text
    assert "no data for 2026; the next release is late (due 2026-02-25)" in text
    assert "no data for 2026; the next release is late (due 2026-04-30)" in text


def _found(tmp: Path, metrics: str, items: dict[str, list[str]], of: str = "") -> str:
    """promtool's complaints (none: it agrees) about whether each alert's generated
    expression finds exactly its items (of indicator `of` alone, if given) in the exported
    series, scraped once a minute."""
    if not (tmp / "rules").is_dir():  # the config does not change: written once
        done = run_kpiwatch(tmp, "rules", "-o", str(tmp / "rules"))
        assert done.returncode == 0, done.stdout + done.stderr
    exprs = {
        r.get("alert"): r["expr"]
        for path in (tmp / "rules").glob("*-rules.yml")
        for g in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
        for r in g["rules"]
    }
    series = [
        {"series": f'{name[:-1]},job="kpiwatch",instance="a"}}', "values": f"{value}x30"}
        for name, value in re.findall(r"^(kpiwatch_kpi_\w+\{.*\}) (\S+)$", metrics, re.M)
    ]
    only = f' and on(indicator) kpiwatch_kpi_info{{indicator="{of}"}}' if of else ""
    tests = [
        {
            "expr": f"count by (indicator, region, horizon, year) ({exprs[alert]}){only}",
            "eval_time": "20m",
            "exp_samples": [{"labels": item, "value": 1} for item in found],
        }
        for alert, found in items.items()
    ]
    test = {"interval": "1m", "input_series": series, "promql_expr_test": tests}
    out = tmp / "pages.yml"
    out.write_text(yaml.safe_dump({"tests": [test]}, allow_unicode=True), encoding="utf-8")
    run = subprocess.run(["promtool", "test", "rules", str(out)], capture_output=True, text=True)
    return "" if run.returncode == 0 else run.stdout + run.stderr


ITEM = '{{horizon="{}", indicator="{}", region="{}", year="{}"}}'


def test_a_series_that_never_reported_pages_once_as_late(store: Seen) -> None:
    """KpiDataStale finds each late series once (fai_d's late 旬 rather than its month);
    no figure is not behind pace, so nothing else pages for the missing figures."""
    late = [ITEM.format("year", *key) for key, (_, flags) in DUE.items() if flags[1]]
    late.append(ITEM.format("dekad", "fai_d", "n", "2026"))
    others = ("KpiBehindPace", "KpiForecastShortfall", "KpiForecastAtRisk", "KpiBehindDekad")
    items = {"KpiDataStale": late} | {a: [] for a in others}
    assert not _found(store.tmp, store.metrics[DAYS[1]], items)


def test_at_the_years_turn_the_months_show_the_year_the_dekad_is_late_for(store: Seen) -> None:
    """On 20 January 2027 fai_d's first 旬 of 2027 is overdue (15 January), its January
    of 2026 long since: the months show 2027 as the 旬 does, so the 旬 item alone pages."""
    metrics = store.metrics[NEW_YEAR]
    stale = {k: v for k, v in _samples(metrics, "stale").items() if k[0] == "fai_d"}
    horizons = ("dekad", "month", "quarter", "year")
    assert stale == {("fai_d", "n", h, "2027"): float(h == "dekad") for h in horizons}
    item = ITEM.format("dekad", "fai_d", "n", "2027")
    assert not _found(store.tmp, metrics, {"KpiDataStale": [item]}, of="fai_d")
