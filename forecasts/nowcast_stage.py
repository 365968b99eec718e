"""The nowcasts stage: estimate each [[nowcasts]] model on the store's data as known on a
date, store the open quarters' nowcasts and the news since the last one, and hand the
quarter's nowcast to the growth check before its figure is published."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

import duckdb
import pandas as pd

from forecasts import nowcast as nowcast_module
from forecasts import nowcast_data
from forecasts.engine import TooShort
from forecasts.jobs import METHOD
from forecasts.nowcast import FactorNowcaster, News, Nowcast, NowcastFailed, nowcast
from forecasts.nowcast_data import OBS_COLUMNS, Panel, SeriesSpec, build_panel
from forecasts.schema import ForecastSettings, NowcastSettings
from ingest.fingerprint import source_digest
from ingest.mapping import register
from ingest.store import transaction
from metrics.schema import Target

log = logging.getLogger(__name__)
NOWCAST_COLUMNS = [
    "indicator", "region", "as_of", "quarter", "target", "point", "sd", "lower80",
    "upper80", "lower95", "upper95", "p_meet", "expected_shortfall", "model", "reason",
    "input_hash",
]  # fmt: skip
NEWS_COLUMNS = [
    "indicator", "region", "as_of", "previous_as_of", "quarter", "release", "series",
    "surprise", "weight", "impact",
]  # fmt: skip


@dataclass(frozen=True)
class NowcastReport:
    """What one run of the nowcasts stage did."""

    nowcasts: int  # models run
    fallbacks: int  # of them, answered by the univariate forecast
    failures: int  # of them, with no answer at all (too little data even for that)
    news: int  # rows of news stored
    reused: int = 0  # of them, unchanged inputs: the last nowcast stands


def run_nowcasts(
    con: duckdb.DuckDBPyConnection,
    nowcasts: Sequence[NowcastSettings],
    targets: Sequence[Target],
    forecasts: ForecastSettings,
    as_of: date,
) -> NowcastReport:
    """Nowcast every configured target as of a date; one failing model stops no other."""
    fallbacks = failures = news = reused = 0
    for settings in nowcasts:
        goals = _quarter_targets(settings, targets)
        try:
            panel = load_panel(con, settings, as_of)
            digest = input_hash(settings, panel)
            casts = _unchanged(con, settings, digest)
            if casts is not None:  # the same releases as last time: the same nowcast
                reused += 1
            else:
                previous = _previous_as_of(con, settings, as_of)
                casts, news_rows = nowcast_one(con, settings, as_of, previous, panel)
                rows = [_row(settings, as_of, c, goals.get(c.quarter), digest) for c in casts]
                _store(con, settings, as_of, rows, news_rows)
                news += len(news_rows)
        except (TooShort, NowcastFailed):
            failures += 1
            continue
        except Exception as exc:  # one nowcast's fault never stops the refresh
            log.warning("nowcast %s failed: %s: %s", settings.key, type(exc).__name__, exc)
            failures += 1
            continue
        fallbacks += any(c.reason for c in casts)
        _hand_to_checks(con, settings, casts, goals, forecasts)
    return NowcastReport(len(nowcasts), fallbacks, failures, news, reused)


def input_hash(settings: NowcastSettings, panel: Panel) -> str:
    """What a nowcast depends on: the settings, the panel, the code and statsmodels."""
    digest = hashlib.sha1(source_digest([nowcast_module, nowcast_data], seed=METHOD).encode())
    digest.update(settings.model_dump_json().encode())
    digest.update(panel.monthly.to_csv().encode())
    digest.update(panel.quarterly.to_csv().encode())
    return digest.hexdigest()


def _unchanged(
    con: duckdb.DuckDBPyConnection, settings: NowcastSettings, digest: str
) -> list[Nowcast] | None:
    """The latest stored nowcasts when they were made from the same inputs."""
    rows = con.execute(
        "SELECT quarter, point, sd, model, reason, input_hash FROM nowcast_results "
        "WHERE indicator = ? AND region = ? QUALIFY as_of = max(as_of) OVER () "
        "ORDER BY quarter",
        [settings.target, settings.region],
    ).fetchall()
    if not rows or any(r[5] != digest for r in rows):
        return None
    return [Nowcast(str(q), float(p), float(sd), str(m), str(why)) for q, p, sd, m, why, _ in rows]


def nowcast_one(
    con: duckdb.DuckDBPyConnection,
    settings: NowcastSettings,
    as_of: date,
    previous: date | None = None,
    panel: Panel | None = None,
) -> tuple[list[Nowcast], list[tuple[object, ...]]]:
    """The open quarters' nowcasts as of a date, and the news since `previous`."""
    panel = panel or load_panel(con, settings, as_of)
    quarters = open_quarters(panel)
    model = FactorNowcaster(settings.factors, settings.factor_order, settings.maxiter)
    casts, fitted = nowcast(panel, quarters, model)
    if fitted is None or previous is None:
        return casts, []
    first = quarters[0]
    try:
        moved = fitted.news(load_panel(con, settings, previous), first)
    except NowcastFailed:
        moved = []
    return casts, [_news_row(settings, as_of, previous, str(first), n) for n in moved]


# The vintages known at the cut-off (what did we know then?): a store filled later than
# the date asked about knew nothing then. The release lags decide what was out by then.
OBS_SQL = f"""
SELECT {", ".join(OBS_COLUMNS)} FROM observations_as_of($known)
WHERE region = $region AND list_contains($names, indicator)
"""


def load_panel(con: duckdb.DuckDBPyConnection, settings: NowcastSettings, as_of: date) -> Panel:
    """The model's panel as known at the end of `as_of`."""
    names = [settings.target, *(m.indicator for m in settings.monthly)]
    known = datetime.combine(as_of, time.max)
    params = {"region": settings.region, "names": names, "known": known}
    obs = con.execute(OBS_SQL, params).df()
    specs = [
        SeriesSpec(m.indicator, m.indicator, m.transform, m.release_lag_days, settings.region)
        for m in settings.monthly
    ]
    start = pd.Period(settings.start, freq="M")
    lag = settings.release_lag_days
    return build_panel(obs, specs, settings.target, lag, as_of, start, settings.window)


def open_quarters(panel: Panel) -> list[pd.Period]:
    """From the first quarter not yet published to the one after the latest month with
    data (a store whose releases stopped long ago is not nowcast up to today)."""
    published = panel.quarterly.iloc[:, 0].dropna()
    if published.empty:
        raise TooShort("no published figure of the target")
    first = published.index.max() + 1
    months = panel.monthly.dropna(how="all").index
    latest = months.max().asfreq("Q") if len(months) else first
    return list(pd.period_range(first, max(first, latest + 1), freq="Q"))


def _previous_as_of(
    con: duckdb.DuckDBPyConnection, settings: NowcastSettings, as_of: date
) -> date | None:
    rows = con.execute(
        "SELECT max(as_of) FROM nowcast_results WHERE indicator = ? AND region = ? "
        "AND as_of < ? AND reason = ''",
        [settings.target, settings.region, as_of],
    ).fetchall()
    return rows[0][0] if rows else None


def _quarter_targets(settings: NowcastSettings, targets: Sequence[Target]) -> dict[str, float]:
    """Each year's quarter targets of the nowcast's indicator: its own, else the year's."""
    out = {}
    for t in targets:
        if t.indicator == settings.target and t.region == settings.region:
            given = {str(k): v for k, v in t.quarters.items()}
            for q in range(1, 5):
                value = given.get(f"Q{q}", t.annual)
                if value is not None:
                    out[f"{t.year}Q{q}"] = float(value)
    return out


def _row(
    s: NowcastSettings, as_of: date, c: Nowcast, goal: float | None, digest: str
) -> tuple[object, ...]:
    lo80, hi80 = c.bounds(0.8)
    lo95, hi95 = c.bounds(0.95)
    p_meet = None if goal is None else c.p_meet(goal)
    short = None if goal is None else c.expected_shortfall(goal)
    return (s.target, s.region, as_of, c.quarter, goal, c.point, c.sd, lo80, hi80, lo95, hi95,
            p_meet, short, c.model, c.reason, digest)  # fmt: skip


def _news_row(
    s: NowcastSettings, as_of: date, previous: date, quarter: str, n: News
) -> tuple[object, ...]:
    return (s.target, s.region, as_of, previous, quarter, n.release, n.indicator, n.surprise,
            n.weight, n.impact)  # fmt: skip


def _store(
    con: duckdb.DuckDBPyConnection,
    s: NowcastSettings,
    as_of: date,
    rows: list[tuple[object, ...]],
    news: list[tuple[object, ...]],
) -> None:
    """Replace what was made for the same date; earlier dates stay as the nowcast's path."""
    register(con, "_nowcasts", pd.DataFrame(rows, columns=NOWCAST_COLUMNS))
    register(con, "_news", pd.DataFrame(news, columns=NEWS_COLUMNS))
    key = [s.target, s.region, as_of]
    try:
        with transaction(con):
            for table in ("nowcast_results", "nowcast_news_rows"):
                con.execute(
                    f"DELETE FROM {table} WHERE indicator = ? AND region = ? AND as_of = ?", key
                )
            con.execute("INSERT INTO nowcast_results SELECT *, now() FROM _nowcasts")
            con.execute("INSERT INTO nowcast_news_rows SELECT * FROM _news")
    finally:
        con.execute("DROP TABLE IF EXISTS temp._nowcasts")
        con.execute("DROP TABLE IF EXISTS temp._news")


def _hand_to_checks(
    con: duckdb.DuckDBPyConnection,
    s: NowcastSettings,
    casts: list[Nowcast],
    goals: dict[str, float],
    forecasts: ForecastSettings,
) -> None:
    """The quarter horizon of the target's forecast becomes the nowcast of that quarter:
    the growth check then reads it before the quarter's figure is published."""
    for c in casts:
        goal = goals.get(c.quarter)
        if goal is None or c.reason:
            continue
        p = c.p_meet(goal)
        status = (
            "behind" if p < forecasts.behind_below
            else "at_risk" if p < forecasts.at_risk_below else "on_track"
        )  # fmt: skip
        (lo80, hi80), (lo95, hi95) = c.bounds(0.8), c.bounds(0.95)
        year, q = int(c.quarter[:4]), int(c.quarter[-1])
        con.execute(
            "UPDATE forecast_results SET target = ?, point = ?, lower80 = ?, upper80 = ?, "
            "lower95 = ?, upper95 = ?, p_meet = ?, expected_shortfall = ?, "
            "forecast_status = ?, model = 'nowcast', note = ? "
            "WHERE indicator = ? AND region = ? AND year = ? AND horizon = 'quarter' "
            "AND horizon_month = ?",
            [goal, c.point, lo80, hi80, lo95, hi95, p, c.expected_shortfall(goal), status,
             f"nowcast from the monthly releases ({c.model})", s.target, s.region, year,
             3 * q],
        )  # fmt: skip
