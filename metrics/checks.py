"""Progress checks, set-based in DuckDB: pace, attainment, gap, required rate, status.

One row per target × as-of month × horizon (month, quarter, year). Statuses follow the
thresholds, then hysteresis, then the cascade 以月保季、以季保年: a month behind puts its
quarter at risk, a quarter behind puts its year at risk.

The three horizons are computed and stored side by side, one row per target and as-of
month (`y_`, `q_`, `m_` columns): the cascade is arithmetic on one row, and a third as
many rows are written. The view progress_checks turns the horizons into rows.
"""

from __future__ import annotations

from datetime import date

import duckdb

HORIZONS = ("y", "q", "m")
# Severities: 0 no data, 1 on track, 2 at risk, 3 behind (named by check_status_name).

# Each horizon: actual, pace to date, horizon target. A flow's quarter is the quarter's
# own delivery, so a strong earlier quarter cannot hide a weak current one (以季保年).
# Quarterly series have no month horizon. What belongs to a target is gathered once per
# target before the expansion into as-of months.
BASE = """
WITH t AS (
    -- a target whose year has no data anywhere is checked once, at its first period,
    -- as no_data: visible, never silently absent
    SELECT t.* EXCLUDE (owner), f.rank_group, f.jan_feb, c.pace, c.q_target AS q_targets,
           coalesce(f.max_m, CASE t.frequency WHEN 'quarterly' THEN 3 ELSE 1 END) AS max_m
    FROM targets_t t JOIN facts f USING (target_id) JOIN curves c USING (target_id)
),
x AS (
    SELECT t.*, g.m FROM t, LATERAL generate_series(1, t.max_m) AS g(m)
    WHERE (t.frequency = 'monthly' OR g.m % 3 = 0)
      AND NOT (g.m = 1 AND coalesce(t.jan_feb, false))  -- Jan–Feb is checked at February
      AND t.pace[g.m + 1] IS NOT NULL  -- a target without a year ends where its plan ends
),
b AS (
    SELECT x.target_id, x.kind, x.direction, x.frequency, x.annual, x.behind_below,
           x.at_risk_below, x.growth_behind_pp, x.growth_at_risk_pp, x.recover_after,
           x.m, a.to_date, a.own, coalesce(a.rolled_up, false) AS rolled_up, x.rank_group,
           x.relative_to, {ref_cols},
           x.pace[x.m + 1] AS pace_m, x.q_targets[x.m + 1] AS q_target,
           x.pace[x.m + 1 - coalesce(a.own_months,
                                    CASE x.frequency WHEN 'quarterly' THEN 3 ELSE 1 END)]
               AS pace_prev,
           x.pace[(x.m + 2) // 3 * 3 - 2] AS pace_qs,  -- the previous quarter's end
           CASE WHEN x.m <= 3 THEN 0 ELSE aq.to_date END AS to_date_qs
    FROM x
    LEFT JOIN actuals a
      ON a.indicator = x.indicator AND a.region = x.region AND a.year = x.year
     AND a.month = x.m
    LEFT JOIN actuals aq
      ON aq.indicator = x.indicator AND aq.region = x.region AND aq.year = x.year
     AND aq.month = (x.m + 2) // 3 * 3 - 3
    {ref_join}
)
SELECT target_id, m, kind, direction, behind_below, at_risk_below, growth_behind_pp,
       growth_at_risk_pp, recover_after, rolled_up, rank_group,
       to_date AS y_actual,
       CASE WHEN relative_to IS NOT NULL THEN pace_m + ref_to_date
            WHEN kind = 'growth' THEN annual ELSE pace_m END AS y_pace,
       CASE WHEN kind = 'flow' THEN to_date - to_date_qs
            WHEN kind = 'growth' AND frequency = 'quarterly' THEN own
            ELSE to_date END AS q_actual,
       CASE WHEN relative_to IS NOT NULL THEN ref_q
            WHEN kind = 'growth' THEN q_target WHEN kind = 'flow' THEN pace_m - pace_qs
            ELSE pace_m END AS q_pace,
       CASE WHEN relative_to IS NOT NULL THEN ref_q
            WHEN kind = 'flow' THEN q_target - pace_qs ELSE q_target END AS q_target,
       frequency = 'monthly' AS has_month,
       annual IS NOT NULL OR relative_to IS NOT NULL AS has_year,
       CASE WHEN frequency = 'monthly' THEN own END AS m_actual,
       CASE WHEN relative_to IS NOT NULL THEN pace_m + ref_own
            WHEN kind = 'flow' THEN pace_m - pace_prev ELSE pace_m END AS m_pace
FROM (SELECT *, pace_m + CASE frequency WHEN 'quarterly' THEN ref_own ELSE ref_to_date END
                AS ref_q FROM b)
"""

# A target relative to another region (growth only) is paced by that region's published
# rate for the same period plus the margin (the curve holds the margin): the year and
# quarter by its rate to date (a quarterly series' quarter by its own), the month by its own.
REFERENCE = (
    "ar.to_date AS ref_to_date, ar.own AS ref_own",
    """LEFT JOIN actuals ar
      ON ar.indicator = x.indicator AND ar.region = x.relative_to AND ar.year = x.year
     AND ar.month = x.m""",
)
NO_REFERENCE = ("NULL::DOUBLE AS ref_to_date, NULL::DOUBLE AS ref_own", "")

# Figures are compared at the precision they are shown in (attainment to 0.1 %, gaps to
# 0.01 pp or 0.01 units), so that the last bit of a division never changes a colour.
# Nothing due (pace ≤ 0) has no ratio: then only falling short of the pace (a ceiling
# of zero exceeded) is behind. Without an actual or a pace there is nothing to judge.
SEVERITY = """
CASE WHEN {h}_actual IS NULL OR {h}_pace IS NULL THEN 0
     WHEN kind = 'growth' THEN
          CASE WHEN round({h}_gap, 2) < growth_behind_pp THEN 3
               WHEN round({h}_gap, 2) < growth_at_risk_pp THEN 2 ELSE 1 END
     WHEN {h}_attainment IS NULL THEN CASE WHEN round({h}_gap, 2) < 0 THEN 3 ELSE 1 END
     WHEN round({h}_attainment, 3) < behind_below THEN 3
     WHEN round({h}_attainment, 3) < at_risk_below THEN 2 ELSE 1 END AS {h}_raw"""

# Hysteresis: an on-pace period within `recover_after` periods of a red one stays yellow.
HYSTERESIS = """
CASE WHEN {h}_raw = 1 AND recover_after > 0
      AND seq - max(CASE WHEN {h}_raw = 3 THEN seq END) OVER (
              PARTITION BY target_id ORDER BY seq
              ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) <= recover_after
     THEN 2 ELSE {h}_raw END AS {h}_own"""

# The cascade: a month behind makes its quarter at least at risk, a quarter behind its
# year. Each horizon is stored as computed, in one small code per horizon (see
# CODE), one row per target and as-of month; the view progress_checks turns the
# horizons into rows and the codes into words.
STORE = """
INSERT INTO check_results
WITH base AS ({base}),
g AS (SELECT *, {gaps} FROM base),
r AS (SELECT *, {severities} FROM g),
o AS (SELECT *, {own} FROM {rows}),
c AS (SELECT *, greatest(q_own, CASE WHEN m_own = 3 THEN 2 ELSE 0 END) AS q_sev FROM o),
y AS (SELECT *, greatest(y_own, CASE WHEN q_sev = 3 THEN 2 ELSE 0 END) AS y_sev FROM c)
SELECT target_id, m, rolled_up,
       y_actual, y_pace, CASE WHEN has_year THEN {y_code} END, {y_rank},
       q_actual, q_pace, q_target, {q_code}, {q_rank},
       m_actual, m_pace, CASE WHEN has_month THEN {m_code} END, {m_rank}
FROM y
"""
# raw severity + 4 × severity after hysteresis and cascade + 16 if the cascade raised it
CODE = "{h}_raw + 4 * {h}_sev + 16 * CAST({h}_sev > {h}_own AS INTEGER)"

# Per target: the newest month of its year's data and whether January and February came
# as one release, when the series' next figure is due and the month it leaves late, if
# any, and the group it is ranked in (indicator, parent region, year; none for regions
# without a parent).
FACTS = """
CREATE OR REPLACE TEMP TABLE facts AS
WITH spans AS (
    SELECT indicator, region, year, max(month) AS max_m,
           bool_or(month = 2 AND own_months = 2) AS jan_feb
    FROM actuals GROUP BY ALL
),
per_series AS (
    SELECT indicator, region, max(year * 100 + max_m) AS ym,
           arg_max(coalesce(jan_feb, false), year) AS jan_feb_last
    FROM spans GROUP BY ALL
),
t AS (
    SELECT t.target_id, t.indicator, t.region, t.year,
           CASE t.frequency WHEN 'quarterly' THEN 3 ELSE 1 END AS step,
           CASE WHEN g.parent IS NOT NULL
                THEN dense_rank() OVER (ORDER BY t.indicator, g.parent, t.year) END AS rank_group
    FROM targets_t t LEFT JOIN regions g ON g.id = t.region
),
d AS (
    SELECT t.*, s.max_m, s.jan_feb, p.ym,
           CASE WHEN t.step = 1 AND p.jan_feb_last THEN 2 ELSE t.step END AS first_m,
           {due} AS due
    FROM t LEFT JOIN per_series p USING (indicator, region)
    LEFT JOIN spans s USING (indicator, region, year)
)
SELECT target_id, rank_group, max_m, jan_feb, {stale} AS stale_m, ym, due FROM d
"""
# When a target's next figure is due: the end of the period after the series' newest
# month (yyyymm, any year) plus the release lag, when that month falls in the target's
# year; the end of the year's first period plus the lag after December and when the year
# has no figure yet (a series that never reported is late too). A series whose latest
# year came with January and February as one release awaits February's end (first_m).
# A year the series has moved past awaits nothing. Staleness is only ever read from this
# day (STALE), so the two cannot disagree.
DUE = """CASE WHEN {ym} // 100 = {year} AND {ym} % 100 + {step} <= 12
          THEN last_day(make_date({year}, {ym} % 100 + {step}, 1))
          WHEN {ym} // 100 = {year} THEN last_day(make_date({year} + 1, {first}, 1))
          WHEN coalesce({ym} // 100 < {year}, true)
          THEN last_day(make_date({year}, {first}, 1)) END
     + to_days(CASE {step} WHEN 3 THEN $lag_q ELSE $lag_m END)"""
# A target is stale from the day after its next figure was due; the month marked is its
# newest check's: the series' newest month, or the year's first period checked as no_data.
STALE = """CASE WHEN $today > {due}
    THEN CASE WHEN {ym} // 100 = {year} THEN {ym} % 100 ELSE {step} END END"""
# A new day re-judges the staleness of the targets a refresh does not recompute (their
# due day stands: a change of the lags recomputes every target).
RESTALE = "UPDATE check_targets SET stale_month = " + STALE.format(
    due="release_due", ym="series_latest", year="year", step="step"
)

# Regions are ranked within their parent by attainment (the monthly ranking of units).
RANK = """CASE WHEN rank_group IS NOT NULL THEN rank() OVER (
    PARTITION BY rank_group, m ORDER BY {h}_attainment DESC NULLS LAST) END"""

CLEAR = ("DELETE FROM check_results", "DELETE FROM check_targets")
TARGETS = """
INSERT INTO check_targets
SELECT target_id, indicator, region, year, pacing, kind, direction,
       CASE frequency WHEN 'quarterly' THEN 3 ELSE 1 END, annual, f.stale_m, now(), owner,
       f.max_m, f.ym, f.due
FROM targets_t LEFT JOIN facts f USING (target_id)
"""
# Only the targets recomputed (those in targets_t) are replaced.
CLEAR_SOME = (
    "DELETE FROM check_results WHERE target_id IN (SELECT target_id FROM targets_t)",
    "DELETE FROM check_targets WHERE target_id IN (SELECT target_id FROM targets_t)",
)
TABLES = ("facts",)


def prepare_checks(
    con: duckdb.DuckDBPyConnection, today: date, lag_monthly: int, lag_quarterly: int
) -> tuple[str, str]:
    """From temp tables actuals, targets_t and curves build what the checks read, and
    return the two statements that compute and store them (run them in a transaction)."""
    cols = {"ym": "ym", "year": "year", "step": "step"}
    due = DUE.format(first="first_m", **cols)
    facts = FACTS.format(due=due, stale=STALE.format(due="due", **cols))
    con.execute(facts, {"today": today, "lag_m": lag_monthly, "lag_q": lag_quarterly})
    # Windows cost a sort of all rows: run them only when some target needs them.
    row = con.execute(
        "SELECT bool_or(recover_after > 0), bool_or(f.rank_group IS NOT NULL), "
        "bool_or(relative_to IS NOT NULL) FROM targets_t JOIN facts f USING (target_id)"
    ).fetchall()[0]
    hysteresis, ranked = bool(row[0]), bool(row[1])
    ref_cols, ref_join = REFERENCE if row[2] else NO_REFERENCE
    fields = {f"{h}_rank": RANK.format(h=h) if ranked else "NULL" for h in HORIZONS}
    fields.update({f"{h}_code": CODE.format(h=h) for h in ("y", "q")})
    fields["m_code"] = "m_raw + 4 * m_own"  # nothing raises a month
    store = STORE.format(
        base=BASE.format(ref_cols=ref_cols, ref_join=ref_join),
        gaps=", ".join(
            f"check_gap(direction, {h}_actual, {h}_pace) AS {h}_gap, "
            f"check_attainment(kind, direction, {h}_actual, {h}_pace) AS {h}_attainment"
            for h in HORIZONS
        ),
        severities=", ".join(SEVERITY.format(h=h) for h in HORIZONS),
        own=", ".join(
            HYSTERESIS.format(h=h) if hysteresis else f"{h}_raw AS {h}_own" for h in HORIZONS
        ),
        rows=(
            "(SELECT *, row_number() OVER (PARTITION BY target_id ORDER BY m) AS seq FROM r)"
            if hysteresis
            else "r"
        ),
        **fields,
    )
    return TARGETS, store


def drop_check_tables(con: duckdb.DuckDBPyConnection) -> None:
    for table in TABLES:
        con.execute(f"DROP TABLE IF EXISTS temp.{table}")
