"""A refresh recomputes only what changed, and stores exactly what a full recompute would."""

from __future__ import annotations

import shutil
import tempfile
import textwrap
import threading
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.store import open_store
from kpiwatch import app, bulletin_board
from kpiwatch.config import Config, load_config
from kpiwatch.service import Service
from metrics.progress import ChecksReport
from tests.checks_helpers import CONFIG

EXTRA = """
[forecasts]
enabled = false

[[regions]]
id = "zone_c"
name = "C区"
parent = "zone_a"

[[indicators]]
id = "fai"
name = "固定资产投资"
unit = "亿元"
kind = "flow"
[[indicators]]
id = "fai_growth"
name = "固定资产投资增速"
unit = "%"
kind = "growth"
levels = "fai"
[[indicators]]
id = "stock"
name = "在建项目"
unit = "个"
kind = "stock"

[indicator_thresholds.energy]
recover_after = 2
"""
TARGETS = {
    ("projects_started", "west_coast"): "annual = {a}\nquarters = {{ Q1 = 257 }}",
    ("projects_started", "zone_a"): 'annual = {a}\npacing = "seasonal"',
    ("projects_started", "zone_b"): "annual = {a}",
    ("projects_started", "zone_c"): "annual = {a}",
    ("energy", "west_coast"): "annual = {a}",
    ("fai", "zone_b"): "annual = {a}\ngrowth = 8.0",
    ("stock", "zone_b"): "annual = {a}",
    ("gdp_growth", "CN"): "annual = {a}",
    ("gdp_growth", "west_coast"): 'relative_to = "CN"\nmargin_pp = 0.5',
}
SERIES = [
    ("projects_started", "zone_b", "value"),
    ("projects_started", "zone_c", "value"),
    ("projects_started", "west_coast", "value"),
    ("energy", "zone_a", "value"),
    ("energy", "zone_b", "value"),
    ("fai", "zone_b", "ytd"),
    ("stock", "zone_b", "value"),
    ("gdp_growth", "CN", "ytd_yoy_pct"),
    ("gdp_growth", "west_coast", "ytd_yoy_pct"),
]


def _config_text(
    annual: dict[tuple[str, str], int], behind_below: float, periods: str = "[1, 2, 3]"
) -> str:
    text = CONFIG + textwrap.dedent(EXTRA) + f"[thresholds]\nbehind_below = {behind_below}\n"
    text += f"[escalation]\nperiods = {periods}\n"
    for (indicator, region), body in TARGETS.items():
        value = annual.get((indicator, region), 600 if indicator != "gdp_growth" else 5)
        for year in (2025, 2026):
            text += (
                f'[[targets]]\nindicator = "{indicator}"\nregion = "{region}"\nyear = {year}\n'
                + body.format(a=value)
                + "\n"
            )
    return text


def _history() -> str:
    rows = ["period,region,indicator,measure,value"]
    for year in (2024, 2025, 2026):
        for m in range(1, 13 if year < 2026 else 7):
            for ind, reg, measure in SERIES:
                value = 40 + m if measure == "value" else 40 * m
                if ind == "gdp_growth" and m % 3 == 0:
                    rows.append(f"{year}Q{m // 3},{reg},{ind},{measure},{4.5 + m / 10}")
                elif ind != "gdp_growth" and (reg, ind, m) != ("zone_b", "projects_started", 4):
                    rows.append(f"{year}-{m:02d},{reg},{ind},{measure},{value}")  # one gap
    return "\n".join(rows) + "\n"


TODAY = date(2026, 7, 20)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with three years of history, refreshed once."""
    folder = tmp_path_factory.mktemp("incremental")
    (folder / "config.toml").write_text(_config_text({}, 0.8), encoding="utf-8")
    (folder / "data.csv").write_text(_history(), encoding="utf-8")
    config = load_config(folder / "config.toml")
    assert all(o.error is None for o in app.ingest(config))
    app.refresh(config, TODAY)
    return folder


def _copy(base: Path) -> Path:
    folder = Path(tempfile.mkdtemp(dir=base.parent))
    for name in ("config.toml", "data.csv", "kpiwatch.duckdb"):
        shutil.copy(base / name, folder / name)
    return folder


# Forecasts are kept for every data month a refresh saw; a store made from scratch has
# those of the latest alone (each target's, per year), which the refreshes must match.
LATEST = "QUALIFY month = max(month) OVER (PARTITION BY indicator, region, year)"


def _tables(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every stored table's rows, sorted, without the moments they were computed at (and
    the latest forecasts alone)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        out = {}
        for (table,) in con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'main' AND table_type = 'BASE TABLE' ORDER BY 1"
        ).fetchall():
            columns = [
                c
                for (c,) in con.execute(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_name = ? AND column_name NOT IN ('computed_at', 'loaded_at') "
                    "ORDER BY ordinal_position",
                    [table],
                ).fetchall()
            ]
            names = ", ".join(f'"{c}"' for c in columns)
            where = LATEST if table == "forecast_results" else ""
            out[table] = con.execute(
                f'SELECT {names} FROM "{table}" {where} ORDER BY ALL'
            ).fetchall()
        return out
    finally:
        con.close()


# The ladder as read: views over the stored tables, judged on the refresh's day.
LADDER = (
    "SELECT * FROM escalation_history",
    "SELECT * FROM progress_escalation",
    "SELECT * FROM escalations_as_of(CAST(? AS DATE))",
)


def _ladder(path: Path, today: date) -> list[list[tuple[object, ...]]]:
    """The ladder's levels and stretches, every row, sorted."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return [
            con.execute(
                f"SELECT COLUMNS(lambda c: c <> 'computed_at') FROM ({sql}) ORDER BY ALL", params
            ).fetchall()
            for sql, params in zip(LADDER, ([], [], [today]), strict=True)
        ]
    finally:
        con.close()


def _refresh(config: Config, today: date, *, full: bool = False) -> ChecksReport:
    con = open_store(config.store_path)
    try:
        checks, _ = app.refresh_with(con, config, today, full=full)
        return checks
    finally:
        con.close()


@pytest.fixture
def store(base: Path) -> Iterator[Path]:
    folder = _copy(base)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_a_release_recomputes_its_family_alone(store: Path) -> None:
    config = load_config(store / "config.toml")
    again = _refresh(config, TODAY)
    assert again.recomputed == 0  # nothing changed
    release = store / "july.csv"
    release.write_text(
        "period,region,indicator,measure,value\n2026-07,zone_b,energy,value,47\n",
        encoding="utf-8",
    )
    assert all(o.error is None for o in app.ingest(config, [release], source_name="data"))
    report = _refresh(config, TODAY)
    # the energy targets of zone_b's family: west_coast's, for 2025 and 2026
    assert report.recomputed == 2
    full = _copy(store)
    _refresh(load_config(full / "config.toml"), TODAY, full=True)
    assert _tables(store / "kpiwatch.duckdb") == _tables(full / "kpiwatch.duckdb")


STEP = st.one_of(
    st.tuples(
        st.just("release"),
        st.sampled_from(SERIES),
        st.integers(5, 9),  # months of 2026: revisions of stored ones, and new ones
        st.integers(0, 90),
    ),
    # annual targets a config accepts: at least the Q1 target of 257
    st.tuples(st.just("target"), st.sampled_from(sorted(TARGETS)), st.integers(300, 900)),
    st.tuples(st.just("threshold"), st.sampled_from([0.6, 0.8])),
    st.tuples(st.just("escalation"), st.sampled_from(["[1, 2, 3]", "[2, 3]"])),
    st.tuples(st.just("day"), st.integers(0, 40)),
)


@settings(max_examples=5, deadline=None)
@given(steps=st.lists(STEP, min_size=1, max_size=3))
def test_refreshes_store_what_a_full_recompute_stores(
    base: Path, steps: list[tuple[object, ...]]
) -> None:
    folder = _copy(base)
    annual: dict[tuple[str, str], int] = {}
    behind, periods, today = 0.8, "[1, 2, 3]", TODAY
    config = load_config(folder / "config.toml")
    for n, step in enumerate(steps):
        kind = step[0]
        if kind == "release":
            (indicator, region, measure), month, value = step[1], step[2], step[3]
            period = f"2026-{month:02d}"
            if measure == "ytd":  # a year-to-date never falls: 40 a month, revised up
                value = 40 * month + value % 40  # type: ignore[operator]
            elif indicator == "gdp_growth":
                period, value = f"2026Q{(month + 2) // 3}", value / 10  # type: ignore[operator]
            release = folder / f"release{n}.csv"
            release.write_text(
                "period,region,indicator,measure,value\n"
                f"{period},{region},{indicator},{measure},{value}\n",
                encoding="utf-8",
            )
            outcomes = app.ingest(config, [release], source_name="data")
            assert all(o.error is None for o in outcomes), [str(o.error) for o in outcomes]
        elif kind in ("target", "threshold", "escalation"):
            if kind == "target":
                annual[step[1]] = step[2]  # type: ignore[index]
            elif kind == "threshold":
                behind = float(step[1])  # type: ignore[arg-type]
            else:
                periods = str(step[1])
            text = _config_text(annual, behind, periods)
            (folder / "config.toml").write_text(text, encoding="utf-8")
            config = load_config(folder / "config.toml")
        else:
            today += timedelta(days=int(step[1]))  # type: ignore[call-overload]
        _refresh(config, today)
    full = _copy(folder)
    _refresh(load_config(full / "config.toml"), today, full=True)
    assert _tables(folder / "kpiwatch.duckdb") == _tables(full / "kpiwatch.duckdb")
    assert _ladder(folder / "kpiwatch.duckdb", today) == _ladder(full / "kpiwatch.duckdb", today)
    shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(full, ignore_errors=True)


FORECAST_TARGETS = [("energy", "west_coast"), ("projects_started", "zone_b")]


@pytest.fixture(scope="module")
def forecasting(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store that forecasts two targets of 2026 (few paths, one worker), refreshed once."""
    folder = tmp_path_factory.mktemp("forecasting")
    (folder / "config.toml").write_text(_forecast_config({}), encoding="utf-8")
    (folder / "data.csv").write_text(_history(), encoding="utf-8")
    config = load_config(folder / "config.toml")
    assert all(o.error is None for o in app.ingest(config))
    app.refresh(config, TODAY)
    return folder


def _forecast_config(annual: dict[tuple[str, str], int]) -> str:
    text = CONFIG + textwrap.dedent(EXTRA).replace("enabled = false", "paths = 100\nworkers = 1")
    for indicator, region in FORECAST_TARGETS:
        value = annual.get((indicator, region), 600)
        text += f'[[targets]]\nindicator = "{indicator}"\nregion = "{region}"\nyear = 2026\n'
        text += f"annual = {value}\n"
    return text


FORECAST_STEP = st.one_of(
    st.tuples(
        st.just("release"),
        st.sampled_from([s for s in SERIES if s[:2] in FORECAST_TARGETS]),
        st.integers(6, 8),
        st.integers(0, 90),
    ),
    st.tuples(st.just("target"), st.sampled_from(FORECAST_TARGETS), st.integers(300, 900)),
    st.tuples(st.just("day"), st.integers(0, 40)),
)


@settings(max_examples=2, deadline=None)  # forecasts are slow: few, short examples
@given(steps=st.lists(FORECAST_STEP, min_size=1, max_size=2))
def test_refreshes_store_the_forecasts_a_store_made_from_scratch_stores(
    forecasting: Path, steps: list[tuple[object, ...]]
) -> None:
    folder = _copy(forecasting)
    annual: dict[tuple[str, str], int] = {}
    today = TODAY
    config = load_config(folder / "config.toml")
    for n, step in enumerate(steps):
        if step[0] == "release":
            (indicator, region, measure), month, value = step[1], step[2], step[3]
            release = folder / f"release{n}.csv"
            release.write_text(
                "period,region,indicator,measure,value\n"
                f"2026-{month:02d},{region},{indicator},{measure},{value}\n",
                encoding="utf-8",
            )
            assert all(o.error is None for o in app.ingest(config, [release], source_name="data"))
        elif step[0] == "target":
            annual[step[1]] = step[2]  # type: ignore[index]
            (folder / "config.toml").write_text(_forecast_config(annual), encoding="utf-8")
            config = load_config(folder / "config.toml")
        else:
            today += timedelta(days=int(step[1]))  # type: ignore[call-overload]
        _refresh(config, today)
    full = _copy(folder)
    con = duckdb.connect(str(full / "kpiwatch.duckdb"))
    con.execute("DELETE FROM forecast_results")  # nothing to reuse: made from scratch
    con.close()
    _refresh(load_config(full / "config.toml"), today, full=True)
    stored = _tables(folder / "kpiwatch.duckdb")
    assert stored["forecast_results"]  # forecasts there are, to compare
    assert stored == _tables(full / "kpiwatch.duckdb")
    shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(full, ignore_errors=True)


def test_a_file_dropped_while_a_refresh_runs_is_loaded_by_the_next(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dropped after the refresh's ingest read the inbox, it is loaded by the next refresh,
    which waits neither for the timer nor for the bulletin's drawing: a big store's page
    holds thousands of charts (minutes), held here until the next refresh is done."""
    text = (store / "config.toml").read_text(encoding="utf-8")
    text = text.replace('path = "data.csv"', 'path = "inbox/*.csv"')
    text += '\n[server]\ninbox = "inbox"\ninbox_poll_seconds = 0.05\n'
    text += "refresh_interval_seconds = 86400\n"
    (store / "config.toml").write_text(text, encoding="utf-8")
    (store / "inbox").mkdir()
    late = store / "inbox" / "late.csv"
    drawn, pages = threading.Event(), iter(("first", "second"))

    def held(*_: Any) -> str:
        drawn.wait(300)
        return next(pages)  # the charts are not at stake here

    monkeypatch.setattr(bulletin_board, "page", held)

    class DropDuring(Service):
        """Drops a release just after the ingest of its first refresh has read the inbox."""

        refreshes = 0

        def refresh(self) -> bool:
            done = super().refresh()
            self.refreshes += 1
            if self.refreshes == 1:
                late.write_text(
                    "period,region,indicator,measure,value\n2026-07,zone_b,energy,value,47\n",
                    encoding="utf-8",
                )
            else:
                self.triggers.stop.set()
            return done

    service = DropDuring(load_config(store / "config.toml"), TODAY)
    loop = threading.Thread(target=service.run_loop)
    loop.start()
    loop.join(120)  # bounded: without the next refresh the loop would wait a day
    refreshes = service.refreshes
    drawn.set()
    service.triggers.stop.set()
    loop.join()
    service.close()
    assert refreshes == 2
    con = duckdb.connect(str(store / "kpiwatch.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM loads WHERE file LIKE '%late.csv'").fetchall() == [
            (1,)
        ]
    finally:
        con.close()
    pause = threading.Event()
    for _ in range(2400):  # the pages are drawn once let go (bounded: two minutes)
        if not service.bulletins.drawing():
            break
        pause.wait(0.05)
    status, body = service.bulletins.page(service.config, None)
    assert (status, body) == (200, b"second")  # the newest refresh's page
