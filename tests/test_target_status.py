"""Statuses and reasons at the edges: targets of zero, ceilings, thresholds, no data."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.checks_helpers import CONFIG, one, pipeline, progress


def target(indicator: str, region: str, annual: float, year: int = 2026, extra: str = "") -> str:
    return (
        f'[[targets]]\nindicator = "{indicator}"\nregion = "{region}"\nyear = {year}\n'
        f"annual = {annual}\n{extra}\n"
    )


@pytest.mark.parametrize(
    ("used", "status", "words"),
    [
        (3, "behind", "3.00 used, 0.00 allowed by 2026-03"),
        (0, "on_track", "within 0.00 allowed"),
    ],
)
def test_a_ceiling_of_zero_exceeded_is_behind(
    tmp_path: Path, used: int, status: str, words: str
) -> None:
    config = pipeline(tmp_path, f"2026年3月,CN,energy,ytd,{used}", target("energy", "CN", 0))
    for horizon in ("year", "quarter"):
        row = one(config, "CN", "2026-03", horizon, "energy")
        assert row["status"] == status, row
    year = one(config, "CN", "2026-03", "year", "energy")
    assert words in str(year["reason"])
    assert "needed to reach" not in str(year["reason"])


def test_a_target_of_zero_is_met_by_anything(tmp_path: Path) -> None:
    config = pipeline(
        tmp_path, "2026年3月,zone_a,projects_started,ytd,0", target("projects_started", "zone_a", 0)
    )
    row = one(config, "zone_a", "2026-03", "year")
    assert row["status"] == "on_track"
    assert "nothing due by 2026-03" in str(row["reason"])


def test_reasons_read_right_for_a_ceiling(tmp_path: Path) -> None:
    config = pipeline(
        tmp_path,
        """
        2026年3月,CN,energy,ytd,110
        2026年6月,CN,energy,ytd,1300
        """,
        target("energy", "CN", 1200),
    )
    within = one(config, "CN", "2026-03", "year", "energy")
    assert within["status"] == "on_track"
    assert "110.00 used of 300.00 allowed by 2026-03" in str(within["reason"])
    assert "at most 121.11 a month more to stay within 1200.00 by 2026-12" in str(within["reason"])
    assert "already reached" not in str(within["reason"])
    over = one(config, "CN", "2026-06", "year", "energy")
    assert over["status"] == "behind"
    assert "year ceiling of 1200.00 already exceeded by 100.00" in str(over["reason"])


def test_a_target_reached_says_so(tmp_path: Path) -> None:
    config = pipeline(
        tmp_path,
        "2026年3月,zone_a,projects_started,ytd,130",
        target("projects_started", "zone_a", 120),
    )
    row = one(config, "zone_a", "2026-03", "year")
    assert "year target of 120.00 already reached" in str(row["reason"])


def test_a_status_at_an_exact_threshold_does_not_depend_on_the_last_bit(tmp_path: Path) -> None:
    # 4.8 of a pace of 6.0 is 80 % exactly; in binary 4.8 / 6.0 is 0.7999999999999999.
    # 0.6 % against 1.1 % is −0.5 pp exactly; in binary −0.5000000000000001.
    config = pipeline(
        tmp_path,
        """
        2026年3月,zone_a,projects_started,ytd,4.8
        2026Q1,CN,gdp_growth,ytd_yoy_pct,0.6
        """,
        target("projects_started", "zone_a", 24) + target("gdp_growth", "CN", 1.1),
    )
    assert one(config, "zone_a", "2026-03", "year")["status"] == "at_risk"
    assert one(config, "CN", "2026Q1", "year", "gdp_growth")["status"] == "at_risk"


def test_a_target_whose_year_has_no_data_is_a_visible_no_data_check(tmp_path: Path) -> None:
    config = pipeline(
        tmp_path,
        "2026年3月,zone_a,projects_started,ytd,40",
        target("projects_started", "zone_a", 120, 2025)
        + target("projects_started", "zone_a", 120, 2026)
        + target("gdp_growth", "CN", 5.0, 2025),
    )
    rows = progress(config, "year = 2025 AND horizon = 'year'")
    assert {(r["indicator"], r["as_of"], r["status"]) for r in rows} == {
        ("projects_started", "2025-01", "no_data"),
        ("gdp_growth", "2025Q1", "no_data"),
    }
    # the series has moved on to 2026: 2025 awaits nothing; gdp_growth never reported,
    # and its 2025 was late once Q1's figure was 30 days overdue
    assert {r["indicator"]: r["reason"] for r in rows} == {
        "projects_started": "no data for 2025",
        "gdp_growth": "no data for 2025; the next release is late (due 2025-04-30)",
    }


def test_non_finite_targets_are_refused(tmp_path: Path) -> None:
    from ingest.errors import ConfigError

    with pytest.raises(ConfigError, match="annual"):
        pipeline(
            tmp_path,
            "2026年3月,zone_a,projects_started,ytd,40",
            target("projects_started", "zone_a", "nan"),
        )  # type: ignore[arg-type]


def test_the_most_specific_owner_answers(tmp_path: Path) -> None:
    base = CONFIG.replace('name = "B区"', 'name = "B区"\nowner = "B区管委会"')
    config = pipeline(
        tmp_path,
        """
        2026年3月,zone_a,projects_started,ytd,40
        2026年3月,zone_b,projects_started,ytd,40
        2026年3月,west_coast,projects_started,ytd,80
        """,
        target("projects_started", "zone_a", 120, extra='owner = "A区项目专班"')
        + target("projects_started", "zone_b", 120)
        + target("projects_started", "west_coast", 240),
        base=base,
    )
    assert one(config, "zone_a", "2026-03", "year")["owner"] == "A区项目专班"
    assert one(config, "zone_b", "2026-03", "year")["owner"] == "B区管委会"
    assert one(config, "west_coast", "2026-03", "year")["owner"] == "发展改革局"


INDICATORS = """
[[regions]]
id = "CN"
name = "全国"
[[indicators]]
id = "started"
name = "开工"
kind = "flow"
[[indicators]]
id = "level"
name = "在建"
kind = "stock"
[[indicators]]
id = "rate"
name = "增速"
kind = "growth"
"""


@pytest.mark.parametrize(
    ("indicator", "values", "path"),
    [
        ("started", "annual = 600\nquarters = { Q1 = 257, Q2 = 700 }", "quarters.Q2"),
        ("started", "annual = 600\nquarters = { Q1 = 300, Q2 = 200 }", "quarters.Q2"),
        ("started", "annual = 600\nquarters = { Q4 = 590 }", "quarters.Q4"),
        ("started", 'annual = 600\nquarters = { Q1 = 90 }\nmonths = { "2" = 100 }', "quarters.Q1"),
        ("started", 'annual = 600\nquarters = { Q1 = 90 }\nmonths = { "3" = 100 }', 'months."3"'),
        ("started", 'annual = 600\nmonths = { "12" = 601 }', 'months."12"'),
        ("started", 'annual = 600\nmonths = { "4" = 50, "5" = 40 }', 'months."5"'),
        ("level", "annual = 600\nquarters = { Q4 = 590 }", "quarters.Q4"),
    ],
)
def test_targets_that_contradict_each_other_are_refused_with_the_toml_path(
    tmp_path: Path, indicator: str, values: str, path: str
) -> None:
    from ingest.errors import ConfigError
    from kpiwatch.config import load_config

    (tmp_path / "config.toml").write_text(
        INDICATORS
        + f'[[targets]]\nindicator = "{indicator}"\nregion = "CN"\nyear = 2026\n{values}\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "config.toml")
    where = f"targets[indicator={indicator}, region=CN, year=2026].{path}"
    assert [p.path for p in info.value.problems] == [where], info.value.problems


@pytest.mark.parametrize(
    ("indicator", "values"),
    [
        ("started", 'annual = 600\nquarters = { Q1 = 257, Q4 = 600 }\nmonths = { "3" = 257 }'),
        ("started", "annual = 0.3\nquarters = { Q4 = 0.30000000000000004 }"),
        ("level", "annual = 600\nquarters = { Q1 = 700, Q2 = 500 }"),  # a level may fall
        ("rate", "annual = 5.0\nquarters = { Q1 = 6.5, Q4 = 5.5 }"),  # rates are free
    ],
)
def test_consistent_targets_pass(tmp_path: Path, indicator: str, values: str) -> None:
    from kpiwatch.config import load_config

    (tmp_path / "config.toml").write_text(
        INDICATORS
        + f'[[targets]]\nindicator = "{indicator}"\nregion = "CN"\nyear = 2026\n{values}\n',
        encoding="utf-8",
    )
    load_config(tmp_path / "config.toml")


GROWTH_ROWS = """
2025年3月,zone_a,projects_started,ytd,30
2025年3月,zone_b,projects_started,ytd,50
2026年3月,zone_a,projects_started,ytd,40
2026年3月,zone_b,projects_started,ytd,55
"""


def test_a_level_target_carries_a_growth_floor_checked_on_growth_from_levels(
    tmp_path: Path,
) -> None:
    config = pipeline(
        tmp_path,
        GROWTH_ROWS,
        target("projects_started", "zone_a", 120, extra="growth = 20.0")
        + target("projects_started", "west_coast", 300, extra="growth = 20.0"),
    )
    level = one(config, "zone_a", "2026-03", "year")
    assert level["horizon_target"] == 120
    rate = one(config, "zone_a", "2026-03", "year", "projects_started_growth")
    assert rate["actual"] == pytest.approx(100 / 3)
    assert rate["pace_target"] == 20.0 and rate["status"] == "on_track"
    assert rate["unit"] == "%" and rate["owner"] == "发展改革局"
    # the parent's growth comes from its children's levels summed: 95 against 80
    parent = one(config, "west_coast", "2026-03", "year", "projects_started_growth")
    assert parent["actual"] == pytest.approx(18.75)
    assert parent["status"] == "behind" and parent["rolled_up"]


def test_growth_from_levels_wins_over_a_reported_rate_where_levels_exist(tmp_path: Path) -> None:
    declared = """
    [[indicators]]
    id = "started_growth"
    name = "开工增速"
    unit = "%"
    kind = "growth"
    levels = "projects_started"
    """
    config = pipeline(
        tmp_path,
        GROWTH_ROWS
        + """
        2026年3月,zone_a,started_growth,ytd_yoy_pct,99.0
        2026年6月,zone_a,started_growth,ytd_yoy_pct,7.0
        """,
        declared + target("projects_started", "zone_a", 120, extra="growth = 20.0"),
    )
    march = one(config, "zone_a", "2026-03", "year", "started_growth")
    assert march["actual"] == pytest.approx(100 / 3)
    june = one(config, "zone_a", "2026-06", "year", "started_growth")
    assert june["actual"] == 7.0


@pytest.mark.parametrize(
    ("extra", "path"),
    [
        (
            '[[indicators]]\nid = "projects_started_growth"\nname = "x"\nkind = "growth"\n'
            + target("projects_started", "zone_a", 120, extra="growth = 20.0"),
            "targets[indicator=projects_started, region=zone_a, year=2026].growth",
        ),
        (
            '[[indicators]]\nid = "g"\nname = "x"\nkind = "flow"\nlevels = "projects_started"\n',
            "indicators[id=g].levels",
        ),
        (
            target("projects_started", "zone_a", 120, extra="growth = 20.0")
            + target("projects_started_growth", "zone_a", 10),
            "targets[indicator=projects_started_growth, region=zone_a, year=2026]",
        ),
    ],
)
def test_growth_floors_that_cannot_be_checked_are_refused(
    tmp_path: Path, extra: str, path: str
) -> None:
    from ingest.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        pipeline(tmp_path, GROWTH_ROWS, extra)
    assert path in [p.path for p in info.value.problems], info.value.problems


def test_the_demo_carries_the_plans_targets_on_the_regions_it_names() -> None:
    from kpiwatch.config import load_config
    from tests.conftest import ROOT

    config = load_config(ROOT / "config.toml")
    by_key = {(t.indicator, t.region): t for t in config.targets if t.year == 2026}
    fai = by_key[("fai_wc", "guzhenkou")]
    assert (fai.annual, fai.growth) == (195, 20.0)
    assert ("fai_wc", "west_coast") not in by_key
    assert by_key[("fai_wc_growth", "guzhenkou")].annual == 20.0
    assert by_key[("projects_signed", "west_coast")].quarters == {"Q1": 100}
    assert by_key[("fin_va_growth", "west_coast")].quarters == {"Q1": 10.0}
    assert by_key[("gdp_growth", "west_coast")].quarters == {"Q1": 6.5}
    owners = {r.id: r.owner for r in config.regions}
    assert owners["guzhenkou"] and owners["west_coast"]


def test_a_plan_may_give_only_a_quarter(tmp_path: Path) -> None:
    q1_only = (
        '[[targets]]\nindicator = "gdp_growth"\nregion = "west_coast"\nyear = 2026\n'
        "quarters = { Q1 = 6.5 }\n"
        '[[targets]]\nindicator = "projects_started"\nregion = "zone_a"\nyear = 2026\n'
        "quarters = { Q1 = 90 }\n"
    )
    config = pipeline(
        tmp_path,
        """
        2026Q1,west_coast,gdp_growth,yoy_pct,6.1
        2026Q2,west_coast,gdp_growth,yoy_pct,6.3
        2026年2月,zone_a,projects_started,ytd,50
        2026年3月,zone_a,projects_started,ytd,80
        2026年4月,zone_a,projects_started,ytd,120
        """,
        q1_only,
    )
    gdp = progress(config, "indicator = 'gdp_growth'")
    assert [(r["as_of"], r["horizon"]) for r in gdp] == [("2026Q1", "quarter")]
    assert gdp[0]["gap"] == pytest.approx(-0.4) and gdp[0]["status"] == "at_risk"
    started = progress(config, "indicator = 'projects_started' AND horizon <> 'month'")
    assert [(r["as_of"], r["horizon"]) for r in started] == [
        ("2026-02", "quarter"),
        ("2026-03", "quarter"),
    ]
    assert started[0]["pace_target"] == pytest.approx(60.0)
    assert started[1]["horizon_target"] == 90 and started[1]["status"] == "at_risk"


def test_a_target_without_any_value_is_refused(tmp_path: Path) -> None:
    from ingest.errors import ConfigError

    with pytest.raises(ConfigError, match="annual, quarters or months"):
        pipeline(
            tmp_path,
            "2026年3月,zone_a,projects_started,ytd,40",
            '[[targets]]\nindicator = "projects_started"\nregion = "zone_a"\nyear = 2026\n',
        )


def test_the_alertmanager_example_routes_every_owner_a_config_names(tmp_path: Path) -> None:
    from kpiwatch import generated
    from kpiwatch.config import load_config

    base = CONFIG.replace('name = "B区"', 'name = "B区"\nowner = "B区管委会"')
    extra = target("projects_started", "zone_a", 120, extra='owner = "A区项目专班"')
    (tmp_path / "config.toml").write_text(base + extra, encoding="utf-8")
    generated.write_rules(load_config(tmp_path / "config.toml"), tmp_path / "rules")
    example = (tmp_path / "rules" / "alertmanager.example.yml").read_text(encoding="utf-8")
    for owner in ("B区管委会", "A区项目专班", "发展改革局"):
        assert f'owner="{owner}"' in example
