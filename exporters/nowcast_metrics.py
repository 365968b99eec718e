"""The nowcasts as Prometheus metrics, with labels bounded by the config.

Families (growth rates as ratios: 0.053 is 5.3 %):
  kpiwatch_kpi_nowcast_growth_ratio{indicator, region, quarter}
  kpiwatch_kpi_nowcast_growth_lower_ratio / _upper_ratio{…, interval="80"|"95"}
  kpiwatch_kpi_nowcast_growth_target_ratio{…}             the quarter's growth target
  kpiwatch_kpi_nowcast_target_met_probability{…}
  kpiwatch_kpi_nowcast_expected_shortfall_ratio{…}
  kpiwatch_kpi_nowcast_quarter_end_timestamp_seconds{…}   which quarter it is
  kpiwatch_kpi_nowcast_fallback{indicator, region}         1 when the univariate forecast
                                                           answered instead of the model
  kpiwatch_kpi_nowcast_news_impact_ratio{indicator, region, series}
      how much the latest releases of each monthly indicator moved the open quarter
`quarter` is "open" (the first quarter whose figure is not yet published) or "next";
`series` is one of the nowcast's configured monthly indicators.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

P = "kpiwatch_kpi_nowcast_"
# The latest date's nowcasts of the first two open quarters of each target.
LATEST_SQL = """
WITH latest AS (
    SELECT * FROM nowcasts QUALIFY as_of = max(as_of) OVER (PARTITION BY indicator, region)
)
SELECT indicator, region, quarter, point, lower80, upper80, lower95, upper95, target, p_meet,
       expected_shortfall, fallback_reason IS NOT NULL
FROM latest
QUALIFY row_number() OVER (PARTITION BY indicator, region ORDER BY quarter) <= 2
ORDER BY indicator, region, quarter
"""
NEWS_SQL = """
WITH latest AS (
    SELECT * FROM nowcast_news
    QUALIFY as_of = max(as_of) OVER (PARTITION BY indicator, region)
        AND quarter = min(quarter) OVER (PARTITION BY indicator, region)
)
SELECT indicator, region, series, sum(impact) FROM latest GROUP BY ALL ORDER BY ALL
"""
PERCENT = 100.0


@dataclass(frozen=True)
class NowcastRow:
    """One quarter's latest nowcast."""

    indicator: str
    region: str
    quarter: str  # e.g. 2024Q3
    point: float
    lower80: float
    upper80: float
    lower95: float
    upper95: float
    target: float | None
    p_meet: float | None
    expected_shortfall: float | None
    fallback: bool


@dataclass(frozen=True)
class NowcastData:
    """The nowcasts and their news, read once per refresh."""

    rows: Sequence[NowcastRow] = ()
    news: Sequence[tuple[str, str, str, float]] = ()  # indicator, region, series, impact


def read_nowcast_data(con: duckdb.DuckDBPyConnection) -> NowcastData:
    """The latest nowcasts; empty for a store without the nowcast views."""
    try:
        rows = [NowcastRow(*r) for r in con.execute(LATEST_SQL).fetchall()]
        news = [
            (str(i), str(r), str(s), float(v)) for i, r, s, v in con.execute(NEWS_SQL).fetchall()
        ]
    except duckdb.CatalogException:
        return NowcastData()
    return NowcastData(rows, news)


def quarter_end(quarter: str) -> float:
    """The Unix time just after a quarter (2024Q3 → 2024-10-01T00:00Z)."""
    year, q = int(quarter[:4]), int(quarter[-1])
    return datetime(year + q // 4, q % 4 * 3 + 1, 1, tzinfo=UTC).timestamp()


class NowcastCollector(Collector):
    """Metric families built from one immutable NowcastData."""

    def __init__(self, data: NowcastData) -> None:
        self.data = data

    def collect(self) -> Iterator[Metric]:
        labels = ["indicator", "region", "quarter"]
        fams = {
            name: GaugeMetricFamily(P + name, text, labels=labels + extra)
            for name, text, extra in (
                ("growth_ratio", "Nowcast of the quarter's growth rate.", []),
                ("growth_lower_ratio", "Lower bound of the nowcast interval.", ["interval"]),
                ("growth_upper_ratio", "Upper bound of the nowcast interval.", ["interval"]),
                ("growth_target_ratio", "The quarter's growth target.", []),
                ("target_met_probability", "Nowcast probability of meeting the target.", []),
                ("expected_shortfall_ratio", "Nowcast expected shortfall.", []),
                ("quarter_end_timestamp_seconds", "End of the nowcast quarter, Unix time.", []),
            )
        }
        fallback = GaugeMetricFamily(
            P + "fallback",
            "1 when the univariate forecast answered instead of the factor model.",
            labels=["indicator", "region"],
        )
        seen: dict[tuple[str, str], int] = {}
        for r in self.data.rows:
            n = seen[(r.indicator, r.region)] = seen.get((r.indicator, r.region), 0) + 1
            key = [r.indicator, r.region, "open" if n == 1 else "next"]
            self._add(fams, key, r)
            if n == 1:
                fallback.add_metric([r.indicator, r.region], 1.0 if r.fallback else 0.0)
        yield from fams.values()
        yield fallback
        news = GaugeMetricFamily(
            P + "news_impact_ratio",
            "How much the latest releases of a monthly indicator moved the open quarter.",
            labels=["indicator", "region", "series"],
        )
        for indicator, region, series, impact in self.data.news:
            news.add_metric([indicator, region, series], impact / PERCENT)
        yield news

    @staticmethod
    def _add(fams: dict[str, GaugeMetricFamily], key: list[str], r: NowcastRow) -> None:
        fams["growth_ratio"].add_metric(key, r.point / PERCENT)
        for level, lo, hi in (("80", r.lower80, r.upper80), ("95", r.lower95, r.upper95)):
            fams["growth_lower_ratio"].add_metric([*key, level], lo / PERCENT)
            fams["growth_upper_ratio"].add_metric([*key, level], hi / PERCENT)
        if r.target is not None:
            fams["growth_target_ratio"].add_metric(key, r.target / PERCENT)
        if r.p_meet is not None:
            fams["target_met_probability"].add_metric(key, r.p_meet)
        if r.expected_shortfall is not None:
            fams["expected_shortfall_ratio"].add_metric(key, r.expected_shortfall / PERCENT)
        fams["quarter_end_timestamp_seconds"].add_metric(key, quarter_end(r.quarter))
