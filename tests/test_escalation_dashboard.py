"""The escalation dashboard's shape; its queries run on a real Prometheus in test_dashboards."""

from __future__ import annotations

import json

from exporters import grafana
from exporters.dashboards import dashboard_json
from exporters.escalation_dashboard import UID, escalations_dashboard
from exporters.panels import DashboardSettings
from tests.test_dashboards import assert_loads_in_grafana


def test_levels_read_in_the_configured_words_and_colours() -> None:
    labels = ("无", "通报批评", "约谈", "问责")
    raw = json.loads(
        dashboard_json(escalations_dashboard(DashboardSettings(escalation_labels=labels)))
    )
    assert_loads_in_grafana(UID, raw)
    titles = [p["title"] for p in raw["panels"]]
    assert titles[:3] == ["Units at 问责", "Units at 约谈", "Units at 通报批评"]
    units = next(p for p in raw["panels"] if p["title"] == "Units on the ladder")
    options = units["fieldConfig"]["defaults"]["mappings"][0]["options"]
    assert {k: (v["text"], v["color"]) for k, v in options.items()} == {
        "0": ("无", "transparent"),
        "1": ("通报批评", "yellow"),
        "2": ("约谈", "orange"),
        "3": ("问责", "red"),
    }
    assert f"{UID}.json" in grafana.dashboard_files(DashboardSettings())
