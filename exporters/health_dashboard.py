"""The service-health dashboard: refreshes, failures, rejected input, snapshot and scrapes."""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import stat, timeseries
from grafana_foundation_sdk.builders.common import ReduceDataOptions
from grafana_foundation_sdk.builders.dashboard import Dashboard
from grafana_foundation_sdk.models.common import BigValueColorMode, BigValueTextMode
from grafana_foundation_sdk.models.dashboard import ValueMap, ValueMappingResult

from exporters.panels import (
    DS,
    LIVE,
    DashboardSettings,
    kpiwatch_dashboard,
    numbered,
    query,
    thresholds,
)

UP = f"up{{{LIVE}}}"


def _stat(title: str, expr: str, legend: str = "{{instance}}") -> Any:
    return (
        stat.Panel()
        .title(title)
        .datasource(DS)
        .height(4)
        .span(6)
        .with_target(query(expr, legend))
        .reduce_options(ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    )


def _lines(title: str, unit: str, targets: list[tuple[str, str]], span: int = 12) -> Any:
    panel = timeseries.Panel().title(title).datasource(DS).height(8).span(span).unit(unit)
    for i, (expr, legend) in enumerate(targets):
        panel = panel.with_target(query(expr, legend, ref=chr(ord("A") + i)))
    return panel


def _counter(name: str) -> str:
    """How much a counter grew per panel interval, summed over the chosen instances."""
    return f"sum by (instance) (increase({name}{{{LIVE}}}[$__rate_interval]))"


def _stats(s: DashboardSettings) -> list[Any]:
    max_age = s.refresh_max_age_hours * 3600
    return [
        _stat("Scrape", UP)
        .mappings([_words("down", "up", bad="down")])
        .color_mode(BigValueColorMode.BACKGROUND),
        _stat(
            "Since the last good refresh",
            f"time() - kpiwatch_refresh_last_success_timestamp_seconds{{{LIVE}}}",
        )
        .unit("s")
        .thresholds(thresholds([(None, "green"), (max_age / 2, "yellow"), (max_age, "red")]))
        .color_mode(BigValueColorMode.BACKGROUND),
        _stat("Last refresh took", f"kpiwatch_refresh_duration_seconds{{{LIVE}}}").unit("s"),
        _stat("Series served", f"kpiwatch_snapshot_series{{{LIVE}}}").unit("short"),
        _stat("Version", f"kpiwatch_build_info{{{LIVE}}}", "{{instance}} {{version}}").text_mode(
            BigValueTextMode.NAME
        ),
        _stat("Config reload", f"kpiwatch_config_last_reload_successful{{{LIVE}}}")
        .mappings([_words("failed", "ok", bad="failed")])
        .color_mode(BigValueColorMode.BACKGROUND),
        _stat("Store", f"max by (instance) (kpiwatch_store_error{{{LIVE}}})")
        .mappings([_words("ok", "failing", bad="failing")])
        .color_mode(BigValueColorMode.BACKGROUND)
        .description("Failing while the last attempt to use the DuckDB file failed."),
        _stat("Memory", f"process_resident_memory_bytes{{{LIVE}}}").unit("bytes"),
    ]


def _words(zero: str, one: str, bad: str) -> ValueMap:
    """Map 0 and 1 to words: the bad one red, the other green."""
    return ValueMap(
        options={
            str(i): ValueMappingResult(text=w, color="red" if w == bad else "green", index=i)
            for i, w in enumerate((zero, one))
        }
    )


# The graphs: title, unit, and (query, legend) per line.
GRAPHS: list[tuple[str, str, list[tuple[str, str]]]] = [
    (
        "Refresh failures by stage",
        "short",
        [
            (
                "sum by (instance, stage) "
                f"(increase(kpiwatch_refresh_failures_total{{{LIVE}}}[$__rate_interval]))",
                "{{instance}} {{stage}}",
            )
        ],
    ),
    (
        "Age of the served data and refresh duration",
        "s",
        [
            (
                f"time() - kpiwatch_refresh_last_success_timestamp_seconds{{{LIVE}}}",
                "{{instance}} since last good refresh",
            ),
            (f"kpiwatch_refresh_duration_seconds{{{LIVE}}}", "{{instance}} refresh took"),
        ],
    ),
    (
        "Rejected input",
        "short",
        [
            (_counter("kpiwatch_rejected_files_total"), "{{instance}} files refused"),
            (_counter("kpiwatch_rejected_rows_total"), "{{instance}} bad rows"),
            (_counter("kpiwatch_ingested_rows_total"), "{{instance}} rows ingested"),
        ],
    ),
    (
        "Store and snapshot",
        "short",
        [
            (f"kpiwatch_store_locked{{{LIVE}}}", "{{instance}} store locked"),
            (f"kpiwatch_snapshot_dropped_checks{{{LIVE}}}", "{{instance}} checks dropped"),
            (_counter("kpiwatch_forecast_fallbacks_total"), "{{instance}} forecast fallbacks"),
        ],
    ),
    (
        "Store failures by reason",
        "short",
        [
            (
                "sum by (instance, reason) "
                f"(increase(kpiwatch_store_failures_total{{{LIVE}}}[$__rate_interval]))",
                "{{instance}} {{reason}}",
            )
        ],
    ),
    (
        "HTTP requests by code",
        "reqps",
        [
            (
                "sum by (instance, code) "
                f"(rate(kpiwatch_http_requests_total{{{LIVE}}}[$__rate_interval]))",
                "{{instance}} {{code}}",
            )
        ],
    ),
    (
        "Refused connections and requests",
        "short",
        [
            (_counter("kpiwatch_tls_handshake_failures_total"), "{{instance}} TLS handshakes"),
            (_counter("kpiwatch_http_auth_failures_total"), "{{instance}} authentication"),
        ],
    ),
    (
        "CPU",
        "percentunit",
        [(f"rate(process_cpu_seconds_total{{{LIVE}}}[$__rate_interval])", "{{instance}}")],
    ),
    (
        "Scrape duration",
        "s",
        [(f"scrape_duration_seconds{{{LIVE}}}", "{{instance}}")],
    ),
    (
        "Samples per scrape",
        "short",
        [
            (f"scrape_samples_scraped{{{LIVE}}}", "{{instance}} scraped"),
            (f"scrape_series_added{{{LIVE}}}", "{{instance}} new series"),
        ],
    ),
]


def _graphs() -> list[Any]:
    return [_lines(title, unit, lines) for title, unit, lines in GRAPHS]


def service_health(s: DashboardSettings | None = None) -> Dashboard:
    """Is kpiwatch refreshing, what did it refuse, and does Prometheus reach it."""
    s = s or DashboardSettings()
    d = kpiwatch_dashboard(
        "kpiwatch service health", "kpiwatch-health", s, since="now-24h", refresh="1m"
    )
    return numbered(d, [*_stats(s), *_graphs()])
