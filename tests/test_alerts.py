"""Alert rules and the Alertmanager example, checked with promtool, amtool and real servers."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporters.rules import AlertSettings, write_rules
from kpiwatch import generated
from kpiwatch.config import load_config
from tests.alerting_helpers import Webhook, alertmanager, post_alerts, to_webhook, webhook
from tests.checks_helpers import CONFIG
from tests.service_helpers import (
    free_port,
    get,
    kpiwatch_serve,
    prometheus,
    query,
    ready,
    wait_for,
)

OWNERS = ["发展改革局", "统计局", "投资促进中心"]
SETTINGS = {
    "defaults": AlertSettings(),
    "at once": AlertSettings(behind_for="0s", forecast_for="0s", stale_for="0s"),
    "tuned": AlertSettings(
        behind_for="2h",
        forecast_for="30m",
        stale_for="1d",
        keep_firing_for="5m",
        scrape_gap="3m",
        refresh_max_age_hours=0.5,
    ),
}


def promtool(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["promtool", *args], cwd=cwd, capture_output=True, text=True)


def rules(out: Path, settings: AlertSettings | None = None) -> dict[str, Any]:
    write_rules(out, settings or AlertSettings(), OWNERS)
    loaded: dict[str, Any] = yaml.safe_load((out / "kpiwatch-rules.yml").read_text())
    return loaded


@pytest.mark.parametrize("name", SETTINGS)
def test_rules_pass_promtool_and_their_unit_tests(tmp_path: Path, name: str) -> None:
    groups = rules(tmp_path, SETTINGS[name])
    check = promtool(tmp_path, "check", "rules", "kpiwatch-rules.yml")
    assert check.returncode == 0 and "SUCCESS: 8 rules found" in check.stdout, check
    test = promtool(tmp_path, "test", "rules", "kpiwatch-rules.test.yml")
    assert test.returncode == 0, test.stdout + test.stderr
    for rule in (r for g in groups["groups"] for r in g["rules"]):
        notes = rule["annotations"]
        assert notes["runbook_url"].endswith("README.md#" + rule["alert"].lower())
        assert notes["dashboard"].startswith("http://127.0.0.1:3000/d/kpiwatch-")
        # a restart must not resolve a KPI alert; the service's own alerts resolve at once
        assert ("keep_firing_for" in rule) != rule["alert"].startswith("Kpiwatch")


def _strip_bridging(expr: str) -> str:
    return re.sub(r"last_over_time\(([^\[]+)\[\w+\]\)", r"\1", expr)


def _join_by_indicator_only(expr: str) -> str:
    expr = re.sub(r"topk by \([^)]*\) \(1, (kpiwatch_kpi_\w+)\)", r"\1", _strip_bridging(expr))
    return expr.replace("on(job, indicator)", "on(indicator)")


def _keep_ended(expr: str) -> str:
    return re.sub(r"\nand on\([^)]*\) \([^\n]*> time\(\)\)", "", expr)


def _both_causes(expr: str) -> str:
    return re.sub(r"\nunless on\([^)]*\) \([^\n]*== 1\)", "", expr)


def _combined_status(expr: str) -> str:
    return expr.replace("kpiwatch_kpi_pace_status", "kpiwatch_kpi_status")


def _per_failure(expr: str) -> str:
    if "refresh_last_success" in expr:
        return "increase(kpiwatch_refresh_failures_total[1h]) > 0"
    return expr


def _gauge_since_start(expr: str) -> str:
    if "refresh_last_success" in expr:
        age = expr.rsplit(">", 1)[1]
        return f"time() - kpiwatch_refresh_last_success_timestamp_seconds > {age}"
    return expr


def _lock_is_a_failure(expr: str) -> str:
    return expr.replace(',reason!="locked"', "")


# Each way the rules went wrong before, put back: the unit tests must catch every one.
REGRESSIONS: dict[str, Callable[[str], str]] = {
    "joined per indicator (two instances: many-to-many)": _join_by_indicator_only,
    "ended horizons alert": _keep_ended,
    "behind pace also pages as a forecast shortfall": _both_causes,
    "behind pace read from the status the forecast raised": _combined_status,
    "a restart resets pending alerts": _strip_bridging,
    "refresh alert counts lock retries": _per_failure,
    "a restart looks like no refresh": _gauge_since_start,
    "a lock waited for pages as a broken store": _lock_is_a_failure,
}


@pytest.mark.parametrize("regression", REGRESSIONS)
def test_the_unit_tests_catch_each_regression(tmp_path: Path, regression: str) -> None:
    groups = rules(tmp_path)
    for rule in (r for g in groups["groups"] for r in g["rules"]):
        rule["expr"] = REGRESSIONS[regression](rule["expr"])
    (tmp_path / "kpiwatch-rules.yml").write_text(yaml.safe_dump(groups, allow_unicode=True))
    assert promtool(tmp_path, "check", "rules", "kpiwatch-rules.yml").returncode == 0
    test = promtool(tmp_path, "test", "rules", "kpiwatch-rules.test.yml")
    assert test.returncode != 0 and "FAILED" in test.stdout + test.stderr


def test_keep_firing_for_is_tested_too(tmp_path: Path) -> None:
    groups = rules(tmp_path)
    for rule in (r for g in groups["groups"] for r in g["rules"]):
        rule.pop("keep_firing_for", None)
    (tmp_path / "kpiwatch-rules.yml").write_text(yaml.safe_dump(groups, allow_unicode=True))
    test = promtool(tmp_path, "test", "rules", "kpiwatch-rules.test.yml")
    assert test.returncode != 0, test.stdout


def test_alertmanager_example_passes_amtool(tmp_path: Path) -> None:
    write_rules(tmp_path, AlertSettings(), OWNERS)
    check = subprocess.run(
        ["amtool", "check-config", "alertmanager.example.yml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0 and "SUCCESS" in check.stdout, check.stdout + check.stderr
    config = yaml.safe_load((tmp_path / "alertmanager.example.yml").read_text())
    hours = int(config["route"]["repeat_interval"].removesuffix("h"))
    assert hours >= 24 * 7  # monthly data: a weekly reminder, not every few hours
    matchers = {m for r in config["route"]["routes"] for m in r["matchers"]}
    assert {'owner="发展改革局"', 'owner="投资促进中心"', 'illustrative="true"'} <= matchers


def _alert(
    name: str, region: str, owner: str, severity: str = "critical", year: str = "2026"
) -> dict[str, Any]:
    labels = {"alertname": name, "job": "kpiwatch", "indicator": "fai", "region": region}
    labels |= {"horizon": "year", "year": year, "owner": owner, "severity": severity}
    labels["illustrative"] = "false"
    return {"labels": labels, "annotations": {"summary": name}}


def test_alertmanager_routes_by_owner_and_stale_data_inhibits_its_forecast(
    tmp_path: Path,
) -> None:
    write_rules(tmp_path, AlertSettings(), OWNERS)
    example = yaml.safe_load((tmp_path / "alertmanager.example.yml").read_text())
    with webhook() as hook, alertmanager(tmp_path, to_webhook(example, hook.port)) as am:

        def delivered() -> set[tuple[str, str, str]]:
            return {
                (p, a["labels"]["alertname"], a["labels"]["region"])
                for p, a in hook.alerts()
                if a["labels"]["year"] == "2026"
            }

        def states() -> dict[tuple[str, str, str], dict[str, Any]]:
            _, _, body = get(f"http://127.0.0.1:{am}/api/v2/alerts")
            return {
                (a["labels"]["alertname"], a["labels"]["region"], a["labels"]["year"]): a["status"]
                for a in yaml.safe_load(body)
            }

        receiver = {r["matchers"][0]: "/" + r["receiver"] for r in example["route"]["routes"]}
        stale = (receiver['owner="投资促进中心"'], "KpiDataStale", "west_coast")
        # the source first: an inhibition covers what arrives after its source
        post_alerts(am, [_alert("KpiDataStale", "west_coast", "投资促进中心", "warning")])
        wait_for(lambda: stale in delivered(), 30, "the stale alert")
        # Alertmanager's inhibitor learns of the source apart from its dispatcher: an alert
        # of another year, muted, says it has (a busy machine can delay it)
        post_alerts(am, [_alert("KpiForecastShortfall", "west_coast", "投资促进中心", year="2025")])
        probe = ("KpiForecastShortfall", "west_coast", "2025")
        wait_for(lambda: states()[probe]["state"] == "suppressed", 30, "the inhibitor")
        post_alerts(
            am,
            [
                _alert("KpiForecastShortfall", "west_coast", "投资促进中心"),
                _alert("KpiForecastShortfall", "zone_a", "发展改革局"),
            ],
        )
        other = (receiver['owner="发展改革局"'], "KpiForecastShortfall", "zone_a")
        wait_for(lambda: other in delivered(), 30, "the other region's alert")

        inhibited = ("KpiForecastShortfall", "west_coast", "2026")
        # the notification pipeline marks an alert inhibited before it would notify
        wait_for(lambda: states()[inhibited]["state"] == "suppressed", 30, "inhibition")
        assert states()[inhibited]["inhibitedBy"]
        assert states()[("KpiForecastShortfall", "zone_a", "2026")]["state"] == "active"
        assert inhibited[:2] not in {(n, r) for _, n, r in delivered()}


def _workdir(path: Path, year: int) -> Path:
    """A config with a live target behind pace and a GDP target of a year long ended."""
    path.mkdir()
    targets = f"""
[[targets]]
indicator = "projects_started"
region = "west_coast"
year = {year}
annual = 600
quarters = {{ Q1 = 257 }}
[[targets]]
indicator = "gdp_growth"
region = "CN"
year = {year - 2}
annual = 6.5
[alerts]
behind_for = "0s"
forecast_for = "0s"
stale_for = "0s"
"""
    data = f"""period,region,indicator,measure,value
{year}年1-2月,zone_a,projects_started,value,30
{year}年1-2月,zone_b,projects_started,value,20
{year}年3月,zone_a,projects_started,value,25
{year}年3月,zone_b,projects_started,value,25
{year - 2}Q1,CN,gdp_growth,yoy_pct,5.0
{year - 2}Q2,CN,gdp_growth,yoy_pct,5.2
"""
    (path / "config.toml").write_text(CONFIG + targets, encoding="utf-8")
    (path / "data.csv").write_text(data, encoding="utf-8")
    return path


def _template_queries(rule: dict[str, Any], labels: dict[str, str]) -> list[str]:
    """The queries an alert's annotations run, filled in with the alert's labels."""
    out = []
    for fmt, args in re.findall(r"printf `([^`]*)` ([^|]*)\|", rule["annotations"]["description"]):
        values = [labels[a.removeprefix("$labels.")] for a in args.split()]
        out.append(fmt % tuple(values))
    return out


def test_two_instances_page_once_per_cause_through_a_real_alertmanager(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    year = now.year
    a, b = _workdir(tmp_path / "a", year), _workdir(tmp_path / "b", year)
    config = load_config(a / "config.toml")
    generated.write_rules(config, tmp_path / "rules")
    groups = yaml.safe_load((tmp_path / "rules" / "kpiwatch-rules.yml").read_text())
    example = yaml.safe_load((tmp_path / "rules" / "alertmanager.example.yml").read_text())
    ports = free_port(), free_port()
    today = f"{year}-11-01"
    with (
        kpiwatch_serve(a, ports[0], today=today),
        kpiwatch_serve(b, ports[1], today=today),
        webhook() as hook,
        alertmanager(tmp_path, to_webhook(example, hook.port)) as am,
    ):
        wait_for(lambda: ready(ports[0]) and ready(ports[1]), 120, "both instances")
        targets = [f"127.0.0.1:{p}" for p in ports]
        rule_file = tmp_path / "rules" / "kpiwatch-rules.yml"
        with prometheus(tmp_path, targets, [rule_file], alertmanager=am) as prom:
            both = 'count(up{job="kpiwatch"} == 1) == 2'
            wait_for(lambda: bool(query(prom, both)["result"]), 60, "both scraped")
            firing = 'ALERTS{alertname="KpiBehindPace",alertstate="firing"}'
            wait_for(lambda: bool(query(prom, firing)["result"]), 60, "KpiBehindPace firing")
            _every_query_runs(prom, groups, query(prom, firing)["result"])
            behind = "KpiBehindPace"
            wait_for(lambda: any(x["labels"]["alertname"] == behind for _, x in hook.alerts()))
            stale = "KpiDataStale"
            wait_for(lambda: any(x["labels"]["alertname"] == stale for _, x in hook.alerts()))

    _paged_once(hook, example, year, now < datetime(year, 4, 1, tzinfo=UTC))


def _every_query_runs(prom: int, groups: dict[str, Any], firing: object) -> None:
    """Every rule loads healthy; every expression and annotation query runs."""
    _, _, body = get(f"http://127.0.0.1:{prom}/api/v1/rules")
    loaded = [r for g in yaml.safe_load(body)["data"]["groups"] for r in g["rules"]]
    assert len(loaded) == 8 and all(r["health"] == "ok" for r in loaded), loaded
    # the ended GDP year is behind pace, and exported: only the rules keep it quiet
    old = 'kpiwatch_kpi_pace_status{indicator="gdp_growth",status="behind"} == 1'
    assert query(prom, old)["result"]
    assert isinstance(firing, list)
    labels = firing[0]["metric"]
    for rule in (r for g in groups["groups"] for r in g["rules"]):
        query(prom, rule["expr"])
        for q in _template_queries(rule, labels):
            query(prom, q)


def _paged_once(hook: Webhook, example: dict[str, Any], year: int, q1_live: bool) -> None:
    """One alert per item and cause reached the owner's receiver, with its numbers."""
    behind, stale = "KpiBehindPace", "KpiDataStale"
    got = [x for _, x in hook.alerts() if x["labels"]["alertname"] == behind]
    receiver = {r["matchers"][0]: "/" + r["receiver"] for r in example["route"]["routes"]}
    paths = {p for p, x in hook.alerts() if x["labels"]["alertname"] in (behind, stale)}
    assert paths == {receiver['owner="发展改革局"']}
    # one alert per item although two instances export it; the ended GDP year never pages
    items = {(x["labels"]["indicator"], x["labels"]["horizon"]) for x in got}
    want = {("projects_started", "year")}
    if q1_live:  # the first quarter's horizon has not ended yet
        want.add(("projects_started", "quarter"))
    assert items == want
    year_alert = next(x for x in got if x["labels"]["horizon"] == "year")
    assert "instance" not in year_alert["labels"] and year_alert["labels"]["year"] == str(year)
    text = year_alert["annotations"]["description"]
    assert text.startswith("Actual progress is below the red line of the pace target. Actual ")
    assert "100.00 个 against" in text and "the year target is 600.00" in text
    assert year_alert["annotations"]["runbook_url"].endswith("#kpibehindpace")
    assert "var-indicator=projects_started" in year_alert["annotations"]["dashboard"]
    assert not [x for _, x in hook.alerts() if x["labels"]["indicator"] == "gdp_growth"]
