"""The service's own metrics: refreshes, failures, rows, snapshot size, store lock."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

STAGES = ("store", "ingest", "checks", "forecasts", "snapshot")


class ServiceHealth:
    """Counters and gauges in a registry of their own (never the global one)."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.last_success = Gauge(
            "kpiwatch_refresh_last_success_timestamp_seconds",
            "When the last refresh completed.",
            registry=r,
        )
        self.duration = Gauge(
            "kpiwatch_refresh_duration_seconds", "How long the last refresh took.", registry=r
        )
        self.failures = Counter(
            "kpiwatch_refresh_failures", "Refreshes that failed, by stage.", ["stage"], registry=r
        )
        for stage in STAGES:
            self.failures.labels(stage)
        self.refreshes = Counter(
            "kpiwatch_refreshes", "Refreshes completed successfully.", registry=r
        )
        self.ingested = Counter(
            "kpiwatch_ingested_rows", "Rows of accepted files read by the ingest.", registry=r
        )
        self.rejected = Counter(
            "kpiwatch_rejected_rows", "Bad rows in files the ingest refused.", registry=r
        )
        self.rejected_files = Counter(
            "kpiwatch_rejected_files", "Files the ingest refused.", registry=r
        )
        self.fallbacks = Counter(
            "kpiwatch_forecast_fallbacks", "Series whose forecast fell back.", registry=r
        )
        self.series = Gauge(
            "kpiwatch_snapshot_series", "Series in the served snapshot.", registry=r
        )
        self.dropped = Gauge(
            "kpiwatch_snapshot_dropped_checks",
            "Checks left out of the snapshot by the max_series limit.",
            registry=r,
        )
        self.store_locked = Gauge(
            "kpiwatch_store_locked",
            "1 while the DuckDB file is locked by another process.",
            registry=r,
        )
        self.ready = Gauge(
            "kpiwatch_snapshot_loaded", "1 once a snapshot is being served.", registry=r
        )
