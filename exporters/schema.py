"""Config models owned by the exporters stage: the HTTP service."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from exporters.listen import parse_listen
from ingest.schema import Strict


class Server(Strict):
    """[server]: where /metrics is served and how often the data is refreshed."""

    listen: str = "127.0.0.1:9464"
    refresh_interval_seconds: float = Field(default=3600, ge=1)
    # New or changed files here trigger a refresh; read by the [[sources]] they match.
    inbox: str | None = None
    inbox_poll_seconds: float = Field(default=5, gt=0)
    # POST /-/refresh is refused unless a token is set (prefer the environment variable).
    refresh_token: SecretStr | None = None
    refresh_token_env: str = "KPIWATCH_REFRESH_TOKEN"
    # Prometheus exporter-toolkit style web config: TLS and basic auth.
    web_config_file: str | None = None
    max_series: int = Field(default=500_000, ge=1)
    store_retry_seconds: float = Field(default=2, gt=0)
    store_retry_max_seconds: float = Field(default=60, gt=0)
    # A connection gets this long for its TLS handshake, and may stay silent this long.
    handshake_timeout_seconds: float = Field(default=10, gt=0)
    idle_timeout_seconds: float = Field(default=120, gt=0)

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        parse_listen(value)  # its ValueError becomes the config problem
        return value


class Alerts(Strict):
    """[alerts]: how long a condition must hold before an alert fires."""

    behind_for: str = Field(default="1h", pattern=r"^\d+[smhd]$")
    forecast_for: str = Field(default="1h", pattern=r"^\d+[smhd]$")
    stale_for: str = Field(default="1h", pattern=r"^\d+[smhd]$")
    # A firing KPI alert outlives a gap in its series this long (a restart, a failed scrape).
    keep_firing_for: str = Field(default="1h", pattern=r"^\d+[smhd]$")
    # Series missing for up to this long still count, so a restart never resets a pending alert.
    scrape_gap: str = Field(default="10m", pattern=r"^\d+[smhd]$")
    # Late data of a horizon that has ended is alerted on for this many days after its end.
    stale_days_after_end: int = Field(default=92, ge=0)
    refresh_max_age_hours: float = Field(default=3, gt=0)
    job: str = "kpiwatch"
    # Each alert links to `runbook_url#<alert name in lower case>` (the README's sections).
    runbook_url: str = "https://kpiwatch.example.org/README.md"


class Grafana(Strict):
    """[grafana]: what the provisioning files point at."""

    prometheus_url: str = "http://127.0.0.1:9090"
    url: str = "http://127.0.0.1:3000"  # where people open Grafana: alerts link here
    dashboards_path: str = "/var/lib/grafana/dashboards/kpiwatch"
