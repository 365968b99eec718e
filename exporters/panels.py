"""Building blocks the Grafana dashboards share: settings, queries, variables, colours."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from grafana_foundation_sdk.builders import prometheus
from grafana_foundation_sdk.builders.dashboard import (
    CustomVariable,
    Dashboard,
    DatasourceVariable,
    FieldColor,
    QueryVariable,
    ThresholdsConfig,
)
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.models.dashboard import (
    DataSourceRef,
    FieldColorModeId,
    Threshold,
    ThresholdsMode,
    ValueMap,
    ValueMappingResult,
    VariableOption,
    VariableRefresh,
    VariableSort,
)
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

DATASOURCE_UID = "kpiwatch-prometheus"
DATASOURCE_NAME = "kpiwatch Prometheus"
DS = DataSourceRef(type_val="prometheus", uid="${datasource}")
# The scrape's job and the chosen instances; the instance regex also matches no instance at
# all, which is how backfilled history (written without job or instance) is selected too.
LIVE = 'job="$job",instance=~"$instance"'
ANY = 'job=~"$job|",instance=~"$instance|"'
# Monthly samples lie up to 31 days apart (month ends): looking back a little further
# draws backfilled history and live values as one unbroken line.
LOOKBACK = "35d"
KPI = "kpiwatch_kpi_"
PERCENT = 100  # growth rates are exported as ratios; people read them in percent
# The status as one number per check, so a stat or a table cell can map it to a colour.
STATUS_CODES = {"no_data": 0, "on_track": 1, "at_risk": 2, "behind": 3}
STATUS_COLOURS = {"no_data": "gray", "on_track": "blue", "at_risk": "yellow", "behind": "red"}
STATUS_TEXT = {
    "no_data": "no data",
    "on_track": "on track",
    "at_risk": "at risk",
    "behind": "behind",
}


Steps = list[tuple[float | None, str]]  # a base colour (None), then (from value, colour)


@dataclass(frozen=True)
class DashboardSettings:
    """What the dashboards take from config.toml: the thresholds the checks and rules use."""

    at_risk_below: float = 1.0
    behind_below: float = 0.8
    growth_at_risk_below_pp: float = 0.0
    growth_behind_below_pp: float = -0.5
    p_at_risk_below: float = 0.5
    p_behind_below: float = 0.2
    refresh_max_age_hours: float = 3.0
    job: str = "kpiwatch"
    labels: Mapping[str, str] = field(
        default_factory=lambda: {"on_track": "蓝", "at_risk": "黄", "behind": "红"}
    )
    escalation_labels: tuple[str, str, str, str] = ("none", "通报", "约谈", "问责")


def query(expr: str, legend: str = "", ref: str = "A", table: bool = False) -> Any:
    """A Prometheus query; `table` makes it one instant row per series."""
    q = prometheus.Dataquery().expr(expr).ref_id(ref).datasource(DS)
    if legend:
        q = q.legend_format(legend)
    return q.instant().format(PromQueryFormat.TABLE) if table else q.range()


def history(metric: str, sel: str) -> str:
    """A metric's backfilled and live values as one line per check and year (any instance)."""
    return f"max without (job, instance) (last_over_time({metric}{{{ANY},{sel}}}[{LOOKBACK}]))"


def level(name: str, sel: str, past: bool = False) -> str:
    """A check value in the indicator's unit, growth rates in percent (one of the two exists)."""
    pick = history if past else (lambda m, s: f"{m}{{{LIVE},{s}}}")
    return f"{pick(KPI + name, sel)} or {PERCENT} * {pick(KPI + 'growth_' + name + '_ratio', sel)}"


def status_code(sel: str, past: bool = False) -> str:
    """One series per check whose value is its STATUS_CODES entry (`past`: with history)."""

    def one(status: str) -> str:
        series = f'{KPI}status{{{sel},status="{status}"}}'
        if past:
            series = f'last_over_time({KPI}status{{{ANY},{sel},status="{status}"}}[{LOOKBACK}])'
        return f"({series} == 1) * {STATUS_CODES[status]}"

    inner = " or ".join(one(s) for s in STATUS_CODES)
    return f"max without ({'job, instance, ' if past else ''}status) ({inner})"


def with_info(expr: str) -> str:
    """Join the indicator's name and illustrative flag, and the target's owner (the unit
    answering for it), per scraped instance, as the alert rules do."""
    return (
        f"({expr}) * on(job, instance, indicator) group_left(name, illustrative) "
        f"kpiwatch_kpi_info{{{LIVE}}} * on(job, instance, indicator, region, year) "
        f"group_left(owner) kpiwatch_kpi_target_info{{{LIVE}}}"
    )


def figures_mapping() -> ValueMap:
    """kpiwatch_kpi_info's illustrative flag in words: example figures stand out."""
    return ValueMap(
        options={
            "true": ValueMappingResult(text="illustrative", color="orange", index=0),
            "false": ValueMappingResult(text="published", color="transparent", index=1),
            "1": ValueMappingResult(text="illustrative figures", color="orange", index=2),
            "0": ValueMappingResult(text="published figures", color="green", index=3),
        }
    )


def status_mapping(s: DashboardSettings) -> ValueMap:
    """Status codes shown as 蓝/黄/红 (or the configured labels) in their colours."""
    options = {}
    for i, (status, code) in enumerate(STATUS_CODES.items()):
        label = s.labels.get(status, "")
        text = f"{label} {STATUS_TEXT[status]}".strip()
        options[str(code)] = ValueMappingResult(text=text, color=STATUS_COLOURS[status], index=i)
    return ValueMap(options=options)


def thresholds(steps: Iterable[tuple[float | None, str]]) -> ThresholdsConfig:
    """Absolute thresholds from a base colour (None) and (value, colour) steps upwards."""
    pairs = list(steps)
    # Grafana reads the base step as -Infinity whatever it holds; the schema wants a
    # number, so it gets one below every other step.
    base = min((v for v, _ in pairs if v is not None), default=1.0) - 1
    return (
        ThresholdsConfig()
        .mode(ThresholdsMode.ABSOLUTE)
        .steps([Threshold(value=base if v is None else v, color=c) for v, c in pairs])
    )


def cell_steps(steps: Steps) -> Steps:
    """Table thresholds: text cells take the base colour, so it is transparent and the
    lowest real colour starts below any value a check can have."""
    return [(None, "transparent"), (-1e12, steps[0][1]), *steps[1:]]


def ratio_steps(s: DashboardSettings) -> Steps:
    return [(None, "red"), (s.behind_below, "yellow"), (s.at_risk_below, "blue")]


def pp_steps(s: DashboardSettings) -> Steps:
    return [
        (None, "red"),
        (s.growth_behind_below_pp, "yellow"),
        (s.growth_at_risk_below_pp, "blue"),
    ]


def probability_steps(s: DashboardSettings) -> Steps:
    return [(None, "red"), (s.p_behind_below, "yellow"), (s.p_at_risk_below, "blue")]


def fixed_colour(colour: str) -> FieldColor:
    return FieldColor().mode(FieldColorModeId.FIXED).fixed_color(colour)


def datasource_variable() -> DatasourceVariable:
    """Pick any Prometheus; the provisioned one is preselected, no default is required."""
    current = VariableOption(text=DATASOURCE_NAME, value=DATASOURCE_UID, selected=True)
    return DatasourceVariable("datasource").label("Data source").type("prometheus").current(current)


def query_variable(
    name: str, label: str, promql: str, *, all_value: str | None = None, regex: str = ""
) -> QueryVariable:
    """A variable listing what the chosen data source has, refreshed with the time range."""
    v = (
        QueryVariable(name)
        .label(label)
        .datasource(DS)
        .query(promql)
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
    )
    if regex:
        v = v.regex(regex)
    if all_value is not None:
        v = v.include_all(True).all_value(all_value).multi(True)
    return v


def job_variables(s: DashboardSettings) -> list[cogbuilder.Builder[Any]]:
    """`job` (the configured one preselected) and `instance` (all by default)."""
    job = query_variable("job", "Job", "label_values(kpiwatch_kpi_info, job)").current(
        VariableOption(text=s.job, value=s.job, selected=True)
    )
    instance = query_variable(
        "instance",
        "Instance",
        'label_values(kpiwatch_kpi_info{job="$job"}, instance)',
        all_value=".*",
    )
    return [job, instance]


def custom_variable(name: str, label: str, values: list[str]) -> CustomVariable:
    first = VariableOption(text=values[0], value=values[0], selected=True)
    return CustomVariable(name).label(label).values(",".join(values)).current(first)


def kpiwatch_dashboard(
    title: str,
    uid: str,
    s: DashboardSettings,
    *,
    since: str = "now-30d",
    refresh: str = "5m",
    variables: Iterable[cogbuilder.Builder[Any]] = (),
) -> Dashboard:
    """A dashboard with kpiwatch's tag, the data source, job and instance variables first."""
    d = (
        Dashboard(title)
        .uid(uid)
        .tags(["kpiwatch"])
        .refresh(refresh)
        .time(since, "now")
        .with_variable(datasource_variable())
    )
    for v in [*job_variables(s), *variables]:
        d = d.with_variable(v)
    return d


def numbered(d: Dashboard, panels: Iterable[cogbuilder.Builder[Any]]) -> Dashboard:
    """Add panels with ids 1, 2, … in order (Grafana links and alerts refer to them)."""
    for i, p in enumerate(panels, start=1):
        d = d.with_panel(p.id(i))  # type: ignore[attr-defined]
    return d
