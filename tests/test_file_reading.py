"""How ingest reads files: encodings an office saves, workbook sheets, names, hostile sizes."""

from __future__ import annotations

import codecs
import csv
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest import readers, textfiles
from ingest.errors import IngestError
from kpiwatch.config import Config, load_config
from tests.conftest import BASE_TOML, NBS
from tests.ingest_helpers import LONG_SOURCE, load, value, workbook

KPIWATCH = str(Path(sys.executable).parent / "kpiwatch")
ROWS = [("2026-01", "1.5"), ("2026-02", "2"), ("2026-03", "3.25")]


def source(path: Path, settings: str = LONG_SOURCE, name: str = "s") -> str:
    return f'\n[[sources]]\nname = "{name}"\npath = "{path}"\n{settings}'


def text(delimiter: str = ",", newline: str = "\n") -> str:
    lines = [f"period{delimiter}value", *(f"{p}{delimiter}{v}" for p, v in ROWS)]
    return newline.join(lines) + newline


def assert_loaded(config: Config) -> None:
    for period, figure in ROWS:
        assert value(config, "fai", "west_coast", period, "value") == float(figure)


@pytest.mark.parametrize(
    ("name", "data", "settings"),
    [
        ("utf-8 with BOM", text().encode("utf-8-sig"), ""),
        ("GBK", ("# 固定资产投资\n" + text()).encode("gbk"), "header_row = 2\n"),
        ("GB18030 only", ("# 𠀀\n" + text()).encode("gb18030"), "header_row = 2\n"),
        (
            "Excel Unicode text",
            text("\t", "\r\n").encode("utf-16"),  # UTF-16 LE with BOM, tab-separated
            'delimiter = "\\t"\n',
        ),
        ("tab-delimited UTF-8", text("\t", "\r\n").encode(), 'delimiter = "\\t"\n'),
        ("CRLF", text(newline="\r\n").encode(), ""),
        ("CR alone (CSV for Macintosh)", text(newline="\r").encode(), ""),
        ("UTF-16 big-endian with BOM", codecs.BOM_UTF16_BE + text().encode("utf-16-be"), ""),
        ("GBK, tab-delimited (Text)", text("\t", "\r\n").encode("gbk"), 'delimiter = "\t"\n'),
    ],
)
def test_encodings_a_windows_office_saves_load_the_same(
    make_config: Callable[[str], Config], tmp_path: Path, name: str, data: bytes, settings: str
) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(data)
    config = make_config(source(path, LONG_SOURCE + settings))
    assert load(config, path).new == len(ROWS), name
    assert_loaded(config)


def test_excel_unicode_text_also_loads_as_a_grid(
    make_config: Callable[[str], Config], tmp_path: Path
) -> None:
    path = tmp_path / "f.txt"
    path.write_bytes("月份\tytd\r\n2026年1-2月\t150\r\n2026年3月\t257\r\n".encode("utf-16"))
    config = make_config(
        source(path, COLUMNS + 'delimiter = "\\t"\n'),
    )
    assert load(config, path).new == 2
    assert value(config, "projects_started", "west_coast", "2026-03", "ytd") == 257


def test_a_tab_separated_header_read_as_commas_says_which_delimiter(
    make_config: Callable[[str], Config], tmp_path: Path
) -> None:
    path = tmp_path / "f.txt"
    path.write_bytes(text("\t", "\r\n").encode("utf-16"))
    config = make_config(source(path))
    with pytest.raises(IngestError) as info:
        load(config, path)
    assert "set delimiter = '\\t'" in info.value.errors[0].reason


def test_physical_lines_are_stored_for_every_value(
    make_config: Callable[[str], Config], tmp_path: Path
) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(b'period,value,note\n\n2026-01,1,"a\nb\nc"\n2026-02,2,\n\n2026-03,3,\n\n')
    config = make_config(source(path))
    load(config, path)
    con = duckdb.connect(str(config.store_path), read_only=True)
    lines = con.execute("SELECT period, line FROM observations ORDER BY period").fetchall()
    con.close()
    assert lines == [("2026-01", 3), ("2026-02", 6), ("2026-03", 8)]


COLUMNS = """
layout = "columns"
region = "west_coast"
indicator = "projects_started"
columns = { period = "月份" }
series = { ytd = { measure = "ytd" } }
"""


def test_a_configured_series_named_like_a_note_is_data(
    make_config: Callable[[str], Config], tmp_path: Path
) -> None:
    path = tmp_path / "f.csv"
    path.write_text(
        "指标,2026年1-2月,2026年3月\n注册企业数,10,12\n注：本表为示例,,\n", encoding="utf-8"
    )
    config = make_config(
        source(
            path,
            'layout = "wide"\nregion = "west_coast"\ncolumns = { key = "指标" }\n'
            'series = { "注册企业数" = { indicator = "projects_started", measure = "ytd" } }\n',
        )
    )
    assert load(config, path).new == 2
    assert value(config, "projects_started", "west_coast", "2026-03", "ytd") == 12


def test_names_with_invisible_characters_match_sheet_and_header(
    make_config: Callable[[str], Config], tmp_path: Path
) -> None:
    def rename(book: Any) -> None:
        book["data"].title = "\u200b数据\u00a0"

    path = tmp_path / "f.xlsx"
    workbook([["\ufeff 月份\u3000", "ytd\u200b"], ["2026年3月", 257]], rename).save(path)
    config = make_config(source(path, COLUMNS + 'sheet = "数据"\n'))
    assert load(config, path).new == 1
    long = tmp_path / "long.csv"
    long.write_text("\ufeffperiod\u00a0,\u200bvalue \n2026-01,1.5\n", encoding="utf-8")
    config = make_config(source(long))
    assert load(config, long).new == 1


def test_two_sheets_with_one_visible_name_are_refused(
    make_config: Callable[[str], Config], tmp_path: Path
) -> None:
    def twin(book: Any) -> None:
        book.create_sheet("data\u200b")

    path = tmp_path / "f.xlsx"
    workbook([["月份", "ytd"], ["2026年3月", 257]], twin).save(path)
    config = make_config(source(path, COLUMNS + 'sheet = "data"\n'))
    with pytest.raises(IngestError, match="several sheets"):
        load(config, path)


def test_the_first_visible_sheet_is_read_and_a_named_hidden_one_too(
    make_config: Callable[[str], Config], tmp_path: Path
) -> None:
    def hide_first(book: Any) -> None:
        old = book.create_sheet("old", 0)
        old.append(["月份", "ytd"])
        old.append(["2025年3月", 99])
        old.sheet_state = "hidden"

    path = tmp_path / "f.xlsx"
    workbook([["月份", "ytd"], ["2026年3月", 257]], hide_first).save(path)
    config = make_config(source(path, COLUMNS))
    assert load(config, path).new == 1
    assert value(config, "projects_started", "west_coast", "2026-03", "ytd") == 257
    config = make_config(source(path, COLUMNS + 'sheet = "old"\n', "old"))
    assert load(config, path).new == 1
    assert value(config, "projects_started", "west_coast", "2025-03", "ytd") == 99


@pytest.mark.parametrize(("hidden", "stored"), [("read", 300.0), ("skip", None)])
def test_hidden_rows_are_read_or_skipped_when_the_source_says_so(
    make_config: Callable[[str], Config], tmp_path: Path, hidden: str, stored: float | None
) -> None:
    def hide(book: Any) -> None:
        book["data"].row_dimensions[3].hidden = True

    path = tmp_path / "f.xlsx"
    workbook([["月份", "ytd"], ["2026年1-2月", 150], ["2026年3月", 300]], hide).save(path)
    config = make_config(source(path, COLUMNS + f'hidden = "{hidden}"\n'))
    load(config, path)
    assert value(config, "projects_started", "west_coast", "2026-03", "ytd") == stored
    assert value(config, "projects_started", "west_coast", "2026-02", "ytd") == 150


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("truncated", None),
        ("no workbook part", {"[Content_Types].xml": b"<Types/>"}),
        ("garbage sheet", "sheet"),
    ],
)
def test_every_unreadable_workbook_says_why(
    make_config: Callable[[str], Config], tmp_path: Path, name: str, parts: object
) -> None:
    path = tmp_path / "f.xlsx"
    workbook([["月份", "ytd"], ["2026年3月", 257]]).save(path)
    if parts is None:
        path.write_bytes(path.read_bytes()[:700])
    elif parts == "sheet":
        with zipfile.ZipFile(path) as src:
            kept = {i.filename: src.read(i) for i in src.infolist()}
        kept["xl/worksheets/sheet1.xml"] = b"<worksheet><sheetData><row r='1'><c"
        with zipfile.ZipFile(path, "w") as dst:
            for part, data in kept.items():
                dst.writestr(part, data)
    else:
        with zipfile.ZipFile(path, "w") as dst:
            for part, data in dict(parts).items():  # type: ignore[call-overload]
                dst.writestr(part, data)
    config = make_config(source(path, COLUMNS))
    with pytest.raises(IngestError) as info:
        load(config, path)
    (error,) = info.value.errors
    assert error.field == "workbook"
    assert error.reason.split("unreadable workbook:", 1)[1].strip(), name


def test_the_duplicate_header_check_is_linear() -> None:
    compared = 0

    class Name(str):
        __slots__ = ()

        def __eq__(self, other: object) -> bool:
            nonlocal compared
            compared += 1
            return str.__eq__(self, other)

        __hash__ = str.__hash__

    header = [Name(f"c{i}") for i in range(5000)]
    assert readers.duplicates([*header, Name("c7")]) == ["c7"]
    assert compared < 5 * len(header)  # a quadratic check would compare 25,000,000 times


def test_a_header_of_20000_columns_loads(
    make_config: Callable[[str], Config], tmp_path: Path
) -> None:
    path = tmp_path / "wide.csv"
    extra = [f"c{i}" for i in range(20_000)]
    path.write_text(
        ",".join(["period", "value", *extra]) + "\n" + "2026-01,1" + "," * len(extra) + "\n",
        encoding="utf-8",
    )
    config = make_config(source(path))
    assert load(config, path).new == 1


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([KPIWATCH, *args], capture_output=True, text=True, cwd=cwd)


def _cli_config(tmp_path: Path, pattern: str) -> None:
    (tmp_path / "config.toml").write_text(BASE_TOML + source(tmp_path / pattern), encoding="utf-8")


def test_a_rejects_file_that_cannot_be_written_is_one_more_problem(tmp_path: Path) -> None:
    name = "x" * 240 + ".csv"  # its rejects file name is longer than a file name may be
    (tmp_path / name).write_text("period,value\n2026-01,abc\n", encoding="utf-8")
    _cli_config(tmp_path, "*.csv")
    done = _cli(tmp_path, "ingest", "--rejects", "rejects")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    said = "".join(done.stderr.split())  # the terminal may wrap a long path
    assert name in said and "rejectsfilecouldnotbewritten" in said
    assert "notanumber" in said


def test_paths_that_cannot_be_read_are_refused_by_name(tmp_path: Path) -> None:
    (tmp_path / "loop.csv").symlink_to(tmp_path / "loop.csv")
    (tmp_path / "folder.csv").mkdir()
    _cli_config(tmp_path, "*.csv")
    for target in ("loop.csv", "folder.csv"):
        done = _cli(tmp_path, "ingest", target)
        assert done.returncode == 1, (target, done.stdout)
        assert "Traceback" not in done.stderr and target in done.stderr, done.stderr
    done = _cli(tmp_path, "ingest")  # the glob names the loop too: never skipped in silence
    assert "loop.csv" in done.stderr and "Traceback" not in done.stderr


def test_structural_refusals_write_the_rejects_file(
    make_config: Callable[[str], Config], tmp_path: Path
) -> None:
    path = tmp_path / "f.csv"
    path.write_text("period,value\n2026-01,1\n\n2026-02\n", encoding="utf-8")
    config = make_config(source(path))
    rejects = tmp_path / "r.csv"
    with pytest.raises(IngestError):
        load(config, path, rejects=rejects)
    with rejects.open(encoding="utf-8", newline="") as fh:
        (row,) = list(csv.DictReader(fh))
    assert (row["line"], row["field"]) == ("4", "csv")


IAV = NBS / "raw_xls"
IAV_SOURCE = """
layout = "columns"
sheet = "Sheet3"
data_start_row = 5
region = "CN"
indicator = "fai_growth"
unmapped = "ignore"
columns = { period = "指标" }
series = { "规模以上工业增加值_累计同比实际增速" = { measure = "ytd_yoy_pct" } }
"""


def test_hidden_working_rows_of_a_real_xls_are_refused_or_skipped(
    make_config: Callable[[str], Config],
) -> None:
    path = IAV / "GKDGKD_IAV_by_industry_monthly_2010_2020.xls"
    config = make_config(source(path, IAV_SOURCE))
    with pytest.raises(IngestError) as info:
        load(config, path)
    (error,) = info.value.errors
    assert (error.line, error.field, error.value) == (19, "Sheet3!A19", "2019年增速平均值")
    assert "hidden row" in error.reason
    config = make_config(source(path, IAV_SOURCE + 'hidden = "skip"\n', "skip"))
    report = load(config, path)
    assert report.new > 0
    assert value(config, "fai_growth", "CN", "2019-02", "ytd_yoy_pct") == 5.3


@st.composite
def laid_out(draw: st.DrawFn) -> tuple[str, list[int], str]:
    """A CSV with empty lines and quoted line breaks anywhere, and each value's true line."""
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    layout = draw(st.sampled_from(["long", "columns"]))
    header = "period,value,note" if layout == "long" else "月份,ytd,note"
    out, lines, line = [header], [], 1
    for month in range(1, draw(st.integers(1, 9)) + 1):
        blanks = draw(st.integers(0, 2))
        out += [""] * blanks
        breaks = draw(st.integers(0, 2))
        plain = draw(st.sampled_from(["n", 'a"b', '"q""uoted"""']))  # a quote inside a cell
        note = '"' + newline.join(["x"] * (breaks + 1)) + '"' if breaks else plain
        line += blanks + 1
        period = f"2025-{month:02d}" if layout == "long" else f"2025年{month}月"
        out.append(f"{period},{month},{note}")
        lines.append(line)
        line += breaks
    return layout, lines, newline.join(out) + newline * draw(st.integers(0, 2))


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=laid_out())
def test_every_value_keeps_the_line_an_editor_shows(
    tmp_path_factory: pytest.TempPathFactory, case: tuple[str, list[int], str]
) -> None:
    layout, lines, data = case
    folder = tmp_path_factory.mktemp("lines")
    path = folder / "f.csv"
    path.write_bytes(data.encode())
    read = LONG_SOURCE if layout == "long" else COLUMNS + 'unmapped = "ignore"\n'
    (folder / "config.toml").write_text(BASE_TOML + source(path, read), encoding="utf-8")
    config = load_config(folder / "config.toml")
    load(config, path)
    con = duckdb.connect(str(config.store_path), read_only=True)
    stored = [r[0] for r in con.execute("SELECT line FROM observations ORDER BY period").fetchall()]
    con.close()
    assert stored == lines


def test_line_numbers_are_kept_as_runs_not_one_per_row(tmp_path: Path) -> None:
    rows = 200_000
    path = tmp_path / "f.csv"
    body = "".join(f"2025-01,{i}\n" for i in range(rows))
    path.write_text("period,value\n\n" + body + "\n\n", encoding="utf-8")
    runs = textfiles.record_runs(path, path, ",", 1, rows)
    assert runs.count == rows
    assert runs.frame().values.tolist() == [[0, 3]]  # one run: row r is on line 3 + r
