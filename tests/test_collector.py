"""The KPI collector renders exactly the expected exposition text from a snapshot."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from exporters.collector import CheckRow, ForecastRow, IndicatorInfo, KpiCollector, SnapshotData
from exporters.snapshot import render

DATA = SnapshotData(
    checks=[
        CheckRow(
            "gdp_growth", "CN", "year", "growth", 6.1, 6.5, 6.5, -0.4, -0.4, None, "at_risk", False
        ),
    ],
    info=[IndicatorInfo("gdp_growth", "GDP growth", "%", "growth", "统计局")],
    data_end=[("gdp_growth", "CN", 1711929600.0)],
    forecasts=[ForecastRow("gdp_growth", "CN", "year", 6.2, 5.9, 6.5, 5.7, 6.7, 0.12)],
)


def test_exposition_text_is_exact() -> None:
    registry = CollectorRegistry()
    registry.register(KpiCollector(DATA))
    text = generate_latest(registry).decode()
    labels = 'horizon="year",indicator="gdp_growth",region="CN"'
    interval_labels = 'horizon="year",indicator="gdp_growth",interval="{}",region="CN"'
    expected = [
        f"kpi_actual{{{labels}}} 6.1",
        f"kpi_pace_target{{{labels}}} 6.5",
        f"kpi_target{{{labels}}} 6.5",
        f"kpi_gap{{{labels}}} -0.4",
        f'kpi_status{{{labels},status="on_track"}} 0.0',
        f'kpi_status{{{labels},status="at_risk"}} 1.0',
        f'kpi_status{{{labels},status="behind"}} 0.0',
        f'kpi_status{{{labels},status="no_data"}} 0.0',
        f"kpi_stale{{{labels}}} 0.0",
        f"kpi_forecast{{{labels}}} 6.2",
        f"kpi_forecast_lower{{{interval_labels.format('80')}}} 5.9",
        f"kpi_forecast_lower{{{interval_labels.format('95')}}} 5.7",
        f"kpi_forecast_upper{{{interval_labels.format('80')}}} 6.5",
        f"kpi_forecast_upper{{{interval_labels.format('95')}}} 6.7",
        f"kpi_target_met_probability{{{labels}}} 0.12",
        'kpi_info{indicator="gdp_growth",kind="growth",name="GDP growth",owner="统计局",'
        'unit="%"} 1.0',
        'kpi_data_period_end_timestamp_seconds{indicator="gdp_growth",region="CN"} 1.7119296e+09',
    ]
    samples = [ln for ln in text.splitlines() if not ln.startswith("#")]
    assert samples == expected
    assert "kpi_attainment_ratio{" not in text  # a growth rate has a gap, not a ratio
    assert "kpi_required_rate{" not in text  # None is left out, never exported as 0


def test_series_limit_drops_checks_and_says_how_many() -> None:
    many = SnapshotData(
        checks=[
            CheckRow("x", f"r{i}", "year", "flow", 1.0, 1.0, 2.0, 1.0, 0.0, 0.1, "on_track", False)
            for i in range(100)
        ],
        info=[],
        data_end=[],
    )
    snap = render(many, 0.0, max_series=110)
    assert snap.dropped == 90
    assert snap.text.count(b"kpi_actual{") == 10
