"""Grafana files: every dashboard as JSON and the provisioning a stock Grafana loads."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from grafana_foundation_sdk.builders.dashboard import Dashboard

from exporters.dashboards import dashboard_json, indicator, overview
from exporters.escalation_dashboard import escalations_dashboard
from exporters.health_dashboard import service_health
from exporters.panels import DATASOURCE_NAME, DATASOURCE_UID, DashboardSettings
from ingest.files import write_atomic

DASHBOARDS: dict[str, Callable[[DashboardSettings], Dashboard]] = {
    "kpiwatch-overview": overview,
    "kpiwatch-indicator": indicator,
    "kpiwatch-health": service_health,
    "kpiwatch-escalations": escalations_dashboard,
}


def dashboard_files(s: DashboardSettings) -> dict[str, str]:
    """File name → dashboard JSON, for every dashboard."""
    return {f"{uid}.json": dashboard_json(build(s)) for uid, build in DASHBOARDS.items()}


def datasource(prometheus_url: str) -> dict[str, Any]:
    """A datasource of its own name and uid that never takes over as the default."""
    return {
        "apiVersion": 1,
        "datasources": [
            {
                "name": DATASOURCE_NAME,
                "type": "prometheus",
                "uid": DATASOURCE_UID,
                "access": "proxy",
                "url": prometheus_url,
                "isDefault": False,
                "editable": True,
            }
        ],
    }


def dashboard_provider(dashboards_path: str) -> dict[str, Any]:
    return {
        "apiVersion": 1,
        "providers": [
            {
                "name": "kpiwatch",
                "folder": "kpiwatch",
                "type": "file",
                "disableDeletion": False,
                "allowUiUpdates": True,
                "options": {"path": dashboards_path},
            }
        ],
    }


def write_dashboards(
    out: Path, prometheus_url: str, dashboards_path: str, dashboards: dict[str, str]
) -> list[Path]:
    """Write the dashboards and a provisioning folder a stock Grafana loads, atomically."""
    files = {out / "dashboards" / name: text for name, text in dashboards.items()}
    prov = out / "provisioning"
    files[prov / "datasources" / "kpiwatch.yml"] = yaml.safe_dump(datasource(prometheus_url))
    files[prov / "dashboards" / "kpiwatch.yml"] = yaml.safe_dump(
        dashboard_provider(dashboards_path)
    )
    for path, text in files.items():
        write_atomic(path, text)
    return list(files)
