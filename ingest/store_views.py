"""The analysts' views of the store, (re)created with every migration: the public SQL API."""

from __future__ import annotations

VIEWS = """
-- A check's severity (0..3) in words.
CREATE OR REPLACE MACRO check_status_name(severity) AS
['no_data', 'on_track', 'at_risk', 'behind'][severity + 1];

-- How far a check is from its pace: percentage points for growth rates, the ratio
-- actual ÷ pace otherwise, mirrored for indicators where lower is better.
CREATE OR REPLACE MACRO check_gap(direction, actual, pace) AS
CASE WHEN direction = 'lower' THEN pace - actual ELSE actual - pace END;

CREATE OR REPLACE MACRO check_attainment(kind, direction, actual, pace) AS
CASE WHEN kind = 'growth' THEN check_gap(direction, actual, pace)
     WHEN pace IS NULL OR pace <= 0 THEN NULL
     WHEN direction = 'lower' THEN 2 - actual / pace
     ELSE actual / pace END;

-- What a check has delivered, in words that read right for a target and a ceiling.
CREATE OR REPLACE MACRO progress_done(kind, direction, actual, pace, gap, as_of) AS
CASE WHEN kind = 'growth' THEN printf('%.2f%% against %.2f%% (%+.2f pp)', actual, pace, gap)
     WHEN direction = 'lower' AND pace > 0
     THEN printf('%.2f used of %.2f allowed by %s (%.1f%% of the allowance)',
                 actual, pace, as_of, actual / pace * 100)
     WHEN direction = 'lower' AND round(actual, 2) > round(pace, 2)
     THEN printf('%.2f used, %.2f allowed by %s', actual, pace, as_of)
     WHEN direction = 'lower' THEN printf('%.2f used, within %.2f allowed by %s',
                                          actual, pace, as_of)
     WHEN pace <= 0 THEN printf('%.2f done, nothing due by %s', actual, as_of)
     ELSE printf('%.2f done of %.2f due by %s (%.1f%% of pace)',
                 actual, pace, as_of, actual / pace * 100) END;

-- What the remaining periods must deliver (a target) or may still use (a ceiling).
CREATE OR REPLACE MACRO progress_needed(direction, rate, horizon, target, actual, per,
                                        label) AS
CASE WHEN rate IS NULL THEN NULL
     WHEN direction = 'higher' AND rate > 0
     THEN printf('%.2f a %s needed to reach %.2f by %s', rate, per, target, label)
     WHEN direction = 'higher' THEN printf('%s target of %.2f already reached', horizon, target)
     WHEN rate > 0
     THEN printf('at most %.2f a %s more to stay within %.2f by %s', rate, per, target, label)
     WHEN rate = 0 THEN printf('%s ceiling of %.2f reached: nothing more allowed', horizon, target)
     ELSE printf('%s ceiling of %.2f already exceeded by %.2f', horizon, target, actual - target)
     END;

CREATE OR REPLACE VIEW observation_vintages AS
SELECT s.indicator, s.region, p.period, s.measure, v.value, v.load_id, v.line
FROM vintages v JOIN series s USING (series_id) JOIN periods p USING (pkey);

CREATE OR REPLACE VIEW observations AS
SELECT s.indicator, s.region, p.period, s.measure, v.value,
       p.period_start, p.period_end, p.months, p.freq,
       l.known_from,
       lead(l.known_from) OVER w AS known_until,
       l.source, l.file, v.line, v.load_id
FROM vintages v JOIN series s USING (series_id) JOIN periods p USING (pkey)
JOIN loads l USING (load_id)
WINDOW w AS (PARTITION BY v.series_id, v.pkey ORDER BY l.known_from, v.load_id);

CREATE OR REPLACE VIEW observations_latest AS
SELECT * EXCLUDE (known_until) FROM observations WHERE known_until IS NULL;

CREATE OR REPLACE MACRO observations_as_of(d) AS TABLE
SELECT * EXCLUDE (known_until) FROM observations
WHERE known_from <= CAST(d AS TIMESTAMP)
  AND (known_until IS NULL OR known_until > CAST(d AS TIMESTAMP));

CREATE OR REPLACE VIEW progress_checks AS
WITH h AS (
    SELECT target_id, month, 'year' AS horizon, 12 AS horizon_month, y_actual AS actual,
           y_pace AS pace_target, NULL AS horizon_target, y_code AS code, rolled_up,
           y_rank AS rank_in_parent
    FROM check_results WHERE y_code IS NOT NULL
    UNION ALL
    SELECT target_id, month, 'quarter', (month + 2) // 3 * 3, q_actual, q_pace, q_target,
           q_code, rolled_up, q_rank
    FROM check_results WHERE q_code IS NOT NULL
    UNION ALL  -- a month's target is its pace
    SELECT target_id, month, 'month', month, m_actual, m_pace, m_pace, m_code, rolled_up,
           m_rank
    FROM check_results WHERE m_code IS NOT NULL
),
r AS (
    SELECT h.* EXCLUDE (horizon_target), t.indicator, t.region, t.year, t.pacing, t.kind,
           t.direction, t.stale_month, t.computed_at, t.owner, t.data_month, t.release_due,
           t.step,
           CASE h.horizon WHEN 'year' THEN t.annual ELSE h.horizon_target END
               AS horizon_target,
           (h.horizon_month - h.month) // t.step AS remaining
    FROM h JOIN check_targets t USING (target_id)
)
SELECT indicator, region, year, CAST(month AS INTEGER) AS month, horizon,
       CAST(horizon_month AS INTEGER) AS horizon_month, actual, pace_target, horizon_target,
       check_attainment(kind, direction, actual, pace_target) AS attainment,
       check_gap(direction, actual, pace_target) AS gap,
       CASE WHEN remaining > 0 AND kind <> 'growth'
            THEN (horizon_target - actual) / remaining END AS required_rate,
       CAST(remaining AS INTEGER) AS remaining_periods,
       check_status_name(code % 4) AS raw_status,
       check_status_name(code // 4 % 4) AS status,
       CASE WHEN code >= 16 AND horizon = 'quarter' THEN 'this month is behind its own target'
            WHEN code >= 16 THEN 'the current quarter is behind' END AS cascade_note,
       pacing, rolled_up, coalesce(stale_month = month, false) AS stale, rank_in_parent,
       computed_at, owner, data_month,
       -- on a target's newest check: the day the figure after it is due
       CASE WHEN month = coalesce(data_month, step) THEN release_due END AS release_due
FROM r;

CREATE OR REPLACE VIEW progress AS
WITH p AS (
    SELECT p.* EXCLUDE (status, cascade_note, owner),
           CASE WHEN f.forecast_status = 'behind' AND p.status IN ('on_track', 'at_risk')
                  THEN 'behind'
                WHEN f.forecast_status = 'at_risk' AND p.status = 'on_track' THEN 'at_risk'
                ELSE p.status END AS status,
           concat_ws('; ', p.cascade_note,
                     CASE WHEN f.model = 'nowcast'
                          THEN printf('nowcast of %dQ%d from the monthly releases before '
                                      'its figure: %.1f, %.1f%% likely to meet its target',
                                      f.year, f.horizon_month // 3, f.point, f.p_meet * 100)
                          WHEN f.forecast_status IN ('at_risk', 'behind')
                          THEN printf('forecast: %.1f%% likely to meet the %s target',
                                      f.p_meet * 100, p.horizon) END) AS cascade_note,
           i.name AS indicator_name, i.unit, i.kind, i.direction,
           coalesce(nullif(p.owner, ''), i.owner) AS owner,
           coalesce(i.illustrative, false) AS illustrative,
           r.name AS region_name,
           CASE i.frequency WHEN 'quarterly' THEN 3 ELSE 1 END AS step
    FROM progress_checks p
    LEFT JOIN indicators i ON i.id = p.indicator
    LEFT JOIN regions r ON r.id = p.region
    LEFT JOIN forecast_results f
      ON f.indicator = p.indicator AND f.region = p.region AND f.year = p.year
     AND f.month = p.month AND f.horizon = p.horizon
),
q AS (
    SELECT *,
           CASE step WHEN 3 THEN printf('%dQ%d', year, month // 3)
                ELSE printf('%d-%02d', year, month) END AS as_of,
           CASE step WHEN 3 THEN printf('%dQ%d', year, horizon_month // 3)
                ELSE printf('%d-%02d', year, horizon_month) END AS horizon_label,
           CASE WHEN stale THEN printf('the next release is late (due %s)', release_due)
                END AS late
    FROM p
)
SELECT q.indicator, q.indicator_name, q.unit, q.kind, q.owner, q.region, q.region_name,
       q.year, q.as_of, last_day(make_date(q.year, q.month, 1)) AS as_of_end, q.horizon,
       last_day(make_date(q.year, q.horizon_month, 1)) AS horizon_end,
       q.actual, q.pace_target, q.horizon_target, q.attainment, q.gap, q.required_rate,
       q.remaining_periods, q.status, coalesce(l.label, q.status) AS status_label,
       q.raw_status,
       CASE WHEN q.status = 'no_data' AND q.data_month IS NULL
            THEN concat_ws('; ', printf('no data for %d', q.year), q.late)
            WHEN q.status = 'no_data' THEN concat_ws('; ', 'no data for ' || q.as_of, q.late)
       ELSE concat_ws('; ', progress_done(q.kind, q.direction, q.actual, q.pace_target,
                                          q.gap, q.as_of),
           progress_needed(q.direction, round(q.required_rate, 2), q.horizon,
                           q.horizon_target, q.actual,
                           CASE q.step WHEN 3 THEN 'quarter' ELSE 'month' END,
                           q.horizon_label),
           nullif(q.cascade_note, ''),
           q.late, CASE WHEN q.rolled_up THEN 'summed from sub-regions' END)
       END AS reason,
       q.pacing, q.rolled_up, q.stale, q.rank_in_parent, q.computed_at, q.illustrative,
       q.release_due
FROM q LEFT JOIN status_labels l ON l.status = q.status;

-- Each target's latest check (indicator × region × year), every horizon: where it stands
-- now, without a window function.
CREATE OR REPLACE VIEW progress_latest AS
SELECT p.* FROM progress p
JOIN (SELECT t.indicator, t.region, t.year,
             last_day(make_date(t.year, max(c.month), 1)) AS as_of_end
      FROM check_results c JOIN check_targets t USING (target_id)
      GROUP BY t.indicator, t.region, t.year) l
  ON l.indicator = p.indicator AND l.region = p.region AND l.year = p.year
 AND l.as_of_end = p.as_of_end;

-- The forecasts with names, units and the unit answering for the target, as progress
-- serves the checks; as_of is the last period with data the forecast starts from.
CREATE OR REPLACE VIEW forecasts AS
SELECT f.indicator, i.name AS indicator_name, i.unit, i.kind,
       coalesce(nullif(t.owner, ''), i.owner) AS owner, f.region, r.name AS region_name,
       f.year,
       CASE i.frequency WHEN 'quarterly' THEN printf('%dQ%d', f.year, (f.month + 2) // 3)
            ELSE printf('%d-%02d', f.year, f.month) END AS as_of,
       last_day(make_date(f.year, f.month, 1)) AS as_of_end, f.horizon,
       last_day(make_date(f.year, f.horizon_month, 1)) AS horizon_end,
       f.target AS horizon_target, f.point, f.lower80, f.upper80, f.lower95, f.upper95,
       f.p_meet, f.expected_shortfall, f.forecast_status, f.model, f.backtest_mase,
       f.note AS why, f.computed_at, coalesce(i.illustrative, false) AS illustrative
FROM forecast_results f
LEFT JOIN indicators i ON i.id = f.indicator
LEFT JOIN regions r ON r.id = f.region
LEFT JOIN check_targets t ON t.indicator = f.indicator AND t.region = f.region
 AND t.year = f.year;

-- Each target's forecast from its latest data month (earlier ones stay in forecasts).
CREATE OR REPLACE VIEW forecasts_latest AS
SELECT f.* FROM forecasts f
JOIN (SELECT indicator, region, year,
             last_day(make_date(year, max(month), 1)) AS as_of_end
      FROM forecast_results GROUP BY indicator, region, year) l
  ON l.indicator = f.indicator AND l.region = f.region AND l.year = f.year
 AND l.as_of_end = f.as_of_end;

CREATE OR REPLACE VIEW nowcasts AS
SELECT n.indicator, i.name AS indicator_name, n.region, r.name AS region_name, n.quarter,
       n.as_of, n.as_of = max(n.as_of) OVER (PARTITION BY n.indicator, n.region, n.quarter)
         AS latest,
       n.target, n.point, n.lower80, n.upper80, n.lower95, n.upper95, n.p_meet,
       n.expected_shortfall, n.model, nullif(n.reason, '') AS fallback_reason, n.computed_at
FROM nowcast_results n
LEFT JOIN indicators i ON i.id = n.indicator LEFT JOIN regions r ON r.id = n.region;

CREATE OR REPLACE VIEW nowcast_news AS
SELECT indicator, region, quarter, as_of, previous_as_of, release, series, surprise, weight,
       impact,
       printf('%s %s came in %.2f %s expectation and moved the %s nowcast by %+.2f pp',
              series, release, abs(surprise), CASE WHEN surprise < 0 THEN 'below'
              ELSE 'above' END, quarter, impact) AS summary
FROM nowcast_news_rows;

"""

# A relation shaped like observations_latest ({latest}; {dekads} for its 旬 figures)
# with each 旬 figure rolled up to its month (column from_dekads): a flow's `value` is
# the sum of the month's three 旬, known once all three are; every other figure is the
# month's last 旬's (下旬: a level at the month's end, a year-to-date, a rate as
# published at the month's end). A month some of whose 旬 are missing has no figure of
# that kind: its month is not complete.
MONTH_ROWS = """
SELECT indicator, region, period, measure, value, period_start, period_end, months, freq,
       false AS from_dekads
FROM {latest} WHERE freq <> 'D'
UNION ALL
SELECT o.indicator, o.region, strftime(max(o.period_end), '%Y-%m'), o.measure,
       CASE WHEN i.kind = 'flow' AND o.measure = 'value' THEN sum(o.value)
            ELSE any_value(o.value) FILTER (o.period_end = last_day(o.period_end)) END,
       date_trunc('month', max(o.period_end))::DATE, last_day(max(o.period_end)),
       CAST(1 AS TINYINT), 'M', true
FROM {dekads} o JOIN indicators i ON i.id = o.indicator
WHERE o.freq = 'D'
GROUP BY o.indicator, o.region, o.measure, i.kind, date_trunc('month', o.period_end)
HAVING CASE WHEN i.kind = 'flow' AND o.measure = 'value' THEN count(*) = 3
            ELSE bool_or(o.period_end = last_day(o.period_end)) END
"""

# Each indicator's own value per month, from a relation shaped like observations_latest
# (the view below; the checks' actuals of a few series use it on those series alone).
# `basis` is 'published' for a relation without from_dekads (see MONTH_ROWS).
MONTHLY = """
WITH latest AS (
    SELECT o.*, i.kind FROM {latest} o JOIN indicators i ON i.id = o.indicator
    WHERE o.freq = 'M'
),
published AS (
    SELECT indicator, region, period, period_start, period_end, months, value,
           {basis} AS basis
    FROM latest
    WHERE measure = CASE kind WHEN 'growth' THEN 'yoy_pct' ELSE 'value' END
),
ytd AS (
    SELECT indicator, region, year(period_end) AS year, month(period_end) AS m, value
    FROM latest WHERE kind = 'flow' AND measure = 'ytd'
),
derived AS (
    SELECT a.indicator, a.region, a.year, a.m,
           CASE WHEN a.m = 1 OR p.value IS NOT NULL THEN a.m
                WHEN a.m = 2 THEN 1 END AS first_month,
           CASE WHEN a.m = 1 THEN a.value
                WHEN p.value IS NOT NULL THEN a.value - p.value
                WHEN a.m = 2 THEN a.value END AS value
    FROM ytd a LEFT JOIN ytd p
      ON p.indicator = a.indicator AND p.region = a.region
     AND p.year = a.year AND p.m = a.m - 1
),
from_ytd AS (
    SELECT indicator, region,
           CASE WHEN first_month = 1 AND m = 2
                THEN printf('%d-01/02', year) ELSE printf('%d-%02d', year, m) END AS period,
           make_date(year, coalesce(first_month, m), 1) AS period_start,
           last_day(make_date(year, m, 1)) AS period_end,
           CAST(m - coalesce(first_month, m) + 1 AS TINYINT) AS months,
           value,
           CASE WHEN value IS NULL THEN 'gap' ELSE 'from_ytd' END AS basis
    FROM derived
)
SELECT * FROM published
UNION ALL
SELECT f.* FROM from_ytd f
WHERE NOT EXISTS (
    SELECT 1 FROM published p
    WHERE p.indicator = f.indicator AND p.region = f.region AND p.period_end = f.period_end
)
"""

FROM_DEKADS = "CASE WHEN from_dekads THEN 'from_dekads' ELSE 'published' END"
# The current figure of each 旬 key straight from the vintages (a 旬's period key ends in
# 21..23): the view monthly reads its 旬 here, so that a store without any pays a
# filtered scan of the period keys, not a second pass over every observation.
DEKADS_LATEST = """(
SELECT s.indicator, s.region, p.period, s.measure,
       arg_max(v.value, (l.known_from, v.load_id)) AS value,
       p.period_start, p.period_end, p.months, p.freq
FROM vintages v JOIN series s USING (series_id) JOIN periods p USING (pkey)
JOIN loads l USING (load_id)
WHERE v.pkey % 100 > 20
GROUP BY s.indicator, s.region, p.period, s.measure, p.period_start, p.period_end,
         p.months, p.freq
)"""
VIEWS += (
    "CREATE OR REPLACE VIEW monthly AS"
    + MONTHLY.format(
        latest=f"({MONTH_ROWS.format(latest='observations_latest', dekads=DEKADS_LATEST)})",
        basis=FROM_DEKADS,
    )
    + ";\n"
)
