"""The service's own metrics: refreshes, failures, rows, snapshot, store, config, HTTP."""

from __future__ import annotations

import platform
from collections.abc import Iterator
from importlib.metadata import PackageNotFoundError, version

import duckdb
from prometheus_client import CollectorRegistry, Counter, Gauge, ProcessCollector
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

STAGES = ("store", "ingest", "checks", "forecasts", "escalation", "snapshot")
# Why the DuckDB file could not be used; "other" for what none of these explains.
STORE_REASONS = ("locked", "unreadable", "corrupt", "no_space", "read_only", "other")
HANDLERS = (
    "/metrics",
    "/healthz",
    "/readyz",
    "/",
    "/-/refresh",
    "/-/reload",
    "/bulletin",
    "other",
)
OM_EOF = b"# EOF\n"


class ServiceHealth:
    """The service's metrics in two registries of their own (never the global one).

    `registry` changes at refreshes and reloads and is rendered then; `live` changes with
    every request (process, HTTP) and is rendered by each scrape.
    """

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        self._refresh_metrics(r)
        self._store_metrics(r)
        self._config_metrics(r)
        build = Gauge(
            "kpiwatch_build_info",
            "1, labelled with the versions of kpiwatch, Python and DuckDB.",
            ["version", "python_version", "duckdb_version"],
            registry=r,
        )
        build.labels(_version(), platform.python_version(), duckdb.__version__).set(1)
        live = self.live = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=live)
        self.requests = Counter(
            "kpiwatch_http_requests",
            "HTTP requests answered, by handler and status code.",
            ["handler", "code"],
            registry=live,
        )
        self.auth_failures = Counter(
            "kpiwatch_http_auth_failures",
            "Requests refused for a missing or wrong password or token, by handler.",
            ["handler"],
            registry=live,
        )
        self.tls_failures = Counter(
            "kpiwatch_tls_handshake_failures",
            "Connections closed because the TLS handshake failed or timed out.",
            registry=live,
        )

    def _refresh_metrics(self, r: CollectorRegistry) -> None:
        self.last_success = Gauge(
            "kpiwatch_refresh_last_success_timestamp_seconds",
            "When the last refresh completed (the served snapshot's time after a restart).",
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
        self.ready = Gauge(
            "kpiwatch_snapshot_loaded", "1 once a snapshot is being served.", registry=r
        )

    def _store_metrics(self, r: CollectorRegistry) -> None:
        self.store_locked = Gauge(
            "kpiwatch_store_locked",
            "1 while the DuckDB file is locked by another process.",
            registry=r,
        )
        self.store_failures = Counter(
            "kpiwatch_store_failures",
            "Attempts to use the DuckDB file that failed, by reason.",
            ["reason"],
            registry=r,
        )
        self.store_error = Gauge(
            "kpiwatch_store_error",
            "1 for the reason the last attempt to use the DuckDB file failed; "
            "all 0 once it worked.",
            ["reason"],
            registry=r,
        )
        for reason in STORE_REASONS:
            self.store_failures.labels(reason)
            self.store_error.labels(reason).set(0)

    def _config_metrics(self, r: CollectorRegistry) -> None:
        self.reload_ok = Gauge(
            "kpiwatch_config_last_reload_successful",
            "1 when the last reload of config.toml and the web config worked.",
            registry=r,
        )
        self.reload_ok.set(1)
        self.reload_time = Gauge(
            "kpiwatch_config_last_reload_success_timestamp_seconds",
            "When the config was last loaded successfully.",
            registry=r,
        )
        self.reload_time.set_to_current_time()

    def store_failed(self, reason: str) -> None:
        """Count a store failure and mark it as the current one."""
        self.store_failures.labels(reason).inc()
        for r in STORE_REASONS:
            self.store_error.labels(r).set(1 if r == reason else 0)
        self.store_locked.set(1 if reason == "locked" else 0)

    def store_worked(self) -> None:
        for r in STORE_REASONS:
            self.store_error.labels(r).set(0)
        self.store_locked.set(0)


class _WithoutCreated:
    """A registry's families without their `_created` samples, for the text format."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        for family in self._registry.collect():
            family.samples = [s for s in family.samples if not s.name.endswith("_created")]
            yield family


def text_format(registry: CollectorRegistry) -> bytes:
    """The Prometheus text format, without the `_created` series it has no use for."""
    view = CollectorRegistry(auto_describe=False)
    view.register(_WithoutCreated(registry))
    return generate_latest(view)


def openmetrics_format(registry: CollectorRegistry) -> bytes:
    """OpenMetrics without its closing `# EOF`, to be joined with other parts."""
    return bytes(generate_openmetrics(registry)).removesuffix(OM_EOF)


def _version() -> str:
    try:
        return version("kpiwatch")
    except PackageNotFoundError:
        return "unknown"
