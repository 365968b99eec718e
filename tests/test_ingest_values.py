"""How ingest reads periods and values: spans, separators, overlaps, falls, vintages, noise."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.errors import IngestError
from ingest.periods import PeriodError, parse_published
from kpiwatch.config import Config
from tests.ingest_helpers import load, value

SERIES = {
    "投资:累计值": "ytd",
    "投资:累计增长": "ytd_yoy_pct",
    "投资:当月值": "value",
    "投资:当月增长": "yoy_pct",
}
MEASURE_SERIES = {m: s for s, m in SERIES.items()}


def long_source(path: Path, extra: str = "") -> str:
    """A long source for fai in west_coast with one series text per measure."""
    mapping = "\n".join(f'"{s}" = {{ measure = "{m}" }}' for s, m in SERIES.items())
    return f"""
        [[sources]]
        name = "nbs"
        path = "{path}"
        layout = "long"
        region = "west_coast"
        indicator = "fai"
        {extra}
        columns = {{ period = "时间", value = "数值", series = "指标" }}
        [sources.series]
        {mapping}
    """


def write(tmp_path: Path, name: str, rows: list[tuple[str, str, str]]) -> Path:
    path = tmp_path / name
    body = "".join(f"{p},{s},{v}\n" for p, s, v in rows)
    path.write_text("时间,指标,数值\n" + body, encoding="utf-8")
    return path


def refusal(config: Config, path: Path) -> list[tuple[int, str, str, str]]:
    """The (line, field, value, reason) of each bad row of a refused file."""
    with pytest.raises(IngestError) as info:
        load(config, path)
    return [(e.line, e.field, e.value, e.reason) for e in info.value.errors]


def stored(config: Config, sql: str = "") -> list[tuple[object, ...]]:
    con = duckdb.connect(str(config.store_path), read_only=True)
    try:
        return con.execute(
            sql or "SELECT period, measure, value FROM observations_latest ORDER BY ALL"
        ).fetchall()
    finally:
        con.close()


# --- 1-N月: a year-to-date keyed by its last month; quarters only where the source says so

SPAN_FORMATS = [
    "{y}年1-{n}月",
    "{y}年1—{n}月",
    "{y}年1–{n}月",
    "{y}年１－{fn}月",
    "{y}年1～{n}月",
    "{y}年1~{n}月",
    "{y}年1至{n}月",
    "{y}年1月-{n}月",
    "{y}年1-{n}月份",
    "{y} 1-{n}月",
    "{y}.1-{n}月",
    " {y}年1-{n}月\u3000",
    "{y}年\u200b1-{n}月",
]


def full_width(n: int) -> str:
    return "".join(chr(ord(c) + 0xFEE0) for c in str(n))


@pytest.mark.parametrize("fmt", SPAN_FORMATS)
@pytest.mark.parametrize("n", range(2, 13))
def test_every_1_to_n_span_is_a_year_to_date_keyed_by_its_last_month(fmt: str, n: int) -> None:
    text = fmt.format(y=2025, n=n, fn=full_width(n))
    for freq in ("M", "m", "月"):
        published = parse_published(text, freq)
        assert published.cumulative is not None and published.cumulative.label == f"2025-{n:02d}"
        if n == 2:  # the Jan–Feb release is a period of its own
            assert published.own is not None and published.own.label == "2025-01/02"
        else:
            assert published.own is None and "year-to-date" in str(published.own_error)


@pytest.mark.parametrize("n", [3, 6, 9, 12])
def test_a_span_is_a_quarter_only_where_the_source_says_so(n: int) -> None:
    ytd = parse_published(f"2025年1-{n}月", "Q")
    assert ytd.cumulative is not None and ytd.cumulative.label == f"2025Q{n // 3}"
    own = parse_published(f"2025年{n - 2}-{n}月", "Q").own
    assert own is not None and own.label == f"2025Q{n // 3}"
    for text in (f"2025年第{'一二三四'[n // 3 - 1]}季度", f"2025Q{n // 3}"):
        said = parse_published(text, "M").own
        assert said is not None and said.label == f"2025Q{n // 3}"


@pytest.mark.parametrize(
    ("text", "last"),
    [
        ("2025年上半年", 6),
        ("2025年前三季度", 9),
        ("2025年前3季度", 9),
        ("2025年1-3季度", 9),
        ("2025年一至三季度", 9),
        ("2025年1季度-2季度", 6),
        ("2025年全年", 12),
    ],
)
def test_year_to_date_spans_named_by_quarters(text: str, last: int) -> None:
    monthly, quarterly = parse_published(text, "M"), parse_published(text, "Q")
    assert monthly.own is None and quarterly.own is None  # a half-year is no period of its own
    assert monthly.cumulative is not None and monthly.cumulative.label == f"2025-{last:02d}"
    assert quarterly.cumulative is not None and quarterly.cumulative.label == f"2025Q{last // 3}"


@pytest.mark.parametrize(
    "text",
    ["2024年2-3月", "2024年4-6月", "2024年3-2月", "2024年1-13月", "2024年0-3月", "2024年5-5月"],
)
def test_a_span_that_is_neither_year_to_date_nor_jan_feb_is_refused(text: str) -> None:
    with pytest.raises(PeriodError):
        parse_published(text, "M")


@pytest.mark.parametrize("freq", ["M", "Q"])
@pytest.mark.parametrize("measure", ["ytd", "ytd_yoy_pct", "value", "yoy_pct"])
def test_every_span_loads_with_every_measure(
    make_config: Callable[[str], Config], tmp_path: Path, measure: str, freq: str
) -> None:
    series = MEASURE_SERIES[measure]
    rows = [
        (fmt.format(y=2025, n=n, fn=full_width(n)), n)
        for n in range(2, 13)
        for fmt in [SPAN_FORMATS[n % len(SPAN_FORMATS)]]
    ]
    path = write(tmp_path, "spans.csv", [(text, series, str(10 * n)) for text, n in rows])
    config = make_config(long_source(path, f'freq = "{freq}"'))
    cumulative = measure.startswith("ytd")
    # what each span is for the measure: year-to-date keys, or a period of its own
    fits = {
        ("M", True): {n: f"2025-{n:02d}" for n in range(2, 13)},
        ("M", False): {2: "2025-01/02"},
        ("Q", True): {n: f"2025Q{n // 3}" for n in (3, 6, 9, 12)},
        ("Q", False): {3: "2025Q1"},
    }[(freq, cumulative)]
    if len(fits) == 11:
        load(config, path)
        assert stored(config) == [(fits[n], measure, 10.0 * n) for n in range(2, 13)]
        return
    refused = refusal(config, path)
    assert [line for line, *_ in refused] == [n for n in range(2, 13) if n not in fits]
    assert all(field == "时间" and text == rows[line - 2][0] for line, field, text, _ in refused)
    assert stored(config, "SELECT count(*) FROM loads") == [(0,)]


def test_march_ytd_reaches_monthly_and_meets_a_2026_03_row(
    make_config: Callable[[str], Config], tmp_path: Path
) -> None:
    first = write(
        tmp_path,
        "a.csv",
        [("2026年1-2月", "投资:累计值", "120"), ("2026年1-3月", "投资:累计值", "200")],
    )
    config = make_config(long_source(tmp_path / "*.csv"))
    load(config, first)
    monthly = stored(config, "SELECT period, value, basis FROM monthly ORDER BY period")
    assert monthly == [("2026-01/02", 120.0, "from_ytd"), ("2026-03", 80.0, "from_ytd")]
    second = write(tmp_path, "b.csv", [("2026-03", "投资:累计值", "200")])
    report = load(config, second)
    assert (report.new, report.unchanged) == (0, 1)  # the same key, not a second March
    assert value(config, "fai", "west_coast", "2026-03", "ytd") == 200.0
    assert stored(config, "SELECT count(*) FROM periods WHERE freq = 'Q'") == [(0,)]


@pytest.mark.parametrize(
    ("text", "freq", "why"),
    [
        ("2025.1", "M", "ambiguous"),
        ("2026-03", "A", "freq"),
        ("2026-03", "X", "freq"),
        ("2026-03", "年", "freq"),
    ],
)
def test_ambiguous_periods_and_unknown_freq_codes_are_refused(
    make_config: Callable[[str], Config], tmp_path: Path, text: str, freq: str, why: str
) -> None:
    path = tmp_path / "f.csv"
    path.write_text(f"时间,频率,指标,数值\n{text},{freq},投资:当月值,5\n", encoding="utf-8")
    config = make_config(
        long_source(path).replace('series = "指标"', 'series = "指标", freq = "频率"')
    )
    ((line, field, _, reason),) = refusal(config, path)
    assert (line, field) == (2, "时间") and why in reason


def test_a_period_typed_as_a_number_in_a_workbook_is_refused(
    make_config: Callable[[str], Config], tmp_path: Path
) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    ws = book.active
    assert ws is not None
    ws.append(["月份", "当月值"])
    ws.append([2025.10, 5])  # October, stored by Excel as the number 2025.1
    ws.append([2025.09, 6])
    path = tmp_path / "typed.xlsx"
    book.save(path)
    config = make_config(f"""
        [[sources]]
        name = "book"
        path = "{path}"
        layout = "columns"
        region = "west_coast"
        indicator = "fai"
        columns = {{ period = "月份" }}
        [sources.series]
        "当月值" = {{ measure = "value" }}
    """)
    ((line, field, text, reason),) = refusal(config, path)
    assert (line, field, text) == (2, "月份", "2025.1") and "ambiguous" in reason


# --- numbers: separators read one way only


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("1,234", 1234.0),
        ("1,234.5", 1234.5),
        ("-1,234,567.25", -1234567.25),
        (" 12 ", 12.0),
        ("12\u00a0", 12.0),
        ("\u3000+5", 5.0),
        ("1e3", 1000.0),
        ("0.5", 0.5),
    ],
)
def test_numbers_read_one_way_load(
    make_config: Callable[[str], Config], tmp_path: Path, text: str, number: float
) -> None:
    path = write(tmp_path, "n.csv", [("2026-03", "投资:当月增长", f'"{text}"')])
    config = make_config(long_source(path))
    load(config, path)
    assert value(config, "fai", "west_coast", "2026-03", "yoy_pct") == number


@pytest.mark.parametrize(
    "text", ["1,5", "1,23,4", "1_0", "1_000", "1.234,5", "12,3456", ",123", "1,,234", "1,234,5"]
)
def test_numbers_read_two_ways_are_refused(
    make_config: Callable[[str], Config], tmp_path: Path, text: str
) -> None:
    path = write(
        tmp_path,
        "n.csv",
        [("2026-02", "投资:当月值", "7"), ("2026-03", "投资:当月值", f'"{text}"')],
    )
    config = make_config(long_source(path))
    ((line, field, shown, reason),) = refusal(config, path)
    assert (line, field, shown) == (3, "数值", text)
    assert "two ways" in reason


# --- names: invisible characters and spacing never hide a configured name

NAME_NOISE = [
    "{}\u00a0",  # NBSP, as Excel and web tables leave it
    "\u200b{}",  # zero-width space
    "\ufeff{}",  # a BOM inside a cell
    "{}\u3000",  # full-width space
    "{}\t\t",  # trailing tabs
    " {} ",
    "{}\u200d",
]


@pytest.mark.parametrize("noise", NAME_NOISE)
@pytest.mark.parametrize("layout", ["long", "columns", "wide"])
def test_noisy_series_and_region_names_match_configured_names(
    make_config: Callable[[str], Config], tmp_path: Path, noise: str, layout: str
) -> None:
    series, region = noise.format("投资:当月值"), noise.format("西海岸　新区")
    path = tmp_path / "names.csv"
    if layout == "long":
        text = f"时间,地区,指标,数值\n2026-03,{region},{series},5\n"
        columns = '{ period = "时间", region = "地区", series = "指标", value = "数值" }'
    elif layout == "columns":
        text = f"时间,地区,{series}\n2026-03,{region},5\n"
        columns = '{ period = "时间", region = "地区" }'
    else:
        text = f"地区,2026-03\n{region},5\n"
        columns = '{ key = "地区" }\nrow_key = "region"\nmeasure = "value"'
    path.write_text(text, encoding="utf-8")
    mapping = "" if layout == "wide" else '[sources.series]\n"投资:当月值" = { measure = "value" }'
    config = make_config(f"""
        [[sources]]
        name = "names"
        path = "{path}"
        layout = "{layout}"
        indicator = "fai"
        columns = {columns}
        {mapping}
    """)
    assert load(config, path).new == 1
    assert value(config, "fai", "west_coast", "2026-03", "value") == 5.0


# --- periods of one series that cover the same month


@pytest.mark.parametrize(
    ("rows", "bad_lines", "named"),
    [
        # a Jan–Feb value beside separate Jan and Feb values
        (
            [
                ("2026年1-2月", "投资:当月值", "10"),
                ("2026-01", "投资:当月值", "4"),
                ("2026-02", "投资:当月值", "6"),
            ],
            [3, 4],
            "line 2",
        ),
        # monthly values beside the first quarter's, the same measure
        (
            [
                ("2026-01", "投资:当月增长", "4"),
                ("2026-02", "投资:当月增长", "5"),
                ("2026年第一季度", "投资:当月增长", "6"),
            ],
            [4],
            "2026-01 on line 2",
        ),
        # a year-to-date keyed by the quarter beside the same month's
        (
            [("2026年一季度", "投资:累计值", "300"), ("2026年1-3月", "投资:累计值", "300")],
            [3],
            "2026Q1 on line 2",
        ),
    ],
)
def test_overlapping_periods_in_a_file_are_refused_naming_both_rows(
    make_config: Callable[[str], Config],
    tmp_path: Path,
    rows: list[tuple[str, str, str]],
    bad_lines: list[int],
    named: str,
) -> None:
    path = write(tmp_path, "o.csv", rows)
    config = make_config(long_source(path))
    errors = refusal(config, path)
    assert [e[0] for e in errors] == bad_lines
    assert all(field == "时间" and "overlaps" in reason for _, field, _, reason in errors)
    assert named in errors[0][3]


def test_a_jan_feb_ytd_and_a_february_ytd_are_one_key(
    make_config: Callable[[str], Config], tmp_path: Path
) -> None:
    rows = [("2026年1-2月", "投资:累计值", "120"), ("2026-02", "投资:累计值", "120")]
    path = write(tmp_path, "o.csv", rows)
    config = make_config(long_source(path))
    assert load(config, path).new == 1
    other = write(
        tmp_path,
        "p.csv",
        [("2026年1-2月", "投资:累计值", "120"), ("2026-02", "投资:累计值", "125")],
    )
    ((line, _, _, reason),) = refusal(config, other)
    assert line == 3 and "duplicate key" in reason


@pytest.mark.parametrize(
    ("first", "second", "stored_period"),
    [
        ([("2026-01", "4"), ("2026-02", "6")], [("2026年1-2月", "10")], "2026-01"),
        ([("2026年1-2月", "10")], [("2026-03", "3"), ("2026-02", "6")], "2026-01/02"),
        ([("2026-02", "6")], [("2026Q1", "16")], "2026-02"),
        ([("2026Q1", "16")], [("2026-03", "3")], "2026Q1"),
    ],
)
def test_a_period_overlapping_a_stored_one_is_refused(
    make_config: Callable[[str], Config],
    tmp_path: Path,
    first: list[tuple[str, str]],
    second: list[tuple[str, str]],
    stored_period: str,
) -> None:
    a = write(tmp_path, "a.csv", [(p, "投资:当月值", v) for p, v in first])
    b = write(tmp_path, "b.csv", [(p, "投资:当月值", v) for p, v in second])
    config = make_config(long_source(tmp_path / "*.csv"))
    load(config, a)
    before = stored(config)
    errors = refusal(config, b)
    assert errors[0][3].split(" overlaps ")[1].startswith(f"{stored_period} already stored")
    assert f"{a} line 2" in errors[0][3]
    assert stored(config) == before


# --- a year-to-date that falls within a year


@pytest.mark.parametrize(
    ("first", "second", "line", "says"),
    [
        (
            [],
            [("2026-01", "100"), ("2026-02", "90")],
            3,
            "falls from 100.0 (2026-01, line 2) to 90.0",
        ),
        (
            [("2026-02", "100")],
            [("2026-03", "90")],
            2,
            "falls from 100.0 (2026-02, already stored)",
        ),
        ([("2026-03", "90")], [("2026年1-2月", "100")], 2, "to 90.0 (2026-03, already stored)"),
    ],
)
def test_a_falling_ytd_of_a_count_is_refused(
    make_config: Callable[[str], Config],
    tmp_path: Path,
    first: list[tuple[str, str]],
    second: list[tuple[str, str]],
    line: int,
    says: str,
) -> None:
    config = make_config(long_source(tmp_path / "*.csv"))
    if first:
        load(config, write(tmp_path, "a.csv", [(p, "投资:累计值", v) for p, v in first]))
    b = write(tmp_path, "b.csv", [(p, "投资:累计值", v) for p, v in second])
    ((at, field, _, reason),) = refusal(config, b)
    assert (at, field) == (line, "时间")
    assert reason.startswith("refused") and says in reason and "negative" in reason


def test_a_falling_ytd_loads_where_the_indicator_may_fall(
    make_config: Callable[[str], Config], tmp_path: Path
) -> None:
    rows = [("2025-12", "投资:累计值", "1000"), ("2026-01", "投资:累计值", "100")]
    rows += [("2026-02", "投资:累计值", "90")]
    path = write(tmp_path, "y.csv", rows)
    config = make_config(long_source(path))
    ((line, _, _, _),) = refusal(config, path)  # December to January is no fall
    assert line == 4
    config = make_config(
        long_source(path).replace('indicator = "fai"', 'indicator = "net"')
        + '\n[[indicators]]\nid = "net"\nname = "净额"\nkind = "flow"\nnon_negative = false\n'
    )
    assert load(config, path).new == 3


def test_a_falling_ytd_loads_flagged_where_the_source_revises(
    make_config: Callable[[str], Config], tmp_path: Path
) -> None:
    rows = [("2026-02", "投资:累计值", "100"), ("2026-03", "投资:累计值", "90")]
    path = write(tmp_path, "r.csv", rows)
    config = make_config(long_source(path, "revises_ytd = true"))
    report = load(config, path)
    assert report.new == 2
    ((line, field, _, reason),) = [(e.line, e.field, e.value, e.reason) for e in report.flagged]
    assert (line, field) == (3, "时间") and reason.startswith("flagged, loaded")


# --- vintages: an older vintage is history, never a revision of the current figure


def test_an_older_vintage_is_kept_as_history_and_said_so(
    make_config: Callable[[str], Config], tmp_path: Path
) -> None:
    from datetime import datetime

    config = make_config(long_source(tmp_path / "*.csv"))
    first = write(tmp_path, "a.csv", [("2026-03", "投资:当月值", "10")])
    load(config, first, known_from=datetime(2026, 4, 1))
    later = write(tmp_path, "b.csv", [("2026-03", "投资:当月值", "11")])
    load(config, later, known_from=datetime(2026, 4, 20))
    between = write(tmp_path, "c.csv", [("2026-03", "投资:当月值", "12")])
    report = load(config, between, known_from=datetime(2026, 4, 10))
    assert (report.new, report.revised, report.unchanged, report.older) == (0, 0, 0, 1)
    assert value(config, "fai", "west_coast", "2026-03", "value") == 11.0  # current unchanged
    as_of = "SELECT value FROM observations_as_of('2026-04-15')"
    assert stored(config, as_of) == [(12.0,)]
    same_as_then = write(tmp_path, "d.csv", [("2026-03", "投资:当月值", "10.0")])
    report = load(config, same_as_then, known_from=datetime(2026, 4, 5))
    assert (report.revised, report.unchanged, report.older) == (0, 1, 0)
    assert stored(config, "SELECT sum(older_values) FROM loads") == [(1,)]


def test_the_cli_says_a_value_was_kept_as_history(
    make_config: Callable[[str], Config], tmp_path: Path
) -> None:
    import subprocess
    import sys

    config = make_config(long_source(tmp_path / "*.csv"))
    load(config, write(tmp_path, "a.csv", [("2026-03", "投资:当月值", "10")]))
    older = write(tmp_path, "b.csv", [("2026-03", "投资:当月值", "9")])
    kpiwatch = str(Path(sys.executable).parent / "kpiwatch")
    done = subprocess.run(
        [
            *(kpiwatch, "--config", str(tmp_path / "config.toml"), "ingest"),
            *("--vintage", "2026-04-01", str(older)),
        ],
        capture_output=True,
        text=True,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert "older (kept as history)" in done.stdout
    row = next(line for line in done.stdout.splitlines() if "2026-03" in line)
    assert [c.strip() for c in row.split("│")][6:10] == ["0", "0", "0", "1"]


# --- floating-point noise: a scale conversion is no revision


@pytest.mark.parametrize(
    ("published", "scaled", "scale"),
    [
        ("1.2345", "12345", 0.0001),
        ("1.23456", "12345.6", 0.0001),
        ("0.3", "3", 0.1),
        ("123456.789", "1234567890", 0.0001),
        ("0.07", "7", 0.01),
    ],
)
def test_a_value_converted_by_a_scale_equals_the_same_value_published(
    make_config: Callable[[str], Config],
    tmp_path: Path,
    published: str,
    scaled: str,
    scale: float,
) -> None:
    yi = write(tmp_path, "yi.csv", [("2026-03", "投资:当月值", published)])
    wan = tmp_path / "wan" / "wan.csv"
    wan.parent.mkdir()
    wan.write_text(f"时间,指标,数值\n2026-03,投资:当月值,{scaled}\n", encoding="utf-8")
    config = make_config(
        long_source(yi) + long_source(wan, f"scale = {scale}").replace('"nbs"', '"wan"', 1)
    )
    load(config, yi, "nbs")
    report = load(config, wan, "wan")
    assert (report.new, report.revised, report.unchanged) == (0, 0, 1)
    assert value(config, "fai", "west_coast", "2026-03", "value") == float(published)


def test_the_march_ytd_published_as_1_3_is_checked_once_as_march(tmp_path: Path) -> None:
    from datetime import date

    from tests.checks_helpers import pipeline, progress

    rows = """
        2026年1-2月,west_coast,projects_started,ytd,150
        2026年1-3月,west_coast,projects_started,ytd,257
        2026-03,west_coast,projects_started,ytd,257
    """
    target = """
        [[targets]]
        indicator = "projects_started"
        region = "west_coast"
        year = 2026
        annual = 600
        quarters = { Q1 = 257 }
    """
    config = pipeline(tmp_path, rows, target, today=date(2026, 4, 10))
    march = progress(config, "as_of = '2026-03' AND horizon = 'month'")
    assert len(march) == 1  # the 1-3月 row and the 2026-03 row are one key
    assert march[0]["status"] != "no_data" and march[0]["actual"] == 107.0
    quarter = progress(config, "as_of = '2026-03' AND horizon = 'quarter'")
    assert [(q["actual"], q["status"]) for q in quarter] == [(257.0, "on_track")]


def _read_number(text: str) -> float | None:
    """What ingest's number reading makes of a value text, run by DuckDB itself."""
    from ingest.validate import _number

    con = duckdb.connect()
    try:
        row = con.execute(f"SELECT {_number('$t')}", {"t": text}).fetchall()[0]
    finally:
        con.close()
    return None if row[0] is None else float(row[0])


@given(st.decimals(-(10**12), 10**12, places=3, allow_nan=False, allow_infinity=False))
@settings(max_examples=100, deadline=None)
def test_numbers_with_thousands_separators_read_as_written(number: Decimal) -> None:
    assert _read_number(f"{number:,}") == float(number)


@given(st.text("0123456789", min_size=2, max_size=9), st.data())
@settings(max_examples=100, deadline=None)
def test_a_comma_anywhere_but_between_groups_of_three_is_refused(
    digits: str, data: st.DataObject
) -> None:
    at = data.draw(st.integers(1, len(digits) - 1))
    one_group = len(digits) - at == 3 and at <= 3
    got = _read_number(digits[:at] + "," + digits[at:])
    assert got == (float(digits) if one_group else None)


@pytest.mark.parametrize("measure", ["ytd", "value"])
def test_spans_as_the_headers_of_a_wide_table(
    make_config: Callable[[str], Config], tmp_path: Path, measure: str
) -> None:
    path = tmp_path / "wide.csv"
    path.write_text("地区,2026年1-2月,2026年1-3月\n西海岸新区,120,200\n", encoding="utf-8")
    config = make_config(f"""
        [[sources]]
        name = "wide"
        path = "{path}"
        layout = "wide"
        row_key = "region"
        indicator = "fai"
        measure = "{measure}"
        columns = {{ key = "地区" }}
    """)
    if measure == "ytd":
        load(config, path)
        assert stored(config) == [("2026-02", "ytd", 120.0), ("2026-03", "ytd", 200.0)]
    else:
        ((line, field, text, reason),) = refusal(config, path)
        assert (line, field, text) == (2, "2026年1-3月", "2026年1-3月")
        assert "year-to-date" in reason


@pytest.mark.parametrize("header", ["rowid", "ROWID"])
def test_a_column_named_rowid_is_read_like_any_other(
    tmp_path: Path, make_config: Callable[..., Config], header: str
) -> None:
    """A column named like DuckDB's row number neither breaks the file nor moves its lines."""
    path = tmp_path / "data.csv"
    rows = "2026年1-2月,投资:累计值,10,x\n2026年3月,投资:累计值,15,y\n"
    path.write_text(f"时间,指标,数值,{header}\n{rows}", encoding="utf-8")
    config = make_config(long_source(path))
    load(config, path)
    assert stored(config, "SELECT period, value, line FROM observations ORDER BY ALL") == [
        ("2026-02", 10.0, 2),
        ("2026-03", 15.0, 3),
    ]
    other = tmp_path / "other.csv"  # not the file loaded already
    more = f"时间,指标,数值,{header}\n{rows}2026年4月,投资:累计值,20,z\n"
    other.write_text(more, encoding="utf-8")
    named = make_config(long_source(other).replace('value = "数值"', f'value = "{header}"'))
    ((line, field, _, reason),) = refusal(named, other)
    assert (line, field) == (1, header)
    assert reason == f"a column named {header!r} cannot be read: rename it in the file"
