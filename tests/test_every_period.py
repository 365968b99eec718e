"""At least one per period: the count of periods without one, and their ladder."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.errors import ConfigError
from ingest.store import open_store
from kpiwatch import app
from kpiwatch.config import Config
from metrics.per_period import EveryPeriod, PerGrain, periods
from tests.register_helpers import load, project_line, query, register_config, write_register
from tests.units_helpers import PROGRESS, TASKS, UNITS_TOML, ingest, load_lists, write

# Weeks W02..W05 of 2026 (5 Jan to 1 Feb): signings in Ecopark on 6 and 28 January, none
# in W03 and W04 (Dongjiakou's signing in W03 is another region's, a 0.5 亿元 one too
# small); starts in February only; days 5..11 January with signings on the 6th and 8th.
RULES = """
[[every_period]]
id = "weekly_signing"
name = "每周有签约入驻"
grain = "week"
start = 2026-01-05
end = 2026-02-01
owner = "投资促进局"
in_register = "major"
node = "signed"
region = "ecopark"
min_investment = 1

[[every_period]]
id = "daily_talks"
name = "每天有项目洽谈"
grain = "day"
start = 2026-01-05
end = 2026-01-11
in_register = "major"
node = "signed"

[[every_period]]
id = "monthly_starts"
name = "每月有开工建设"
grain = "month"
start = 2026-01-01
end = 2026-03-31
in_register = "major"
node = "started"
"""

LINES = [
    project_line("P1", signed=("2026-01-06", "2026-01-06")),
    project_line("P2", signed=("2026-01-28", "2026-01-28"), started=("2026-02-10", "2026-02-12")),
    project_line("P3", region="董家口经济区", signed=("2026-01-14", "2026-01-14")),
    project_line("P4", investment="0.5", signed=("2026-01-21", "2026-01-21")),
    project_line("P5", region="董家口经济区", signed=("2026-01-08", "2026-01-08")),
]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Config:
    tmp = tmp_path_factory.mktemp("every_period")
    config = register_config(tmp, extra=RULES)
    # P2's signing on 28 January (W05) reaches the register only with its March version
    first = [line for line in LINES if not line.startswith("P2,")]
    load(config, write_register(tmp / "register0.csv", first), "2026-01-31")
    load(config, write_register(tmp / "register1.csv", LINES), "2026-03-31")
    con = open_store(config.store_path)
    try:
        app.escalations_with(con, config)
    finally:
        con.close()
    return config


def test_the_status_is_the_count_of_periods_without_one(store: Config) -> None:
    rows = query(
        store,
        "SELECT rule, periods, without_one, last_without_one FROM every_period_status "
        "ORDER BY rule",
    )
    assert rows == [
        ("daily_talks", 7, 5, "2026-01-11"),  # signings on the 6th (P1) and 8th (P5)
        ("monthly_starts", 3, 2, "2026-03"),
        ("weekly_signing", 4, 2, "2026-W04"),
    ]


def test_only_the_rules_region_and_size_count(store: Config) -> None:
    rows = query(
        store,
        "SELECT period, events, status FROM every_period WHERE rule = 'weekly_signing' "
        "ORDER BY period",
    )
    assert rows == [
        ("2026-W02", 1, "on_track"),
        ("2026-W03", 0, "behind"),  # Dongjiakou's P3 is another region's
        ("2026-W04", 0, "behind"),  # P4's 0.5 亿元 is below the rule's 1 亿元
        ("2026-W05", 1, "on_track"),
    ]


def test_a_period_not_yet_ended_counts_only_once_it_has_one(store: Config) -> None:
    rows = query(
        store,
        "SELECT period, status FROM every_period_as_of(DATE '2026-01-27') "
        "WHERE rule = 'weekly_signing' ORDER BY period",
    )
    # W05 (26 Jan to 1 Feb) has had nothing yet by the 27th: not judged
    assert [p for p, _ in rows] == ["2026-W02", "2026-W03", "2026-W04"]


def test_weeks_without_one_climb_the_ladder(store: Config) -> None:
    rows = query(
        store,
        "SELECT period, behind_run, level FROM escalation_history "
        "WHERE item_kind = 'every_period' AND item = 'weekly_signing' ORDER BY period_end",
    )
    # 通报 after one week without, 约谈 after two, one step down after a week with one
    assert rows == [("2026-W02", 0, 0), ("2026-W03", 1, 1), ("2026-W04", 2, 2), ("2026-W05", 0, 1)]
    units = query(
        store,
        "SELECT unit, level, reached_period FROM escalations_as_of(DATE '2026-04-01') "
        "WHERE item = 'weekly_signing' AND current",
    )
    assert units == [("投资促进局", 1, "2026-W05")]


def test_periods_and_their_ladder_as_known_on_a_day(store: Config) -> None:
    sql = (
        "SELECT period, events, status FROM every_period_as_of(DATE '{}') "
        "WHERE rule = 'weekly_signing' AND period = '2026-W05'"
    )
    # on 2 February P2's signing in W05 was not in the register yet; by April it was
    assert query(store, sql.format("2026-02-02")) == [("2026-W05", 0, "behind")]
    assert query(store, sql.format("2026-04-01")) == [("2026-W05", 1, "on_track")]
    units = query(
        store,
        "SELECT unit, level, reached_period FROM escalations_as_of(DATE '2026-02-02') "
        "WHERE item = 'weekly_signing' AND current",
    )
    assert units == [("投资促进局", 3, "2026-W05")]  # three weeks without one, as known then


@pytest.mark.parametrize(
    ("rule", "where", "why"),
    [
        (
            'in_register = "nope"\nnode = "signed"',
            "every_period[id=r].in_register",
            "unknown register",
        ),
        ('in_register = "major"\nnode = "nope"', "every_period[id=r].node", "unknown node"),
        ('in_register = "major"', "every_period[id=r]", "need the node"),
        ('task = "t1"\nin_register = "major"\nnode = "signed"', "every_period[id=r]", "either"),
        ('in_register = "major"\nnode = "signed"\nregion = "x"', "every_period[id=r].region", ""),
    ],
)
def test_rules_that_cannot_count_are_refused(
    tmp_path: Path, rule: str, where: str, why: str
) -> None:
    head = '[[every_period]]\nid = "r"\nname = "r"\ngrain = "week"\n'
    dates = "start = 2026-01-01\nend = 2026-12-31\n"
    with pytest.raises(ConfigError) as err:
        register_config(tmp_path, extra=head + dates + rule + "\n")
    assert where in str(err.value) and why in str(err.value)


@settings(deadline=None, max_examples=50)
@given(
    st.sampled_from(["day", "week", "dekad", "month", "quarter"]),
    st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)),
    st.integers(0, 400),
)
def test_periods_tile_the_rule_without_gaps(grain: PerGrain, start: date, days: int) -> None:
    rule = EveryPeriod(
        id="r", name="r", grain=grain, start=start, end=start + timedelta(days=days), task="t"
    )
    found = list(periods(rule))
    assert found[0][1] <= rule.start and found[-1][2] >= rule.end
    for (_, _, end), (_, nxt, _) in pairwise(found):
        assert nxt == end + timedelta(days=1)
    assert len({label for label, _, _ in found}) == len(found)


def test_progress_reported_on_a_task_counts(
    make_config: Callable[[str], Config], tmp_path: Path
) -> None:
    rule = """
[[every_period]]
id = "weekly_roads"
name = "每周有示范道路进展"
grain = "week"
start = 2026-01-05
end = 2026-02-08
task = "R_qty"
"""
    config = load_lists(make_config, tmp_path, rule)
    con = open_store(config.store_path)
    try:
        app.escalations_with(con, config)
        rows = con.execute(
            "SELECT periods, without_one, last_without_one FROM every_period_status"
        ).fetchall()
    finally:
        con.close()
    assert rows == [(5, 1, "2026-W06")]  # reports in W02..W05, none in W06


def test_progress_anywhere_below_a_key_work_counts(
    make_config: Callable[[str], Config], tmp_path: Path
) -> None:
    extra = """
[[tasks]]
id = "KW"
title = "城市更新"
unit = "renewal"
deadline = 2026-12-31
[[tasks]]
id = "KW.1"
title = "片区更新"
unit = "renewal"
deadline = 2026-12-31
parent = "KW"
[[tasks]]
id = "KW.1.a"
title = "一号片区"
unit = "housing"
deadline = 2026-12-31
parent = "KW.1"
[[every_period]]
id = "weekly_renewal"
name = "每周有城市更新进展"
grain = "week"
start = 2026-01-05
end = 2026-01-18
task = "KW"
"""
    write(tmp_path / "progress.csv", PROGRESS.strip() + "\nKW.1.a,2026-01-14,1,,\n")
    config = make_config(UNITS_TOML + TASKS + extra)
    assert [o.error for o in ingest(config, when="2025-12-01T00:00:00")] == [None]
    con = open_store(config.store_path)
    try:
        app.escalations_with(con, config)
        rows = con.execute(
            "SELECT period, events, status FROM every_period ORDER BY period"
        ).fetchall()
    finally:
        con.close()
    assert rows == [("2026-W02", 0, "behind"), ("2026-W03", 1, "on_track")]  # two levels down
