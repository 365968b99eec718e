"""Targets with values at 旬 ends (dekads = { "3-D1" = 200 }): the pace inside a month."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.errors import ConfigError
from ingest.grains import spans
from ingest.schema import Indicator, Region
from kpiwatch import app
from kpiwatch.config import load_config
from metrics.project_dekads import pace_at
from metrics.schema import Target, contradictions
from metrics.splits import target_split_gaps
from metrics.targets import curve_for
from tests.register_helpers import load, project_line, query, register_config, write_register

FLOW = Indicator(id="started", name="开工", kind="flow")

TARGET = """
[[targets]]
indicator = "projects_started"
region = "west_coast"
year = 2026
annual = 600
quarters = {{ Q1 = 257 }}
{dekads}
"""


def _refreshed(tmp: Path, dekads: str, known: str, today: date) -> Path:
    config = register_config(tmp, extra=TARGET.format(dekads=dekads))
    lines = [project_line(f"P{i}", started=("2026-03-10", "2026-03-10")) for i in range(3)]
    load(config, write_register(tmp / "register.csv", lines), known)
    app.refresh_checks(config, today=today)
    return tmp


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same register and target, with a 上旬 value and without, refreshed on 1 April."""
    made = {}
    for name, dekads in (("with", 'dekads = { "3月上旬" = 200 }'), ("without", "")):
        made[name] = _refreshed(
            tmp_path_factory.mktemp(name), dekads, "2026-04-01", date(2026, 4, 1)
        )
    return made


def test_dekad_values_anchor_the_pace_inside_their_month(stores: dict[str, Path]) -> None:
    config = load_config(stores["with"] / "config.toml")
    rows = query(
        config,
        "SELECT period, round(dekad_target, 4), actual FROM progress_dekads "
        "WHERE region = 'west_coast' AND period_start BETWEEN '2026-02-21' AND '2026-03-31' "
        "ORDER BY period_start",
    )
    # 171.33 by the end of February (Q1 = 257, linear), 200 by 10 March as given, then
    # linear by days to 257 on 31 March: 200 + 57 × 10/21 = 227.1429 on the 20th
    assert rows == [
        ("2026-02-D3", round(257 * 2 / 3, 4), 0),
        ("2026-03-D1", 200.0, 3),
        ("2026-03-D2", round(200 + 57 * 10 / 21, 4), 3),
        ("2026-03-D3", 257.0, 3),
    ]
    without = load_config(stores["without"] / "config.toml")
    before = query(without, "SELECT period, round(dekad_target, 4) FROM progress_dekads")
    assert ("2026-03-D1", round(257 * 2 / 3 + 257 / 3 * 10 / 31, 4)) in before


def test_dekad_values_leave_the_month_checks_alone(stores: dict[str, Path]) -> None:
    sql = (
        "SELECT as_of, horizon, round(pace_target, 4), round(horizon_target, 4), status "
        "FROM progress WHERE region = 'west_coast' ORDER BY as_of, horizon"
    )
    with_dekads = query(load_config(stores["with"] / "config.toml"), sql)
    assert with_dekads == query(load_config(stores["without"] / "config.toml"), sql)
    march = [r for r in with_dekads if r[0] == "2026-03" and r[1] == "month"]
    assert march == [("2026-03", "month", round(257 / 3, 4), round(257 / 3, 4), "behind")]


def test_a_dekad_value_inside_the_month_in_progress(tmp_path: Path) -> None:
    _refreshed(tmp_path, 'dekads = { "3-D2" = 230 }', "2026-03-15", date(2026, 3, 15))
    rows = query(
        load_config(tmp_path / "config.toml"),
        "SELECT period, CAST(as_of_day AS VARCHAR), round(pace_target, 4), dekad_target "
        "FROM progress_dekads WHERE region = 'west_coast' AND period = '2026-03-D2'",
    )
    # on the 15th: from 171.33 at the end of February to 230 on the 20th, by days
    feb = 257 * 2 / 3
    assert rows == [("2026-03-D2", "2026-03-15", round(feb + (230 - feb) * 15 / 20, 4), 230.0)]


@pytest.mark.parametrize(
    ("dekads", "path", "words"),
    [
        ('{ "3-D4" = 1 }', ".dekads", "\"3-D4\": '3-D4' is not a 旬"),
        ('{ "2025-03-D1" = 1 }', ".dekads", "not of 2026"),
        ('{ "2026-03" = 1 }', ".dekads", "a month, not a 旬"),
        ('{ "3-D2" = 220, "3月中旬" = 220 }', ".dekads", "name one 旬"),
        ('{ "3-D1" = 100 }', '.dekads."3-D1"', "outside the pace of its month"),
        ('{ "3月中旬" = 300 }', ".quarters.Q1", "300 is due by 3月中旬"),
        ('{ "3-D3" = 250 }', '.dekads."3-D3"', "contradicts quarters.Q1 = 257"),
        ('{ "4-D1" = 250 }', '.dekads."4-D1"', "cumulative values fall"),
    ],
)
def test_dekad_values_that_make_no_sense_are_refused(
    tmp_path: Path, dekads: str, path: str, words: str
) -> None:
    with pytest.raises(ConfigError) as info:
        register_config(tmp_path, extra=TARGET.format(dekads=f"dekads = {dekads}"))
    where = "targets[indicator=projects_started, region=west_coast, year=2026]"
    if path == ".dekads":  # a key that names no 旬: the table's path, the key in the message
        where = "targets[indicator=projects_started]"
    problems = info.value.problems
    assert len(problems) == 1 and problems[0].path == where + path, problems
    assert words in problems[0].message, problems


def test_dekad_values_where_no_dekad_is_checked_are_refused(tmp_path: Path) -> None:
    monthly = """
[[indicators]]
id = "gdp"
name = "GDP"
kind = "flow"

[[targets]]
indicator = "gdp"
region = "west_coast"
year = 2026
annual = 600
dekads = { "3-D3" = 150, "4-D1" = 160 }
"""
    with pytest.raises(ConfigError) as info:
        register_config(tmp_path, extra=monthly)
    [problem] = info.value.problems
    assert problem.path == "targets[indicator=gdp, region=west_coast, year=2026].dekads"
    assert "run only for register counts" in problem.message


@pytest.mark.parametrize(
    "dekads", ['{ "３月上旬" = 190 }', '{ "03-d1" = 190, "2026年3月中旬" = 210, "3-D3" = 257 }']
)
def test_dekad_keys_as_users_write_them(tmp_path: Path, dekads: str) -> None:
    config = register_config(tmp_path, extra=TARGET.format(dekads=f"dekads = {dekads}"))
    assert (3, 1) in config.targets[0].dekad_values()


def test_a_dekad_value_split_over_sub_regions_must_add_up() -> None:
    regions = [Region(id="wc", name="wc"), Region(id="a", name="a", parent="wc")]
    regions.append(Region(id="b", name="b", parent="wc"))
    parent = Target(indicator="started", region="wc", year=2026, annual=600, dekads={"3-D2": 80})
    kids = [
        Target(indicator="started", region="a", year=2026, annual=300, dekads={"3月中旬": 40}),
        Target(indicator="started", region="b", year=2026, annual=300, dekads={"3-D2": 30}),
    ]
    gaps = target_split_gaps([parent, *kids], regions, {"started": "flow"})
    assert [(g.where.split("]")[1], g.parent, g.children) for g in gaps] == [
        ('.dekads."3-D2"', 80, 70)
    ]


@st.composite
def anchored(draw: st.DrawFn) -> Target:
    """A flow target with non-decreasing quarter and month values and 旬 values between
    the pace at their month's two ends (what check-config accepts)."""
    annual = draw(st.floats(min_value=10, max_value=1e5))
    ends = sorted(draw(st.lists(st.integers(1, 11), max_size=5, unique=True)))
    shares = sorted(draw(st.lists(st.floats(0, 1), min_size=len(ends), max_size=len(ends))))
    months = {str(m): annual * f for m, f in zip(ends, shares, strict=True) if m % 3}
    quarters = {f"Q{m // 3}": annual * f for m, f in zip(ends, shares, strict=True) if m % 3 == 0}
    plain = Target(
        indicator="started", region="wc", year=2026, annual=annual, quarters=quarters, months=months
    )
    curve, _, _ = curve_for(plain, FLOW, {})
    dekads = {}
    for month in draw(st.lists(st.integers(1, 12), max_size=4, unique=True)):
        low, high = float(curve[month - 1]), float(curve[month])
        fractions = sorted(draw(st.lists(st.floats(0, 1), min_size=1, max_size=2)))
        for which, f in enumerate(fractions, start=1):
            dekads[
                f"{month}-D{which}" if which == 1 or draw(st.booleans()) else f"{month}月中旬"
            ] = low + (high - low) * f
        if draw(st.booleans()):  # the month's end again, as its 下旬
            dekads[f"{month}月下旬"] = high
    return Target.model_validate({**plain.model_dump(), "dekads": dekads})


@settings(deadline=None, max_examples=200)
@given(anchored())
def test_the_pace_over_dekads_rises_and_meets_every_anchor(target: Target) -> None:
    assert contradictions(target, "flow") == []
    curve, _, _ = curve_for(target, FLOW, {})
    inner = target.inner_dekads()
    paces = [
        pace_at(curve, d.end, inner) for d in spans(date(2026, 1, 1), date(2026, 12, 31), "dekad")
    ]
    assert np.all(np.diff([0.0, *paces]) >= -1e-9 * (target.annual or 1))
    for (month, which), value in target.dekad_values().items():
        assert paces[3 * (month - 1) + which - 1] == pytest.approx(value)
    day = date(2026, 1, 1)
    while day.year == 2026:  # and day by day, between the 旬 ends
        before = pace_at(curve, day - timedelta(days=1), inner) if day.day > 1 else None
        now = pace_at(curve, day, inner)
        assert before is None or now >= before - 1e-9 * (target.annual or 1)
        day += timedelta(days=1)
