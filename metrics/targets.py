"""Targets as tables: one row per target and its pace curve, month by month."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

import duckdb
import numpy as np
import numpy.typing as npt
import pandas as pd

from ingest.schema import Indicator
from metrics.pace import LINEAR, Curve, pace_curve, profile_shares, seasonal_shares
from metrics.schema import Target, Thresholds

QUARTER_END = {"Q1": 3, "Q2": 6, "Q3": 9, "Q4": 12}
# For each month, the month whose cumulative target is its quarter's target.
Q_END = np.array([3] + [min(12, 3 * ((m + 2) // 3)) for m in range(1, 13)])


def history(
    con: duckdb.DuckDBPyConnection, series: list[tuple[str, str]]
) -> dict[tuple[str, str], dict[int, dict[int, float]]]:
    """YTD (or level) to date by year and month of the given series, from `actuals`."""
    out: dict[tuple[str, str], dict[int, dict[int, float]]] = {}
    if not series:
        return out
    wanted = pd.DataFrame(series, columns=["indicator", "region"]).astype(str)
    con.register("_wanted", wanted)
    try:
        rows = con.execute(
            "SELECT indicator, region, year, month, to_date FROM actuals "
            "JOIN _wanted USING (indicator, region) WHERE to_date IS NOT NULL"
        ).fetchall()
    finally:
        con.unregister("_wanted")
    by_series: dict[tuple[str, str], list[tuple[int, int, float | None]]] = {}
    for ind, reg, year, month, value in rows:
        by_series.setdefault((ind, reg), []).append((year, month, value))
    return {key: past_years(found) for key, found in by_series.items()}


def past_years(rows: Iterable[tuple[int, int, float | None]]) -> dict[int, dict[int, float]]:
    """To date by year and month, from (year, month, to_date): what pacing learns from."""
    out: dict[int, dict[int, float]] = {}
    for year, month, value in rows:
        if value is not None:
            out.setdefault(int(year), {})[int(month)] = float(value)
    return out


def shares_for(target: Target, past: Mapping[int, Mapping[int, float]]) -> tuple[Curve, str]:
    """The cumulative shares of a target's pacing rule, and the rule actually used."""
    if target.pacing == "profile":
        return profile_shares(target.profile), "profile"
    if target.pacing == "seasonal":
        learned = seasonal_shares({y: v for y, v in past.items() if y < target.year})
        if learned is not None:
            return learned, "seasonal"
        return LINEAR, "linear (no complete past year for seasonal)"
    return LINEAR, "linear"


def curve_for(
    target: Target, indicator: Indicator, past: Mapping[int, Mapping[int, float]]
) -> tuple[Curve, Curve, str]:
    """(pace by month-end, horizon target by quarter of each month, pacing used).

    Without an annual target the curve ends at the last period given (NaN after it).
    """
    quarters = {int(q[1]): v for q, v in target.quarters.items()}
    months = target.month_values()
    last, year_end = last_given(target)
    if indicator.kind == "growth":
        default = np.nan if target.annual is None else target.annual
        q_rate = np.array([quarters.get((m + 2) // 3, default) for m in range(13)])
        q_rate[0] = q_rate[1]
        rate = np.array([months.get(m, q_rate[m]) for m in range(13)], dtype=np.float64)
        rate[last + 1 :] = np.nan
        return rate, q_rate.astype(np.float64), "rate"
    shares, used = shares_for(target, past)
    start = 0.0
    if indicator.kind == "stock":
        start = past.get(target.year - 1, {}).get(12, year_end)
    curve = pace_curve(year_end, shares, quarters, months, start)
    curve[last + 1 :] = np.nan
    return curve, np.asarray(curve[Q_END], dtype=np.float64), used


def last_given(target: Target) -> tuple[int, float]:
    """The last month end a target gives a value for, and that value (the year's end
    and the annual target when there is one)."""
    return target.last_given()


Paces = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], list[str]]


def target_paces(
    con: duckdb.DuckDBPyConnection,
    targets: Sequence[Target],
    indicators: Mapping[str, Indicator],
) -> Paces:
    """Every target's pace curves from the temp table `actuals` (see pace_curves): computed
    once a refresh, for the checks and the forecasts."""
    # Only seasonal pacing and stock openings look at past years.
    past = history(
        con,
        [
            (t.indicator, t.region)
            for t in targets
            if t.pacing == "seasonal" or indicators[t.indicator].kind == "stock"
        ],
    )
    return pace_curves(targets, indicators, past)


def target_tables(
    con: duckdb.DuckDBPyConnection,
    targets: Sequence[Target],
    indicators: Mapping[str, Indicator],
    thresholds: Callable[[str], Thresholds],
    owners: Sequence[str | None] = (),
    *,
    ids: Sequence[int] | None = None,
    paces: Paces | None = None,
) -> None:
    """Create temp tables targets_t(target_id, …) and curves(target_id, pace, q_target):
    the pace and the horizon's target at the end of each month 0..12, as arrays.

    `ids` are the targets' ids (default 0..n-1), `paces` their curves if already known.
    One lean pass over the targets (100k of them are common); what belongs to the
    indicator (kind, thresholds) is joined in SQL instead of repeated per target.
    """
    curves, q_targets, used = paces or target_paces(con, targets, indicators)
    target_ids = np.arange(len(targets)) if ids is None else np.asarray(ids, dtype=np.int64)
    _targets_table(con, targets, indicators, thresholds, used, owners, target_ids)
    # Curves as arrays indexed by month + 1: the checks look up three months of a
    # target's curve at once, without joining a row per month.
    columns = {f"p{m}": curves[:, m] for m in range(13)}
    columns.update({f"q{m}": q_targets[:, m] for m in range(13)})
    con.register("_curves", pd.DataFrame({"target_id": target_ids, **columns}))
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE curves AS SELECT CAST(target_id AS INTEGER) "
            f"AS target_id, [{', '.join(f'p{m}' for m in range(13))}]::DOUBLE[13] AS pace, "
            f"[{', '.join(f'q{m}' for m in range(13))}]::DOUBLE[13] AS q_target "
            "FROM _curves"
        )
    finally:
        con.unregister("_curves")


def pace_curves(
    targets: Sequence[Target],
    indicators: Mapping[str, Indicator],
    past: Mapping[tuple[str, str], Mapping[int, Mapping[int, float]]],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], list[str]]:
    """Pace and horizon-target curves (one row of 13 months per target, in the order
    of `targets`), and the pacing used. `past` needs only the series of targets with
    seasonal pacing or of stocks."""
    n = len(targets)
    curves = np.empty((n, 13))
    q_targets = np.empty((n, 13))
    used: list[str] = []
    # Linear flow targets, grouped by their inner anchor months (0 and 12 are always
    # anchors), with the values at the inner anchors and the annual target, flat.
    linear: dict[tuple[int, ...], tuple[list[int], list[float]]] = {}
    flows = {i for i, ind in indicators.items() if ind.kind == "flow"}
    inner: tuple[int, ...]
    for tid, t in enumerate(targets):
        if t.relative_to is not None:  # the margin; the checks add the other region's rate
            curves[tid] = q_targets[tid] = t.margin_pp
            used.append(f"relative to {t.relative_to} ({t.margin_pp:+g} pp)")
        elif t.indicator in flows and t.pacing == "linear" and t.annual is not None:
            if t.months or t.dekads:  # cumulative values; a month's wins over its quarter's
                given = {QUARTER_END[q]: v for q, v in t.quarters.items() if q != "Q4"}
                given.update(t.month_values())
                given.pop(12, None)  # the year ends at the annual target
                inner = tuple(sorted(given))
                values = [given[a] for a in inner]
            else:
                quarters = sorted(q for q in t.quarters if q != "Q4")
                inner = tuple(QUARTER_END[q] for q in quarters)
                values = [t.quarters[q] for q in quarters]
            values.append(t.annual)
            group = linear.get(inner)
            if group is None:
                group = linear[inner] = ([], [])
            group[0].append(tid)
            group[1].extend(values)
            used.append("linear")
        else:
            ind = indicators[t.indicator]
            curve, q_target, rule = curve_for(t, ind, past.get((t.indicator, t.region), {}))
            curves[tid], q_targets[tid] = curve, q_target
            used.append(rule)
    for inner, (id_list, flat) in linear.items():
        ids = np.array(id_list)
        anchors = np.array(flat, dtype=np.float64).reshape(len(ids), len(inner) + 1)
        # the value at month 0 is 0: the blend's first row is left out
        batch = anchors @ _blend((0, *inner, 12))[1:]
        curves[ids] = batch
        q_targets[ids] = batch[:, Q_END]
    return curves, q_targets, used


def _targets_table(
    con: duckdb.DuckDBPyConnection,
    targets: Sequence[Target],
    indicators: Mapping[str, Indicator],
    thresholds: Callable[[str], Thresholds],
    used: list[str],
    owners: Sequence[str | None],
    target_ids: npt.NDArray[np.int64],
) -> None:
    # Names travel as codes into small tables: 100k strings cost more to hand to DuckDB
    # than the rest of the targets together.
    n = len(targets)
    ind_code = {i: k for k, i in enumerate(indicators)}
    reg_code: dict[str, int] = {}
    per_target = pd.DataFrame(
        {
            "target_id": target_ids.astype(np.int32),
            "ind": np.fromiter((ind_code[t.indicator] for t in targets), np.int32, n),
            "reg": np.fromiter(
                (reg_code.setdefault(t.region, len(reg_code)) for t in targets), np.int32, n
            ),
            "year": np.fromiter((t.year for t in targets), np.int32, n),
            "annual": np.fromiter(
                (np.nan if t.annual is None else t.annual for t in targets), np.float64, n
            ),
            "pacing": pd.Categorical(used),
            # the most specific owner below the indicator's (joined in the views)
            "owner": pd.Categorical(list(owners) if owners else [None] * n),
            "relative_to": pd.Categorical([t.relative_to for t in targets]),
        }
    )
    per_indicator = pd.DataFrame(
        [
            (
                k,
                i.id,
                i.kind,
                i.direction,
                "monthly" if i.frequency == "dekad" else i.frequency,  # checked by month too
                th.behind_below,
                th.at_risk_below,
                th.growth_behind_below_pp,
                th.growth_at_risk_below_pp,
                th.recover_after,
            )
            for k, i in enumerate(indicators.values())
            for th in (thresholds(i.id),)
        ],
        columns=[
            "ind",
            "indicator",
            "kind",
            "direction",
            "frequency",
            "behind_below",
            "at_risk_below",
            "growth_behind_pp",
            "growth_at_risk_pp",
            "recover_after",
        ],
    )
    per_region = pd.DataFrame({"reg": np.arange(len(reg_code)), "region": list(reg_code)})
    con.register("_per_target", per_target)
    con.register("_per_indicator", per_indicator)
    con.register("_per_region", per_region)
    try:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE targets_t AS "
            "SELECT t.target_id, i.indicator, r.region, t.year, i.kind, i.direction, "
            "i.frequency, t.annual, CAST(t.pacing AS VARCHAR) AS pacing, i.behind_below, "
            "i.at_risk_below, i.growth_behind_pp, i.growth_at_risk_pp, i.recover_after, "
            "CAST(t.owner AS VARCHAR) AS owner, CAST(t.relative_to AS VARCHAR) AS relative_to "
            "FROM _per_target t JOIN _per_indicator i USING (ind) JOIN _per_region r USING (reg)"
        )
    finally:
        for name in ("_per_target", "_per_indicator", "_per_region"):
            con.unregister(name)


def _blend(months: tuple[int, ...]) -> npt.NDArray[np.float64]:
    """Weights turning values at anchor months into a linear pace curve (13 months).

    Between anchors a < b the pace interpolates linearly in time, so each month's pace is
    a fixed blend of two anchor values: curves = anchor values @ weights, for many
    targets at once.
    """
    weights = np.zeros((len(months), 13))
    for m in range(13):
        i = max(k for k, a in enumerate(months) if a <= m)
        if months[i] == m:
            weights[i, m] = 1.0
            continue
        a, b = months[i], months[i + 1]
        weights[i, m], weights[i + 1, m] = (b - m) / (b - a), (m - a) / (b - a)
    return weights
