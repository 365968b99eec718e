"""Progress checks on the worked examples of DESIGN.md and the rules of the checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.checks_helpers import one, pipeline, progress

TARGET_600 = """
[[targets]]
indicator = "projects_started"
region = "west_coast"
year = 2026
annual = 600
quarters = { Q1 = 257 }
"""


def test_worked_example_projects_started(tmp_path: Path) -> None:
    config = pipeline(
        tmp_path,
        """
        2026年1-2月,west_coast,projects_started,value,150
        2026年3月,west_coast,projects_started,value,107
        2026年4月,west_coast,projects_started,value,38.11
        2026年5月,west_coast,projects_started,value,38.11
        2026年6月,west_coast,projects_started,value,38.11
        """,
        TARGET_600,
    )
    feb_q = one(config, "west_coast", "2026-02", "quarter")
    assert round(feb_q["pace_target"], 2) == 171.33
    assert feb_q["attainment"] == pytest.approx(0.876, abs=0.001)
    assert round(feb_q["required_rate"], 2) == 107.00
    assert feb_q["status"] == "at_risk"  # 87.6 %: below 100 %, above 80 %
    mar_q = one(config, "west_coast", "2026-03", "quarter")
    assert (mar_q["actual"], mar_q["attainment"], mar_q["status"]) == (257, 1.0, "on_track")
    apr_m = one(config, "west_coast", "2026-04", "month")
    assert round(apr_m["pace_target"], 2) == 38.11
    jun_y = one(config, "west_coast", "2026-06", "year")
    assert round(jun_y["pace_target"], 2) == 371.33
    assert round(jun_y["attainment"], 4) == 1.0
    assert round(jun_y["required_rate"], 2) == round((600 - 371.33) / 6, 2)
    assert not progress(config, "as_of = '2026-01'"), "no January check for a Jan–Feb release"


def test_worked_example_gdp_growth_gap(tmp_path: Path) -> None:
    config = pipeline(
        tmp_path,
        "2026Q1,CN,gdp_growth,ytd_yoy_pct,6.1\n2026Q1,CN,gdp_growth,yoy_pct,6.1",
        """
        [[targets]]
        indicator = "gdp_growth"
        region = "CN"
        year = 2026
        annual = 6.5
        """,
    )
    q1 = one(config, "CN", "2026Q1", "year", "gdp_growth")
    assert round(q1["gap"], 2) == -0.40
    assert round(q1["attainment"], 2) == -0.40  # growth attainment is the gap in pp
    assert q1["status"] == "at_risk"  # within −0.5 pp
    assert "-0.40 pp" in q1["reason"]


@pytest.mark.parametrize(
    ("thresholds", "expected"),
    [
        ("", ["behind", "at_risk", "on_track"]),
        (
            "[thresholds]\nbehind_below = 0.6\nat_risk_below = 0.8\n",
            ["at_risk", "on_track", "on_track"],
        ),
    ],
)
def test_thresholds_80_100_and_60_80(tmp_path: Path, thresholds: str, expected: list[str]) -> None:
    # 12 000 a year linear: 1 000 due per month; attainment 0.7, 0.9, 1.1 in three regions
    rows = "\n".join(
        f"2026年3月,{r},projects_started,ytd,{a * 3000:.0f}"
        for r, a in (("zone_a", 0.7), ("zone_b", 0.9), ("west_coast", 1.1))
    )
    targets = "".join(
        f'[[targets]]\nindicator = "projects_started"\nregion = "{r}"\nyear = 2026\n'
        "annual = 12000\n"
        for r in ("zone_a", "zone_b", "west_coast")
    )
    config = pipeline(tmp_path, rows, targets + thresholds)
    got = [one(config, r, "2026-03", "year")["status"] for r in ("zone_a", "zone_b", "west_coast")]
    assert got == expected


def test_direction_lower_is_mirrored(tmp_path: Path) -> None:
    config = pipeline(
        tmp_path,
        "2026年6月,CN,energy,ytd,660",
        '[[targets]]\nindicator = "energy"\nregion = "CN"\nyear = 2026\nannual = 1200\n',
    )
    jun = one(config, "CN", "2026-06", "year", "energy")
    assert round(jun["attainment"], 3) == 0.9  # 10 % over the ceiling's pace
    assert round(jun["gap"], 2) == -60
    assert jun["status"] == "at_risk"


def test_quarter_behind_puts_the_year_at_risk(tmp_path: Path) -> None:
    # A strong Q1 keeps the YTD ahead of pace, but Q2's own delivery is behind.
    config = pipeline(
        tmp_path,
        """
        2026年1-2月,west_coast,projects_started,value,200
        2026年3月,west_coast,projects_started,value,300
        2026年4月,west_coast,projects_started,value,40
        2026年5月,west_coast,projects_started,value,40
        """,
        TARGET_600.replace("annual = 600", "annual = 1200").replace("quarters = { Q1 = 257 }", ""),
    )
    q2 = one(config, "west_coast", "2026-05", "quarter")
    year = one(config, "west_coast", "2026-05", "year")
    assert (q2["actual"], q2["pace_target"], q2["horizon_target"]) == (80, 200, 300)
    assert q2["status"] == "behind"
    assert round(q2["required_rate"], 2) == 220
    assert year["raw_status"] == "on_track"  # 580 done of 500 due
    assert year["status"] == "at_risk"
    assert "quarter is behind" in year["reason"]


def test_cascade_month_to_quarter_to_year(tmp_path: Path) -> None:
    # Linear 1 200 a year (100 a month); Q2 target 500 by June is ahead of linear.
    config = pipeline(
        tmp_path,
        """
        2026年1-2月,west_coast,projects_started,value,200
        2026年3月,west_coast,projects_started,value,100
        2026年4月,west_coast,projects_started,value,300
        2026年5月,west_coast,projects_started,value,40
        """,
        TARGET_600.replace("annual = 600", "annual = 1200").replace(
            "quarters = { Q1 = 257 }", "quarters = { Q1 = 300, Q2 = 700 }"
        ),
    )
    may_m = one(config, "west_coast", "2026-05", "month")
    may_q = one(config, "west_coast", "2026-05", "quarter")
    may_y = one(config, "west_coast", "2026-05", "year")
    assert may_m["status"] == "behind"  # 40 of 133.33
    assert may_q["raw_status"] == "on_track" and may_q["status"] == "at_risk"
    assert "month is behind" in may_q["reason"]
    assert may_y["raw_status"] == "on_track" and may_y["status"] == "on_track"


def test_hysteresis_passes_through_yellow(tmp_path: Path) -> None:
    rows = "\n".join(
        f"2026年{m}月,west_coast,projects_started,value,{v}"
        for m, v in ((3, 300), (4, 10), (5, 200), (6, 100), (7, 100))
    )
    config = pipeline(
        tmp_path,
        "2026年1-2月,west_coast,projects_started,value,200\n" + rows,
        '[[targets]]\nindicator = "projects_started"\nregion = "west_coast"\nyear = 2026\n'
        "annual = 1200\n[thresholds]\nrecover_after = 1\n",
    )
    months = [one(config, "west_coast", f"2026-0{m}", "month") for m in (4, 5, 6)]
    assert [m["raw_status"] for m in months] == ["behind", "on_track", "on_track"]
    assert [m["status"] for m in months] == ["behind", "at_risk", "on_track"]


def test_missing_month_is_missing_not_zero(tmp_path: Path) -> None:
    config = pipeline(
        tmp_path,
        """
        2026年1-2月,west_coast,projects_started,value,150
        2026年3月,west_coast,projects_started,value,107
        2026年5月,west_coast,projects_started,value,40
        """,
        TARGET_600,
    )
    apr = one(config, "west_coast", "2026-04", "year")
    may = one(config, "west_coast", "2026-05", "year")
    assert apr["actual"] is None and apr["status"] == "no_data"
    assert may["actual"] is None, "May's YTD needs April; it is unknown, not 297"
    assert one(config, "west_coast", "2026-05", "month")["actual"] == 40


def test_stale_data_is_flagged(tmp_path: Path) -> None:
    rows = "2026年1-2月,west_coast,projects_started,value,150"
    fresh = pipeline(tmp_path, rows, TARGET_600, today=__import__("datetime").date(2026, 4, 20))
    assert one(fresh, "west_coast", "2026-02", "year")["stale"] is False
    late = pipeline(tmp_path, rows, TARGET_600, today=__import__("datetime").date(2026, 4, 26))
    row = one(late, "west_coast", "2026-02", "year")
    assert row["stale"] is True and "late" in row["reason"]


def test_roll_up_equals_checking_the_sum(tmp_path: Path) -> None:
    children = """
        2026年1-2月,zone_a,projects_started,value,90
        2026年1-2月,zone_b,projects_started,value,60
        2026年3月,zone_a,projects_started,value,50
        2026年3月,zone_b,projects_started,value,57
    """
    summed = """
        2026年1-2月,west_coast,projects_started,value,150
        2026年3月,west_coast,projects_started,value,107
    """
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    rolled = pipeline(tmp_path / "a", children, TARGET_600)
    direct = pipeline(tmp_path / "b", summed, TARGET_600)
    keys = ("as_of", "horizon", "actual", "pace_target", "attainment", "required_rate", "status")
    a = [{k: r[k] for k in keys} for r in progress(rolled, "region = 'west_coast'")]
    b = [{k: r[k] for k in keys} for r in progress(direct, "region = 'west_coast'")]
    assert a == b and len(a) == 6
    assert all(r["rolled_up"] for r in progress(rolled, "region = 'west_coast'"))


def test_parent_data_is_never_overwritten_and_mismatch_is_reported(tmp_path: Path) -> None:
    config = pipeline(
        tmp_path,
        """
        2026年1-2月,zone_a,projects_started,value,90
        2026年1-2月,zone_b,projects_started,value,60
        2026年1-2月,west_coast,projects_started,value,140
        """,
        TARGET_600,
    )
    assert one(config, "west_coast", "2026-02", "year")["actual"] == 140
    import duckdb

    con = duckdb.connect(str(config.store_path), read_only=True)
    assert con.execute(
        "SELECT region, reported, children_sum FROM rollup_mismatches"
    ).fetchall() == [("west_coast", 140.0, 150.0)]


def test_regions_are_ranked_within_their_parent(tmp_path: Path) -> None:
    targets = "".join(
        f'[[targets]]\nindicator = "projects_started"\nregion = "{r}"\nyear = 2026\nannual = 1200\n'
        for r in ("zone_a", "zone_b")
    )
    config = pipeline(
        tmp_path,
        "2026年3月,zone_a,projects_started,ytd,200\n2026年3月,zone_b,projects_started,ytd,290",
        targets,
    )
    assert one(config, "zone_b", "2026-03", "year")["rank_in_parent"] == 1
    assert one(config, "zone_a", "2026-03", "year")["rank_in_parent"] == 2
