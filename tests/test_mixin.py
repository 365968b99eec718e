"""The monitoring mixin: the same generated rules and dashboards in the mixin layout."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import _jsonnet
import yaml

from tests.checks_helpers import CONFIG
from tests.test_dashboards import TARGETS, cli


def test_mixin_holds_the_generated_rules_and_dashboards(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(CONFIG + TARGETS, encoding="utf-8")
    cli(tmp_path, "rules", "-o", "rules")
    cli(tmp_path, "dashboards", "-o", "grafana")
    cli(tmp_path, "mixin", "-o", "mixin")
    mixin = tmp_path / "mixin"
    for name in ("prometheus_alerts.yaml", "prometheus_rules.yaml"):
        check = subprocess.run(
            ["promtool", "check", "rules", name], cwd=mixin, capture_output=True, text=True
        )
        assert check.returncode == 0, check.stdout + check.stderr
    alerts = yaml.safe_load((mixin / "prometheus_alerts.yaml").read_text())
    generated = [
        yaml.safe_load((tmp_path / "rules" / name).read_text())
        for name in ("kpiwatch-rules.yml", "kpiwatch-escalation-rules.yml")
    ]
    assert alerts["groups"] and all("alert" in r for g in alerts["groups"] for r in g["rules"])
    assert [r for g in alerts["groups"] for r in g["rules"]] == [
        r for f in generated for g in f["groups"] for r in g["rules"] if "alert" in r
    ]
    dashboards = sorted(p.name for p in (mixin / "dashboards_out").iterdir())
    assert dashboards == sorted(p.name for p in (tmp_path / "grafana" / "dashboards").iterdir())
    for name in dashboards:
        same = (tmp_path / "grafana" / "dashboards" / name).read_bytes()
        assert (mixin / "dashboards_out" / name).read_bytes() == same, name
    # What a jsonnet user of the vendored mixin gets.
    got = json.loads(
        _jsonnet.evaluate_snippet(
            "main.jsonnet",
            "local m = import 'mixin.libsonnet'; "
            "{alerts: m.prometheusAlerts, rules: m.prometheusRules, dash: m.grafanaDashboards}",
            jpathdir=[str(mixin)],
        )
    )
    assert got["alerts"] == alerts
    assert got["rules"] == yaml.safe_load((mixin / "prometheus_rules.yaml").read_text())
    assert sorted(got["dash"]) == dashboards
    assert got["dash"]["kpiwatch-overview.json"]["uid"] == "kpiwatch-overview"


def test_mixin_is_rewritten_in_place(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(CONFIG + TARGETS, encoding="utf-8")
    cli(tmp_path, "mixin", "-o", "mixin")
    alerts = tmp_path / "mixin" / "prometheus_alerts.yaml"
    alerts.chmod(0o640)
    before = alerts.read_text()
    cli(tmp_path, "mixin", "-o", "mixin")
    assert alerts.read_text() == before and (alerts.stat().st_mode & 0o777) == 0o640
    assert not [p for p in (tmp_path / "mixin").rglob("*") if p.name.startswith(".")]
