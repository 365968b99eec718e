"""The KPI collector: metric families built from one immutable snapshot of the store.

Every name starts with `kpiwatch_` (the service's own metrics too); the KPI families
with `kpiwatch_kpi_`. One name has one unit: growth rates (kind `growth`) are exported
as ratios under `kpiwatch_kpi_growth_*_ratio` (6.1 % is 0.061, a gap of −0.4
percentage points is −0.004); flows and stocks keep the indicator's own unit (亿元, 个, …,
named by `kpiwatch_kpi_info`'s `unit` label), since those units come from config.toml
and are not base units a name could carry.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from exporters.escalation_metrics import EscalationData
from exporters.nowcast_metrics import NowcastData
from exporters.project_collector import NO_PROJECTS, ProjectData
from exporters.unit_metrics import UnitData

STATUSES = ("on_track", "at_risk", "behind", "no_data")
LABELS = ["indicator", "region", "horizon", "year"]
PERCENT = 100.0  # growth rates are stored in percent (gaps in percentage points)
P = "kpiwatch_kpi_"
HELP = {
    f"{P}actual": "Actual to date, in the indicator's unit (flows and stocks).",
    f"{P}pace_target": "Target due by the latest period, in the indicator's unit.",
    f"{P}target": "Target due by the end of the horizon, in the indicator's unit.",
    f"{P}gap": "Actual minus pace (mirrored for lower-is-better), in the indicator's unit.",
    f"{P}required_rate": "Needed per remaining period to reach the target, indicator's unit.",
    f"{P}forecast": "Forecast of the horizon's target quantity, in the indicator's unit.",
    f"{P}forecast_lower": "Lower bound of the forecast interval, in the indicator's unit.",
    f"{P}forecast_upper": "Upper bound of the forecast interval, in the indicator's unit.",
    f"{P}expected_shortfall": "Expected shortfall against the target, indicator's unit.",
    f"{P}growth_actual_ratio": "Growth rate to date (0.061 is 6.1 %).",
    f"{P}growth_pace_target_ratio": "Growth rate due by the latest period.",
    f"{P}growth_target_ratio": "Growth rate due by the end of the horizon.",
    f"{P}growth_gap_ratio": "Growth rate minus pace (-0.004 is -0.4 percentage points).",
    f"{P}growth_forecast_ratio": "Forecast of the horizon's growth rate.",
    f"{P}growth_forecast_lower_ratio": "Lower bound of the growth forecast interval.",
    f"{P}growth_forecast_upper_ratio": "Upper bound of the growth forecast interval.",
    f"{P}growth_expected_shortfall_ratio": "Expected shortfall against the growth target.",
    f"{P}attainment_ratio": "Actual divided by pace target (flows and stocks).",
    f"{P}status": "1 for the check's status (pace, cascade and forecast), 0 for others.",
    f"{P}pace_status": "1 for the status from actual against pace alone, 0 for others.",
    f"{P}stale": "1 when the next release is late.",
    f"{P}target_met_probability": "Probability of meeting the horizon's target.",
    f"{P}horizon_end_timestamp_seconds": "End of the horizon, as a Unix time.",
    f"{P}next_release_due_timestamp_seconds": "End of the day the next figure is due.",
    f"{P}info": "Indicator metadata: name, unit, kind, owner, illustrative (value 1).",
    f"{P}target_info": "The unit answering for a target (value 1).",
    f"{P}data_period_end_timestamp_seconds": "End of the latest period with data, Unix time.",
}
# Check fields exported in the indicator's unit, and their growth-rate (ratio) names.
CHECK_VALUES = {
    "actual": ("actual", "growth_actual_ratio"),
    "pace_target": ("pace_target", "growth_pace_target_ratio"),
    "horizon_target": ("target", "growth_target_ratio"),
    "gap": ("gap", "growth_gap_ratio"),
    "required_rate": ("required_rate", None),
    "attainment": ("attainment_ratio", None),
}
FORECAST_VALUES = {
    "point": ("forecast", "growth_forecast_ratio"),
    "expected_shortfall": ("expected_shortfall", "growth_expected_shortfall_ratio"),
}
INTERVALS = {
    ("lower80", "80"): ("forecast_lower", "growth_forecast_lower_ratio"),
    ("lower95", "95"): ("forecast_lower", "growth_forecast_lower_ratio"),
    ("upper80", "80"): ("forecast_upper", "growth_forecast_upper_ratio"),
    ("upper95", "95"): ("forecast_upper", "growth_forecast_upper_ratio"),
}


@dataclass(frozen=True)
class CheckRow:
    """The latest check of one indicator × region × horizon."""

    indicator: str
    region: str
    horizon: str
    kind: str
    actual: float | None
    pace_target: float | None
    horizon_target: float | None
    attainment: float | None
    gap: float | None
    required_rate: float | None
    status: str
    stale: bool
    year: int = 0
    horizon_end: float | None = None  # Unix time of the horizon's end
    pace_status: str = "no_data"
    owner: str = ""  # the unit answering for the target
    due: float | None = None  # end of the day the next figure is due (stale after it)


@dataclass(frozen=True)
class IndicatorInfo:
    """What kpiwatch_kpi_info says about an indicator."""

    indicator: str
    name: str
    unit: str
    kind: str
    owner: str
    illustrative: bool = False


@dataclass(frozen=True)
class ForecastRow:
    """The forecast of one indicator × region × horizon."""

    indicator: str
    region: str
    horizon: str
    point: float
    lower80: float
    upper80: float
    lower95: float
    upper95: float
    p_meet: float | None
    year: int = 0
    kind: str = ""
    expected_shortfall: float | None = None


@dataclass(frozen=True)
class SnapshotData:
    """Everything one refresh exports; never changed after it is built."""

    checks: Sequence[CheckRow]
    info: Sequence[IndicatorInfo]
    data_end: Sequence[tuple[str, str, float]]  # indicator, region, epoch seconds
    forecasts: Sequence[ForecastRow] = ()
    units: UnitData = dataclasses.field(default_factory=UnitData)  # unit_metrics.py
    projects: ProjectData = NO_PROJECTS  # the project registers (project_collector)
    escalations: EscalationData = dataclasses.field(
        default_factory=EscalationData
    )  # escalation_metrics
    nowcasts: NowcastData = dataclasses.field(default_factory=NowcastData)  # nowcast_metrics


def check_samples(row: CheckRow) -> Iterator[tuple[str, list[str], float]]:
    """(name, label values, value) of every series one check exports."""
    labels = [row.indicator, row.region, row.horizon, str(row.year)]
    growth = row.kind == "growth"
    for field, (level_name, growth_name) in CHECK_VALUES.items():
        value = getattr(row, field)
        name = growth_name if growth else level_name
        if value is not None and name is not None:
            yield P + name, labels, _shown(value / PERCENT if growth else value)
    for family, status in (("status", row.status), ("pace_status", row.pace_status)):
        for s in STATUSES:
            yield P + family, [*labels, s], 1.0 if status == s else 0.0
    yield P + "stale", labels, 1.0 if row.stale else 0.0
    if row.horizon_end is not None:
        yield P + "horizon_end_timestamp_seconds", labels, row.horizon_end
    if row.due is not None:
        yield P + "next_release_due_timestamp_seconds", labels, row.due
    # once per target: every target has a quarter check (one given only as quarters has
    # no year check)
    if row.horizon == "quarter":
        yield P + "target_info", [row.indicator, row.region, str(row.year), row.owner], 1.0


def forecast_samples(f: ForecastRow) -> Iterator[tuple[str, list[str], float]]:
    """(name, label values, value) of every series one forecast exports."""
    labels = [f.indicator, f.region, f.horizon, str(f.year)]
    growth = f.kind == "growth"
    scale = PERCENT if growth else 1.0
    for field, names in FORECAST_VALUES.items():
        value = getattr(f, field)
        if value is not None:
            yield P + names[growth], labels, _shown(value / scale)
    for (field, level), names in INTERVALS.items():
        yield P + names[growth], [*labels, level], _shown(getattr(f, field) / scale)
    if f.p_meet is not None:
        yield P + "target_met_probability", labels, _shown(f.p_meet)


def _shown(value: float) -> float:
    """The value as /metrics shows it: -0.0 as 0 (a kept render compares rows by value,
    and -0.0 equals 0.0, so both must print alike)."""
    return value + 0.0


def label_names(name: str) -> list[str]:
    """The label names of a KPI family."""
    if name == P + "target_info":
        return ["indicator", "region", "year", "owner"]
    if name.endswith("status"):
        return [*LABELS, "status"]
    if "forecast_lower" in name or "forecast_upper" in name:
        return [*LABELS, "interval"]
    return LABELS


class KpiCollector(Collector):
    """Yields fresh gauge families from a snapshot on every collect()."""

    def __init__(self, data: SnapshotData) -> None:
        self._data = data

    def collect(self) -> Iterator[Metric]:
        families: dict[str, GaugeMetricFamily] = {}
        for row in self._data.checks:
            self._add(families, check_samples(row))
        for f in self._data.forecasts:
            self._add(families, forecast_samples(f))
        yield from families.values()
        info = GaugeMetricFamily(
            P + "info",
            HELP[P + "info"],
            labels=["indicator", "name", "unit", "kind", "owner", "illustrative"],
        )
        for i in self._data.info:
            flag = "true" if i.illustrative else "false"
            info.add_metric([i.indicator, i.name, i.unit, i.kind, i.owner, flag], 1)
        yield info
        end = GaugeMetricFamily(
            P + "data_period_end_timestamp_seconds",
            HELP[P + "data_period_end_timestamp_seconds"],
            labels=["indicator", "region"],
        )
        for indicator, region, ts in self._data.data_end:
            end.add_metric([indicator, region], ts)
        yield end

    @staticmethod
    def _add(
        families: dict[str, GaugeMetricFamily], samples: Iterator[tuple[str, list[str], float]]
    ) -> None:
        for name, labels, value in samples:
            fam = families.get(name)
            if fam is None:
                fam = families[name] = GaugeMetricFamily(name, HELP[name], labels=label_names(name))
            fam.add_metric(labels, value)
