"""The KPI collector renders exactly the expected exposition text from a snapshot."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest

from exporters.collector import CheckRow, ForecastRow, IndicatorInfo, KpiCollector, SnapshotData
from exporters.project_collector import ProjectData
from exporters.snapshot import render

GROWTH = CheckRow(
    "gdp_growth", "CN", "year", "growth", 6.1, 6.5, 6.5, -0.4, -0.4, None, "at_risk", False,
    2026, 1798761600.0, "at_risk", "统计局",
)  # fmt: skip
FLOW = CheckRow(
    "projects_started", "CN", "quarter", "flow", 150.0, 171.0, 257.0, 0.877, -21.0, 107.0,
    "behind", True, 2026, 1775001600.0, "at_risk",
)  # fmt: skip
DATA = SnapshotData(
    checks=[GROWTH],
    info=[IndicatorInfo("gdp_growth", "GDP growth", "%", "growth", "统计局", True)],
    data_end=[("gdp_growth", "CN", 1711929600.0)],
    forecasts=[
        ForecastRow("gdp_growth", "CN", "year", 6.2, 5.9, 6.5, 5.7, 6.7, 0.12, 2026, "growth", 0.5)
    ],
)


def samples(data: SnapshotData) -> list[str]:
    registry = CollectorRegistry()
    registry.register(KpiCollector(data))
    text = generate_latest(registry).decode()
    return [ln for ln in text.splitlines() if not ln.startswith("#")]


def test_growth_rates_are_ratios_under_names_of_their_own() -> None:
    labels = 'horizon="year",indicator="gdp_growth",region="CN",year="2026"'
    ivl = 'horizon="year",indicator="gdp_growth",interval="{}",region="CN",year="2026"'
    g = "kpiwatch_kpi_growth_"
    status = [
        f'kpiwatch_kpi_{fam}{{horizon="year",indicator="gdp_growth",region="CN",status="{s}",'
        f'year="2026"}} {1.0 if s == "at_risk" else 0.0}'
        for fam in ("status", "pace_status")
        for s in ("on_track", "at_risk", "behind", "no_data")
    ]
    assert samples(DATA) == [
        f"{g}actual_ratio{{{labels}}} 0.061",
        f"{g}pace_target_ratio{{{labels}}} 0.065",
        f"{g}target_ratio{{{labels}}} 0.065",
        f"{g}gap_ratio{{{labels}}} -0.004",
        *status,
        f"kpiwatch_kpi_stale{{{labels}}} 0.0",
        f"kpiwatch_kpi_horizon_end_timestamp_seconds{{{labels}}} 1.7987616e+09",
        f"{g}forecast_ratio{{{labels}}} 0.062",
        f"{g}expected_shortfall_ratio{{{labels}}} 0.005",
        f"{g}forecast_lower_ratio{{{ivl.format('80')}}} 0.059000000000000004",
        f"{g}forecast_lower_ratio{{{ivl.format('95')}}} 0.057",
        f"{g}forecast_upper_ratio{{{ivl.format('80')}}} 0.065",
        f"{g}forecast_upper_ratio{{{ivl.format('95')}}} 0.067",
        f"kpiwatch_kpi_target_met_probability{{{labels}}} 0.12",
        'kpiwatch_kpi_info{illustrative="true",indicator="gdp_growth",kind="growth",'
        'name="GDP growth",owner="统计局",unit="%"} 1.0',
        'kpiwatch_kpi_data_period_end_timestamp_seconds{indicator="gdp_growth",region="CN"} '
        "1.7119296e+09",
    ]


def test_flows_keep_their_unit_and_every_name_one_unit() -> None:
    data = SnapshotData([FLOW, GROWTH], [], [])
    names = {ln.split("{")[0] for ln in samples(data)}
    assert {
        "kpiwatch_kpi_actual",
        "kpiwatch_kpi_gap",
        "kpiwatch_kpi_required_rate",
        "kpiwatch_kpi_attainment_ratio",
        "kpiwatch_kpi_growth_actual_ratio",
        "kpiwatch_kpi_growth_gap_ratio",
    } <= names
    flow = [ln for ln in samples(data) if 'indicator="projects_started"' in ln]
    growth = [ln for ln in samples(data) if 'indicator="gdp_growth"' in ln]
    # no name holds both a flow (indicator's unit) and a growth rate (ratio)
    assert not {ln.split("{")[0] for ln in flow} & {ln.split("{")[0] for ln in growth} - {
        f"kpiwatch_kpi_{n}"
        for n in ("status", "pace_status", "stale", "horizon_end_timestamp_seconds")
    }
    assert 'kpiwatch_kpi_actual{horizon="quarter",indicator="projects_started",' in flow[0]
    assert all(n.startswith("kpiwatch_") for n in names)


def test_the_owner_comes_once_per_target_with_its_quarter_check() -> None:
    """Every target has a quarter check, a target given only as quarters no year check."""
    quarter = dataclasses.replace(GROWTH, horizon="quarter")
    for checks in ([GROWTH, quarter], [quarter]):
        owners = [ln for ln in samples(SnapshotData(checks, [], [])) if "target_info" in ln]
        assert owners == [
            'kpiwatch_kpi_target_info{indicator="gdp_growth",owner="统计局",region="CN",'
            'year="2026"} 1.0'
        ]


ON_TRACK = ("on_track", False, 2026, 1.8e9, "on_track")


def _many(n: int) -> SnapshotData:
    return SnapshotData(
        checks=[
            CheckRow(*("x", f"r{i}", h, "flow", 1.0, 1.0, 2.0, 1.0, 0.0, 0.1), *ON_TRACK)
            for i in range(n)
            for h in ("year", "quarter")
        ],
        info=[IndicatorInfo("x", "X", "个", "flow", "")],
        data_end=[("x", f"r{i}", 1.7e9) for i in range(n)],
        forecasts=[
            ForecastRow("x", f"r{i}", "year", 1.0, 0.0, 2.0, -1.0, 3.0, 0.5, 2026, "flow", 0.1)
            for i in range(n)
        ],
    )


@settings(deadline=None, max_examples=40)
@given(st.integers(1, 60), st.integers(1, 3000))
def test_max_series_counts_every_series(targets: int, max_series: int) -> None:
    snap = render(_many(targets), 0.0, max_series=max_series)
    lines = [ln for ln in snap.text.splitlines() if ln and not ln.startswith(b"#")]
    assert len(lines) == snap.series <= max_series
    # a target: 2 checks x 16 series, its owner, a forecast of 7, a data end; one info series
    kept = min(targets, (max_series - 1) // 41)
    assert snap.series == 1 + 41 * kept and snap.dropped == 2 * (targets - kept)
    assert snap.text.count(b"kpiwatch_kpi_forecast{") == kept


def test_series_limit_drops_whole_targets_and_says_how_many() -> None:
    snap = render(_many(10), 0.0, max_series=100)
    assert snap.dropped == 2 * 8 and snap.series == 1 + 2 * 41
    assert snap.text.count(b"kpiwatch_kpi_forecast{") == 2


def test_the_units_and_projects_series_count_too() -> None:
    nodes = [("register", f"zone_{i}", "start", "done", 1) for i in range(50)]
    data = dataclasses.replace(_many(10), projects=ProjectData(nodes=nodes))
    snap = render(data, 0.0, max_series=200)
    assert snap.series <= 200 and snap.text.count(b'region="zone_') == 50
    assert snap.series == 1 + 50 + 41 * ((200 - 51) // 41)
