"""The GDP nowcast on a real store: the ragged edge, Jan–Feb releases, vintages, the
fallback, the news, and the quarter check that reads it."""

from __future__ import annotations

import json
import re
import subprocess
import textwrap
from datetime import date, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from grafana_foundation_sdk.models.dashboard import Dashboard
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest

from exporters.nowcast_metrics import NowcastCollector, read_nowcast_data
from forecasts.nowcast_data import OBS_COLUMNS, SeriesSpec, build_panel
from forecasts.nowcast_stage import load_panel, nowcast_one, run_nowcasts
from forecasts.schema import NowcastSettings
from ingest.errors import ConfigError
from kpiwatch import app, generated
from kpiwatch.config import Config, load_config
from tests.checks_helpers import CONFIG
from tests.service_helpers import KPIWATCH

INDICATORS = """
[[indicators]]
id = "output_growth"
name = "工业增加值增速"
unit = "%"
kind = "growth"
[[indicators]]
id = "sales_growth"
name = "零售额增速"
unit = "%"
kind = "growth"
[[indicators]]
id = "rate"
name = "政策利率"
unit = "%"
kind = "growth"

[[targets]]
indicator = "gdp_growth"
region = "CN"
year = 2020
annual = 6.0
"""
NOWCAST = """
[[nowcasts]]
target = "gdp_growth"
region = "CN"
start = "2014-01"
maxiter = 500
monthly = [
  { indicator = "output_growth", transform = "yoy", release_lag_days = 15 },
  { indicator = "sales_growth", transform = "ytd_yoy", release_lag_days = 15 },
]
"""
FIRST_KNOWN = datetime(2020, 5, 1)
SECOND_KNOWN = datetime(2020, 6, 1)


def _history() -> tuple[list[str], list[str]]:
    """Two vintages of a small economy driven by one factor, 2014-01 to 2020-05.

    Output growth is monthly with Jan–Feb released together; sales growth is 1–N月
    cumulative (the combined Jan–Feb figure keyed by February). The first vintage ends
    with output in April and sales in March (a ragged edge); the second revises March
    output and adds May output and April sales.
    """
    rng = np.random.default_rng(7)
    months = pd.period_range("2014-01", "2020-05", freq="M")
    factor = np.cumsum(rng.normal(0, 0.3, len(months))) * 0.5 + 7
    output = pd.Series(factor * 1.2 + rng.normal(0, 0.2, len(months)), index=months).round(2)
    sales = pd.Series(factor + 2 + rng.normal(0, 0.2, len(months)), index=months)
    first, second = [], []
    for p, v in output.items():
        assert isinstance(p, pd.Period)
        text = f"{p.year}年1-2月" if p.month == 2 else f"{p.year}-{p.month:02d}"
        row = f"{text},CN,output_growth,yoy_pct,{v}"
        if p.month != 1:
            (first if p < pd.Period("2020-05") else second).append(row)
    march = f"2020-03,CN,output_growth,yoy_pct,{output[pd.Period('2020-03')]}"
    first.remove(march)
    first.append("2020-03,CN,output_growth,yoy_pct,-1.0")  # revised in the second vintage
    second.append(march)
    for year in range(2014, 2021):
        own = sales[str(year)]
        for m in range(2, 13):
            if pd.Period(f"{year}-{m:02d}") > pd.Period("2020-04"):
                break
            ytd = round(float(own.iloc[:m].mean()), 3)
            text = f"{year}年1-2月" if m == 2 else f"{year}-{m:02d}"
            row = f"{text},CN,sales_growth,ytd_yoy_pct,{ytd}"
            (first if pd.Period(f"{year}-{m:02d}") < pd.Period("2020-04") else second).append(row)
    for q in pd.period_range("2014Q1", "2020Q1", freq="Q"):
        gdp = float(np.mean(factor[months.asfreq("Q") == q])) * 0.8 + 0.5
        first.append(f"{q},CN,gdp_growth,yoy_pct,{gdp:.2f}")
    first += [f"{p},CN,rate,yoy_pct,2.0" for p in months[:-2]]  # never moves
    return first, second


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Config:
    """A store with both vintages, refreshed on two dates (each nowcasts what it knew)."""
    tmp = tmp_path_factory.mktemp("nowcast")
    config_text = CONFIG.replace('path = "data.csv"', 'path = "vintage_*.csv"')
    (tmp / "config.toml").write_text(
        '[store]\npath = "store.duckdb"\n' + config_text + INDICATORS + NOWCAST, "utf-8"
    )
    config = load_config(tmp / "config.toml")
    header = "period,region,indicator,measure,value\n"
    for i, (rows, known) in enumerate(zip(_history(), (FIRST_KNOWN, SECOND_KNOWN), strict=True)):
        path = tmp / f"vintage_{i}.csv"
        path.write_text(header + "\n".join(rows) + "\n", encoding="utf-8")
        outcomes = app.ingest(config, [path], known_from=known)
        assert all(o.error is None for o in outcomes), [str(o.error) for o in outcomes]
    app.refresh(config, date(2020, 5, 20))
    app.refresh(config, date(2020, 6, 20))
    return config


def _con(config: Config) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(config.store_path), read_only=True)


def _plain(config: Config) -> NowcastSettings:
    """The nowcast's settings with each month's own figure (no average over months)."""
    return config.nowcasts[0].model_copy(update={"window": 1})


def test_ragged_edge_and_release_lags(store: Config) -> None:
    with _con(store) as con:
        panel = load_panel(con, _plain(store), date(2020, 5, 20)).monthly
        early = load_panel(con, _plain(store), date(2020, 5, 14)).monthly
    # output's April is out on 15 May, sales end in March: each ends where its data do
    assert panel["output_growth"].last_valid_index() == pd.Period("2020-04", freq="M")
    assert panel["sales_growth"].last_valid_index() == pd.Period("2020-03", freq="M")
    assert early["output_growth"].last_valid_index() == pd.Period("2020-03", freq="M")


def test_a_jan_feb_release_stands_for_both_months(store: Config) -> None:
    specs = [
        SeriesSpec(m.indicator, m.indicator, m.transform, m.release_lag_days)
        for m in store.nowcasts[0].monthly
    ]
    with _con(store) as con:
        obs = con.execute(f"SELECT {', '.join(OBS_COLUMNS)} FROM observations_latest").df()
        combined = con.execute(
            "SELECT value FROM observations WHERE indicator = 'output_growth' "
            "AND period = '2020-01/02'"
        ).fetchone()
    start = pd.Period("2014-01", freq="M")
    before = build_panel(obs, specs, "gdp_growth", 17, date(2020, 3, 14), start, 1).monthly
    after = build_panel(obs, specs, "gdp_growth", 17, date(2020, 3, 16), start, 1).monthly
    assert combined is not None
    jan, feb = pd.Period("2020-01", freq="M"), pd.Period("2020-02", freq="M")
    # not known before its release (29 Feb + 15 days), then both months carry it
    assert before["output_growth"].last_valid_index() == pd.Period("2019-12", freq="M")
    assert after.loc[jan, "output_growth"] == after.loc[feb, "output_growth"] == combined[0]
    # 1–N月 cumulative: March's own = 3·ytd(Mar) − 2·ytd(Jan–Feb); Jan–Feb spans both
    s, ytd = after["sales_growth"], _ytd(obs, "sales_growth")
    assert s[jan] == s[feb] == ytd[feb] and pd.isna(s[feb + 1])
    march = pd.Period("2019-03", freq="M")
    assert s[march] == pytest.approx(3 * ytd[march] - 2 * ytd[march - 1])


def _ytd(obs: pd.DataFrame, indicator: str) -> pd.Series:
    rows = obs[(obs["indicator"] == indicator) & (obs["measure"] == "ytd_yoy_pct")]
    index = pd.PeriodIndex(pd.to_datetime(rows["period_end"]), freq="M")
    return pd.Series(rows["value"].to_numpy(), index=index)


def test_as_of_uses_only_the_vintages_known_then(store: Config) -> None:
    march = pd.Period("2020-03", freq="M")
    with _con(store) as con:
        then = load_panel(con, _plain(store), date(2020, 5, 31)).monthly
        now = load_panel(con, _plain(store), date(2020, 6, 20)).monthly
        stored = con.execute(
            "SELECT as_of, point FROM nowcasts WHERE quarter = '2020Q2' ORDER BY as_of"
        ).fetchall()
    assert then.loc[march, "output_growth"] == -1.0  # the first vintage
    assert now.loc[march, "output_growth"] != -1.0  # revised on 1 June
    assert then["output_growth"].last_valid_index() == pd.Period("2020-04", freq="M")
    # the first refresh's nowcast was made from the first vintage only, and kept
    assert [r[0] for r in stored] == [date(2020, 5, 20), date(2020, 6, 20)]
    with _con(store) as con:
        again, _ = nowcast_one(con, store.nowcasts[0], date(2020, 5, 20))
    assert again[0].point == pytest.approx(stored[0][1])


def test_nowcasts_news_and_the_quarter_check(store: Config) -> None:
    with _con(store) as con:
        rows = con.execute(
            "SELECT quarter, lower95, lower80, point, upper80, upper95, p_meet, model, "
            "fallback_reason FROM nowcasts WHERE latest ORDER BY quarter"
        ).fetchall()
        news = con.execute(
            "SELECT release, series, surprise, weight, impact, summary FROM nowcast_news"
        ).fetchall()
        reason = con.execute(
            "SELECT reason FROM progress WHERE indicator = 'gdp_growth' AND region = 'CN' "
            "AND horizon = 'quarter'"
        ).fetchall()
    assert [r[0] for r in rows] == ["2020Q2", "2020Q3"]
    for _, lo95, lo80, point, hi80, hi95, p_meet, model, why in rows:
        assert lo95 < lo80 < point < hi80 < hi95 and 0 <= p_meet <= 1
        assert (model, why) == ("dfm", None)
    # the second date's releases moved the Q2 nowcast: May output, April sales, and the
    # revision of March output
    released = {(r[0], r[1]) for r in news}
    assert ("2020-05", "output_growth") in released and ("2020-04", "sales_growth") in released
    for *_, surprise, weight, impact, summary in news:
        assert impact == pytest.approx(surprise * weight, abs=1e-6)
        assert "nowcast by" in summary
    assert any("nowcast of 2020Q2 from the monthly releases" in r[0] for r in reason)
    assert any(re.search(r"\d\.\d% likely to meet its target", r[0]) for r in reason)


def test_a_fit_that_cannot_be_made_falls_back_labelled(store: Config) -> None:
    settings = store.nowcasts[0]
    flat = settings.model_copy(
        update={"monthly": (settings.monthly[0].model_copy(update={"indicator": "rate"}),)}
    )
    short = settings.model_copy(update={"maxiter": 2})
    with _con(store) as con:
        constant, _ = nowcast_one(con, flat, date(2020, 5, 20))
        stopped, _ = nowcast_one(con, short, date(2020, 5, 20))
    assert constant[0].reason == "constant indicator(s): rate"
    assert stopped[0].reason == "EM did not converge in 2 iterations"
    for cast in constant + stopped:
        assert cast.model != "dfm" and cast.sd > 0 and np.isfinite(cast.point)


def test_config_names_what_is_wrong(tmp_path: Path) -> None:
    bad = NOWCAST.replace('target = "gdp_growth"', 'target = "output_growth"').replace(
        '"sales_growth"', '"sale_growth"'
    )
    (tmp_path / "config.toml").write_text(
        CONFIG + INDICATORS + textwrap.dedent(bad), encoding="utf-8"
    )
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / "config.toml")
    text = str(err.value)
    assert "nowcasts[target=output_growth, region=CN].target" in text
    assert "nowcasts[target=output_growth, region=CN].monthly[1].indicator" in text


def test_the_metrics_read_from_the_store(store: Config) -> None:
    con = duckdb.connect(str(store.store_path), read_only=True)
    try:
        data = read_nowcast_data(con)
    finally:
        con.close()
    assert [(r.quarter, r.fallback) for r in data.rows] == [("2020Q2", False), ("2020Q3", False)]
    assert {s for _, _, s, _ in data.news} == {"output_growth", "sales_growth"}


def test_the_dashboard_reads_what_the_metrics_export(store: Config) -> None:
    board = json.loads(generated.dashboard_files(store)["kpiwatch-nowcast.json"])
    assert Dashboard.from_json(board).uid == "kpiwatch-nowcast"
    with _con(store) as con:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(NowcastCollector(read_nowcast_data(con)))
    exported = {
        line.split("{")[0] for line in generate_latest(registry).decode().splitlines() if line
    }
    exprs = [t["expr"] for p in board["panels"] for t in p["targets"]]
    used = {m for e in exprs for m in re.findall(r"kpiwatch_kpi_nowcast_\w+", e)}
    assert used and used <= exported
    assert [p["type"] for p in board["panels"]] == ["timeseries", "stat", "bargauge"]


def test_a_refresh_without_new_releases_keeps_the_last_nowcast(store: Config) -> None:
    # nothing is released between 20 and 21 June: no new fit, no new row
    with duckdb.connect(str(store.store_path)) as con:
        done = run_nowcasts(con, store.nowcasts, store.targets, store.forecasts, date(2020, 6, 21))
        dates = con.execute("SELECT DISTINCT as_of FROM nowcast_results ORDER BY 1").fetchall()
    assert (done.reused, done.failures) == (1, 0)
    assert [d[0] for d in dates] == [date(2020, 5, 20), date(2020, 6, 20)]


def test_status_lists_the_nowcasts_and_the_news(store: Config) -> None:
    config = str(store.base_dir / "config.toml")
    done = subprocess.run(
        [KPIWATCH, "--config", config, "status", "--region", "CN"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "nowcasts from the monthly releases" in done.stdout
    assert "2020Q2 (as of 2020-06-20)" in done.stdout and "dfm" in done.stdout
    assert "news: " in done.stdout and "moved the 2020Q2 nowcast by" in done.stdout
