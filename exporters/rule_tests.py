"""promtool unit tests of the generated rules: each alert firing once per cause, and not.

The cases are the situations on-call must be able to trust: two kpiwatch instances
scraped under one job, an item on pace whose forecast is red, horizons that have ended,
a restart in the middle of a pending alert, lock retries while refreshes still succeed.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from exporters.rules import AlertSettings

FAR = 1e10  # the end of a horizon that has not come
INFO = {  # indicator: name, unit, kind, owner, illustrative
    "projects_started": ("重点项目开工", "个", "flow", "发展改革局", "false"),
    "fai": ("固定资产投资", "亿元", "flow", "发展改革局", "true"),
    "gdp_growth": ("地区生产总值增速", "%", "growth", "统计局", "false"),
}
TARGET_OWNERS = {"fai": "投资促进中心"}  # a target answered for by a unit of its own
GROWTH_NAMES = {"actual": "growth_actual_ratio", "pace_target": "growth_pace_target_ratio"}
GROWTH_NAMES |= {"target": "growth_target_ratio", "gap": "growth_gap_ratio"}
Item = tuple[str, str, str, str]  # indicator, region, horizon, year


def minutes(duration: str) -> int:
    """A Prometheus duration such as 90s, 1h or 2d in whole minutes, rounded up."""
    per = {"s": 1 / 60, "m": 1, "h": 60, "d": 1440}
    return math.ceil(int(duration[:-1]) * per[duration[-1]])


def _series(name: str, labels: dict[str, str], values: str) -> dict[str, str]:
    body = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"kpiwatch_kpi_{name}{{{body}}}", "values": values}


def dekad_check_series(
    instance: str, indicator: str, region: str, values: dict[str, float], n: int
) -> list[dict[str, str]]:
    """The series one 旬 check of 2026 exports, for the 旬 alerts' tests: each value held
    for n minutes, `pace_status` as the behind flag and any other name as it is exported."""
    labels = {"job": "kpiwatch", "instance": instance, "horizon": "dekad"}
    labels |= {"indicator": indicator, "region": region, "year": "2026"}
    out = []
    for name, value in values.items():
        where = {**labels, "status": "behind"} if name == "pace_status" else labels
        out.append(_series(name, where, f"{value}x{n}"))
    return out


def item_series(
    item: Item, facts: dict[str, Any], samples: str, instances: tuple[str, ...] = ("a", "b")
) -> list[dict[str, str]]:
    """Every series one item exports, from each instance; `samples` is how a value repeats."""
    indicator, region, horizon, year = item
    growth = INFO[indicator][2] == "growth"
    out = []
    for instance in instances:
        key = {"job": "kpiwatch", "instance": instance}
        labels = {**key, "indicator": indicator, "region": region, "horizon": horizon}
        labels["year"] = year
        for field, value in facts.items():
            if field in ("pace_status", "status"):
                for s in ("behind", "on_track"):
                    v = samples.replace("V", "1" if value == s else "0")
                    out.append(_series(field, {**labels, "status": s}, v))
            elif field in ("data_end_day", "due_day"):
                continue
            elif field == "data_end":
                ends = {k: labels[k] for k in ("job", "instance", "indicator", "region")}
                v = samples.replace("V", repr(float(value)))
                out.append(_series("data_period_end_timestamp_seconds", ends, v))
            else:
                name = GROWTH_NAMES.get(field, field) if growth else field
                out.append(_series(name, labels, samples.replace("V", repr(float(value)))))
        name, unit, kind, owner, flag = INFO[indicator]
        meta = {"indicator": indicator, "name": name, "unit": unit, "kind": kind, "owner": owner}
        out.append(
            _series("info", {**key, **meta, "illustrative": flag}, samples.replace("V", "1"))
        )
        target = {"indicator": indicator, "region": region, "year": year}
        target["owner"] = TARGET_OWNERS.get(indicator, owner)
        out.append(_series("target_info", {**key, **target}, samples.replace("V", "1")))
    return out


def _pct(value: float) -> str:
    return f"{value * 100:.4g}%"  # Prometheus's humanizePercentage


def _facts(item: Item, f: dict[str, Any]) -> str:
    indicator, _, horizon, _ = item
    if INFO[indicator][2] == "growth":
        return (
            f"Actual {f['actual'] * 100:.2f} % against {f['pace_target'] * 100:.2f} % due by "
            f"now ({f['gap'] * 100:+.2f} pp); the {horizon} target is {f['target'] * 100:.2f} %."
        )
    return (
        f"Actual {f['actual']:.2f} {INFO[indicator][1]} against {f['pace_target']:.2f} due by "
        f"now ({_pct(f['attainment_ratio'])} of pace); the {horizon} target is "
        f"{f['target']:.2f}."
    )


def _texts(alert: str, item: Item, f: dict[str, Any], owner: str) -> tuple[str, str]:
    """The summary and description Prometheus must render for the alert."""
    indicator, region, horizon, year = item
    who = f"{INFO[indicator][0]} ({indicator}) in {region}"
    unit_of = f"Responsible unit: {owner}."
    p_meet = _pct(f["target_met_probability"])
    on_pace = "Progress is not below the red line, but the forecast gives"
    texts = {
        "KpiBehindPace": (
            f"{who} is behind pace (红) for the {year} {horizon}",
            "Actual progress is below the red line of the pace target. "
            f"{_facts(item, f)} P(meet target): {p_meet}. {unit_of}",
        ),
        "KpiForecastShortfall": (
            f"{who} will likely miss its {year} {horizon} target",
            f"{on_pace} only {p_meet} chance of meeting the target. {_facts(item, f)} {unit_of}",
        ),
        "KpiForecastAtRisk": (
            f"{who} may miss its {year} {horizon} target",
            f"{on_pace} {p_meet} chance of meeting the target. {_facts(item, f)} {unit_of}",
        ),
        "KpiDataStale": (
            f"{who}: the latest release has not arrived",
            "The next period's figures are later than the release calendar allows; "
            "forecast alerts for it are held back until they arrive. "
            + (f"The next figure was due by {f['due_day']}. " if "due_day" in f else "")
            + f"Data runs to {f.get('data_end_day', 'n/a')}. {unit_of}",
        ),
    }
    return texts[alert]


def expected(s: AlertSettings, alert: str, item: Item, f: dict[str, Any]) -> dict[str, Any]:
    """The alert as promtool must see it: labels and rendered annotations."""
    indicator, region, horizon, year = item
    name, unit, kind, indicator_owner, flag = INFO[indicator]
    owner = TARGET_OWNERS.get(indicator, indicator_owner)
    severity = "warning" if alert in ("KpiForecastAtRisk", "KpiDataStale") else "critical"
    labels = {"job": "kpiwatch", "indicator": indicator, "region": region, "horizon": horizon}
    labels |= {"year": year, "name": name, "unit": unit, "kind": kind, "owner": owner}
    labels["illustrative"] = flag
    summary, description = _texts(alert, item, f, owner)
    if flag == "true":
        description = "Illustrative figures, not published data. " + description
    link = f"{s.grafana_url}/d/kpiwatch-indicator?var-indicator={indicator}"
    return {
        "exp_labels": {**labels, "severity": severity},
        "exp_annotations": {
            "summary": summary,
            "description": description,
            "runbook_url": f"{s.runbook_url}#{alert.lower()}",
            "dashboard": f"{link}&var-region={region}&var-horizon={horizon}",
        },
    }


BEHIND: dict[str, Any] = {  # a flow at 87.6 % of pace, red by its actual
    "pace_status": "behind", "status": "behind", "actual": 150, "pace_target": 171.33,
    "target": 600, "attainment_ratio": 0.8755, "target_met_probability": 0.1,
    "horizon_end_timestamp_seconds": FAR, "stale": 0,
}  # fmt: skip
ON_PACE_RED: dict[str, Any] = {  # at 104 % of pace, red only by its forecast
    **BEHIND, "pace_status": "on_track", "actual": 100, "pace_target": 96.15, "target": 195,
    "attainment_ratio": 1.04,
}  # fmt: skip
GROWTH_AT_RISK: dict[str, Any] = {  # 6.1 % against 6.5 %, yellow by its forecast
    "pace_status": "on_track", "status": "at_risk", "actual": 0.061, "pace_target": 0.065,
    "target": 0.065, "gap": -0.004, "target_met_probability": 0.35,
    "horizon_end_timestamp_seconds": FAR, "stale": 0,
}  # fmt: skip
# Test time starts at 0 (1970-01-01): these horizons ended before it.
ENDED: dict[str, Any] = {  # GDP of 1967: behind, forecast red, data late
    **GROWTH_AT_RISK, "pace_status": "behind", "status": "behind",
    "target_met_probability": 0.05, "horizon_end_timestamp_seconds": -63072000, "stale": 1,
}  # fmt: skip
JUST_ENDED: dict[str, Any] = {  # GDP of 1969, ended as the test starts; Q4 is late
    **ENDED, "horizon_end_timestamp_seconds": 0, "data_end": -86400 * 92,
    "data_end_day": "1969-09-30", "next_release_due_timestamp_seconds": 86400 * 30,
    "due_day": "1970-01-30",
}  # fmt: skip
ON_TRACK: dict[str, Any] = {
    **BEHIND, "pace_status": "on_track", "status": "on_track", "attainment_ratio": 1.1,
    "target_met_probability": 0.9,
}  # fmt: skip

PS: Item = ("projects_started", "west_coast", "year", "2026")
FAI: Item = ("fai", "west_coast", "year", "2026")
GDP_Q: Item = ("gdp_growth", "west_coast", "quarter", "2026")
GDP_OLD: Item = ("gdp_growth", "old_zone", "year", "1967")
GDP_LAST: Item = ("gdp_growth", "west_coast", "year", "1969")


def _case(alert: str, minute: int, alerts: list[dict[str, Any]]) -> dict[str, Any]:
    return {"eval_time": f"{minute}m", "alertname": alert, "exp_alerts": alerts}


def targets_test(s: AlertSettings) -> dict[str, Any]:
    """Two instances; one alert per item and cause; nothing for ended horizons."""
    t = max(minutes(s.behind_for), minutes(s.forecast_for), minutes(s.stale_for)) + 2
    v = f"Vx{t + 5}"
    items = [(PS, BEHIND), (FAI, ON_PACE_RED), (GDP_Q, GROWTH_AT_RISK)]
    items += [(GDP_OLD, ENDED), (GDP_LAST, JUST_ENDED)]
    series = [x for item, facts in items for x in item_series(item, facts, v)]
    return {
        "interval": "1m",
        "input_series": series,
        "alert_rule_test": [
            _case(alert, t, [expected(s, alert, item, facts)])
            for alert, item, facts in (
                ("KpiBehindPace", PS, BEHIND),
                ("KpiForecastShortfall", FAI, ON_PACE_RED),
                ("KpiForecastAtRisk", GDP_Q, GROWTH_AT_RISK),
                ("KpiDataStale", GDP_LAST, JUST_ENDED),
            )
        ],
    }


def restart_test(s: AlertSettings) -> dict[str, Any]:
    """Scrapes missing for a few minutes (a restart) neither reset nor resolve an alert;
    a longer outage keeps it firing for keep_firing_for, then it resolves."""
    wait, bridge, keep = minutes(s.behind_for), minutes(s.scrape_gap), minutes(s.keep_firing_for)
    gap_at, gap = max(1, wait // 2), max(1, min(3, bridge - 1))
    t = max(wait, gap_at + gap) + 1
    # a failed scrape marks every series of the target stale at once; then nothing comes
    stale = " ".join(["stale"] * gap)
    v = f"Vx{gap_at - 1} {stale} Vx{t + 5 - gap_at - gap} stale"
    firing = expected(s, "KpiBehindPace", PS, BEHIND)
    cases = [
        _case("KpiBehindPace", t, [firing]),
        _case("KpiBehindPace", gap_at + 1, [firing] if wait <= gap_at else []),
        _case("KpiBehindPace", t + 5 + bridge + keep + 2, []),
    ]
    if keep > 6:  # past the bridged gap, inside keep_firing_for
        cases.append(_case("KpiBehindPace", t + 5 + bridge + 5, [firing]))
    return {
        "interval": "1m",
        "input_series": item_series(PS, BEHIND, v, ("a",)),
        "alert_rule_test": cases,
    }


DEKAD_DUE = 86400 * 15  # the end of the due day, 1970-01-15: its figure is late now


def dekad_stale_test(s: AlertSettings) -> dict[str, Any]:
    """A series published per 旬 whose next figure is late pages once, as its 旬 item
    (horizon "dekad") with the day it was due, not again when its month is late too; a
    monthly series' late release still pages as its year's item."""
    t = minutes(s.stale_for) + 2
    v = f"Vx{t + 5}"
    late = {**ON_TRACK, "stale": 1}
    fai_d: Item = ("fai", "west_coast", "dekad", "2026")
    series = item_series(FAI, late, v) + item_series(PS, late, v)
    for instance in ("a", "b"):
        labels = {"job": "kpiwatch", "instance": instance, "indicator": "fai"}
        labels |= {"region": "west_coast", "horizon": "dekad", "year": "2026"}
        for name, value in (("stale", 1), ("next_release_due_timestamp_seconds", DEKAD_DUE)):
            series.append(_series(name, labels, v.replace("V", str(value))))
    dekad = expected(s, "KpiDataStale", fai_d, late)
    notes = dekad["exp_annotations"]
    notes["description"] = notes["description"].replace(
        "Data runs to", "The next 旬's figure was due by 1970-01-15. Data runs to"
    )
    fired = [dekad, expected(s, "KpiDataStale", PS, late)]
    return {
        "interval": "1m",
        "input_series": series,
        "alert_rule_test": [_case("KpiDataStale", t, fired)],
    }


def quarter_only_test(s: AlertSettings) -> dict[str, Any]:
    """A target given only as quarters has no year check: its quarter's late figure pages,
    until stale_days_after_end after its year's end (1969's, not 1967's)."""
    t = minutes(s.stale_for) + 2
    v = f"Vx{t + 5}"
    last: Item = ("gdp_growth", "west_coast", "quarter", "1969")
    old: Item = ("gdp_growth", "old_zone", "quarter", "1967")
    series = item_series(last, JUST_ENDED, v) + item_series(old, ENDED, v)
    fired = [expected(s, "KpiDataStale", last, JUST_ENDED)]
    return {
        "interval": "1m",
        "input_series": series,
        "alert_rule_test": [_case("KpiDataStale", t, fired)],
    }


def _instance(name: str, **values: str) -> list[dict[str, str]]:
    """Series of one kpiwatch instance's own metrics, by metric name."""
    labels = f'job="kpiwatch",instance="{name}"'
    out = []
    for metric, v in values.items():
        extra = ""
        if "__" in metric:  # metric__label__value
            metric, label, value = metric.split("__")
            extra = f',{label}="{value}"'
        out.append({"series": f"{metric}{{{labels}{extra}}}", "values": v})
    return out


def _service_series(recovered: int, restart: int, end: int) -> list[dict[str, str]]:
    """a: stuck, then recovered; b: scraped; c: restarted; d: never refreshed until
    `recovered`; and an item on track."""
    last, start = "kpiwatch_refresh_last_success_timestamp_seconds", "process_start_time_seconds"
    return [
        *_instance(
            "a",
            **{last: f"0+60x10 600x{recovered - 12} {recovered * 60}+60x{end - recovered}"},
            # the store is locked and retried every minute, while refreshes still succeed
            kpiwatch_refresh_failures_total__stage__store=f"0+1x{end}",
            kpiwatch_store_error__reason__corrupt=f"0x20 1x{end - 21}",
            kpiwatch_config_last_reload_successful=f"1x40 0x{end - 41}",
            up=f"1x100 0x{end - 100}",
            **{start: f"0x{end}"},
        ),
        *_instance("b", up=f"1x{end}"),
        *_instance(
            "c",
            **{last: f"0+60x{restart - 1} 0x{end - restart}"},
            **{start: f"0x{restart - 1} {restart * 60}x{end - restart}"},
            kpiwatch_store_error__reason__locked=f"1x{end}",
        ),
        *_instance(
            "d",
            **{last: f"0x{recovered - 1} {recovered * 60}+60x{end - recovered}"},
            **{start: f"0x{end}"},
        ),
        *item_series(PS, ON_TRACK, f"Vx{end}"),
    ]


def service_test(s: AlertSettings, service_rules: list[dict[str, Any]]) -> dict[str, Any]:
    """Refresh age, not failure counts, through restarts; store, config; a missing target."""
    age = int(s.refresh_max_age_hours * 60)
    firing = 10 + age + 20  # a: last success at minute 10; old after `age`, for 15m
    recovered = firing + 5
    restart = recovered + 5  # c: refreshing every minute, restarted here
    end = max(restart + 40, 130)
    svc = {r["alert"]: r for r in service_rules}
    failing = [_service(svc, "KpiwatchRefreshFailing", i) for i in ("a", "d")]
    cases = [
        _case("KpiwatchRefreshFailing", 9, []),
        _case("KpiwatchRefreshFailing", firing, failing),
        _case("KpiwatchRefreshFailing", recovered + 1, []),
        _case("KpiwatchStoreFailing", 15, []),
        _case("KpiwatchStoreFailing", 30, [_service(svc, "KpiwatchStoreFailing", "a", "corrupt")]),
        _case("KpiwatchConfigReloadFailed", 45, []),
        _case("KpiwatchConfigReloadFailed", 55, [_service(svc, "KpiwatchConfigReloadFailed", "a")]),
        _case("KpiwatchScrapeMissing", 50, []),
        _case("KpiwatchScrapeMissing", 120, [_service(svc, "KpiwatchScrapeMissing", "a")]),
        *(_case(a, 60, []) for a in ("KpiBehindPace", "KpiForecastAtRisk", "KpiDataStale")),
        _case("KpiForecastShortfall", 60, []),
    ]
    if age > 17:  # a restart with a recent success is no reason to alert
        cases.append(_case("KpiwatchRefreshFailing", restart + 16, []))
    series = _service_series(recovered, restart, end)
    return {"interval": "1m", "input_series": series, "alert_rule_test": cases}


def _service(
    rules: dict[str, dict[str, Any]], alert: str, instance: str, reason: str = ""
) -> dict[str, Any]:
    rule = rules[alert]
    labels = {"job": "kpiwatch", "instance": instance, **rule["labels"]}
    notes = rule["annotations"]
    if reason:
        labels["reason"] = reason
        notes = {k: v.replace("{{ $labels.reason }}", reason) for k, v in notes.items()}
    return {"exp_labels": labels, "exp_annotations": notes}


def unit_tests(
    s: AlertSettings, rule_file: str, service_rules: list[dict[str, Any]]
) -> dict[str, Any]:
    """The promtool test file for `rule_file`, whose service group is `service_rules`."""
    return {
        "rule_files": [rule_file],
        "evaluation_interval": "1m",
        "tests": [
            targets_test(s),
            restart_test(s),
            service_test(s, service_rules),
            dekad_stale_test(s),
            quarter_only_test(s),
        ],
    }
