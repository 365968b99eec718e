"""Exporters stage: results → Prometheus metrics, alert rules, dashboards, backfill."""
