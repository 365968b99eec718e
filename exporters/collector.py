"""The KPI collector: metric families built from one immutable snapshot of the store."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

STATUSES = ("on_track", "at_risk", "behind", "no_data")
LABELS = ["indicator", "region", "horizon"]
HELP = {
    "kpi_actual": "Actual to date in the indicator's unit.",
    "kpi_pace_target": "Target due by the latest period (pace).",
    "kpi_target": "Target due by the end of the horizon.",
    "kpi_attainment_ratio": "Actual ÷ pace target (flows and stocks).",
    "kpi_gap": "Actual − pace (percentage points for growth rates).",
    "kpi_required_rate": "Needed per remaining period to reach the horizon target.",
    "kpi_status": "1 for the current status of the check, 0 for the others.",
    "kpi_stale": "1 when the next release is late.",
    "kpi_forecast": "Forecast of the horizon's target quantity.",
    "kpi_forecast_lower": "Lower bound of the forecast interval.",
    "kpi_forecast_upper": "Upper bound of the forecast interval.",
    "kpi_target_met_probability": "Probability of meeting the target.",
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


@dataclass(frozen=True)
class IndicatorInfo:
    """What kpi_info says about an indicator."""

    indicator: str
    name: str
    unit: str
    kind: str
    owner: str


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


@dataclass(frozen=True)
class SnapshotData:
    """Everything one refresh exports; never changed after it is built."""

    checks: Sequence[CheckRow]
    info: Sequence[IndicatorInfo]
    data_end: Sequence[tuple[str, str, float]]  # indicator, region, epoch seconds
    forecasts: Sequence[ForecastRow] = ()


class KpiCollector(Collector):
    """Yields fresh gauge families from a snapshot on every collect()."""

    def __init__(self, data: SnapshotData) -> None:
        self._data = data

    def collect(self) -> Iterator[Metric]:
        yield from self._check_families()
        yield from self._forecast_families()
        info = GaugeMetricFamily(
            "kpi_info",
            "Indicator metadata: name, unit, kind and owner (value 1).",
            labels=["indicator", "name", "unit", "kind", "owner"],
        )
        for i in self._data.info:
            info.add_metric([i.indicator, i.name, i.unit, i.kind, i.owner], 1)
        yield info
        end = GaugeMetricFamily(
            "kpi_data_period_end_timestamp_seconds",
            "End of the latest period with data, as a Unix time.",
            labels=["indicator", "region"],
        )
        for indicator, region, ts in self._data.data_end:
            end.add_metric([indicator, region], ts)
        yield end

    def _check_families(self) -> Iterator[Metric]:
        fams = {
            "actual": _gauge("kpi_actual"),
            "pace_target": _gauge("kpi_pace_target"),
            "horizon_target": _gauge("kpi_target"),
            "attainment": _gauge("kpi_attainment_ratio"),
            "gap": _gauge("kpi_gap"),
            "required_rate": _gauge("kpi_required_rate"),
        }
        status = GaugeMetricFamily(
            "kpi_status",
            "1 for the current status of the check, 0 for the others.",
            labels=[*LABELS, "status"],
        )
        stale = _gauge("kpi_stale")
        for row in self._data.checks:
            labels = [row.indicator, row.region, row.horizon]
            for field, fam in fams.items():
                value = getattr(row, field)
                if value is None or (field == "attainment" and row.kind == "growth"):
                    continue
                fam.add_metric(labels, value)
            for s in STATUSES:
                status.add_metric([*labels, s], 1.0 if row.status == s else 0.0)
            stale.add_metric(labels, 1.0 if row.stale else 0.0)
        yield from fams.values()
        yield status
        yield stale

    def _forecast_families(self) -> Iterator[Metric]:
        point = _gauge("kpi_forecast")
        lower = GaugeMetricFamily(
            "kpi_forecast_lower",
            "Lower bound of the forecast interval.",
            labels=[*LABELS, "interval"],
        )
        upper = GaugeMetricFamily(
            "kpi_forecast_upper",
            "Upper bound of the forecast interval.",
            labels=[*LABELS, "interval"],
        )
        p_meet = _gauge("kpi_target_met_probability")
        for f in self._data.forecasts:
            labels = [f.indicator, f.region, f.horizon]
            point.add_metric(labels, f.point)
            lower.add_metric([*labels, "80"], f.lower80)
            lower.add_metric([*labels, "95"], f.lower95)
            upper.add_metric([*labels, "80"], f.upper80)
            upper.add_metric([*labels, "95"], f.upper95)
            if f.p_meet is not None:
                p_meet.add_metric(labels, f.p_meet)
        yield from (point, lower, upper, p_meet)


def _gauge(name: str) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, HELP[name], labels=LABELS)
