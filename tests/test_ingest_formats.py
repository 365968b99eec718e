"""Every published format loads from the real files, or is refused saying why."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from ingest.errors import IngestError
from kpiwatch.config import Config
from tests.conftest import NBS
from tests.ingest_helpers import load, value

LONG = NBS / "china_core_indicators_long.csv"
PROVINCIAL_GBK = (
    NBS / "provincial" / ("newcodercircle_province_monthly_real_estate_construction_area_gbk.csv")
)
PROVINCIAL_UTF8 = (
    NBS / "provincial" / "province_monthly_real_estate_construction_area_long_utf8.csv"
)
PROVINCE_NAMES = """
北京市 天津市 河北省 山西省 内蒙古自治区 辽宁省 吉林省 黑龙江省 上海市 江苏省 浙江省 安徽省 福建省
江西省 山东省 河南省 湖北省 湖南省 广东省 广西壮族自治区 海南省 重庆市 四川省 贵州省 云南省
西藏自治区 陕西省 甘肃省 青海省 宁夏回族自治区 新疆维吾尔自治区
"""
PROVINCES = """
[[indicators]]
id = "floor_space"
name = "房地产施工面积"
unit = "万平方米"
kind = "flow"
""" + "".join(
    f'\n[[regions]]\nid = "p{i}"\nname = "{name}"\nparent = "CN"\n'
    for i, name in enumerate(PROVINCE_NAMES.split())
)
LONG_SOURCE = f"""
[[sources]]
name = "long"
path = "{LONG}"
layout = "long"
region = "CN"
unmapped = "ignore"
columns = {{ period = "period", value = "value", series = "indicator_cn", freq = "freq" }}
[sources.series]
"固定资产投资完成额:累计值" = {{ indicator = "fai", measure = "ytd" }}
"固定资产投资完成额:累计同比" = {{ indicator = "fai_growth", measure = "ytd_yoy_pct" }}
"""


def file_rows(path: Path, encoding: str = "utf-8-sig") -> list[dict[str, str]]:
    with path.open(encoding=encoding, newline="") as fh:
        return list(csv.DictReader(fh))


def stored(
    config: Config, sql: str, params: list[object] | None = None
) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(config.store_path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def test_long_csv_loads_the_mapped_series(make_config: Callable[[str], Config]) -> None:
    config = make_config(LONG_SOURCE)
    report = load(config, LONG)
    rows = file_rows(LONG)
    want = [r for r in rows if r["indicator_cn"] == "固定资产投资完成额:累计值" and r["value"]]
    assert report.new == len(want) + len(
        [r for r in rows if r["indicator_cn"] == "固定资产投资完成额:累计同比" and r["value"]]
    )
    for r in want[::50]:
        assert value(config, "fai", "CN", r["period"], "ytd") == pytest.approx(float(r["value"]))


def test_long_csv_with_two_vendor_copies_of_one_key_is_refused(
    make_config: Callable[[str], Config],
) -> None:
    config = make_config(
        LONG_SOURCE.replace('unmapped = "ignore"', 'unmapped = "ignore"')
        + '"fixed_asset_investment.ytd_value" = { indicator = "fai", measure = "ytd" }\n'
    )
    rows = file_rows(LONG)
    first: dict[str, tuple[int, str]] = {}
    conflict_line = None
    names = {"固定资产投资完成额:累计值", "fixed_asset_investment.ytd_value"}
    for n, r in enumerate(rows, start=2):
        if r["indicator_cn"] in names and r["value"]:
            seen = first.setdefault(r["period"], (n, r["value"]))
            if float(seen[1]) != float(r["value"]) and conflict_line is None:
                conflict_line = n
    with pytest.raises(IngestError) as info:
        load(config, LONG)
    assert info.value.errors[0].line == conflict_line
    assert "duplicate key" in info.value.errors[0].reason
    assert str(LONG) in str(info.value)


def test_panel_layout_keeps_jan_feb_combined(make_config: Callable[[str], Config]) -> None:
    path = NBS / "akshare_panel" / "retail_sales.csv"
    config = make_config(f"""
        [[sources]]
        name = "panel"
        path = "{path}"
        layout = "columns"
        region = "CN"
        indicator = "fai"
        unmapped = "ignore"
        columns = {{ period = "date", jan_feb = "jan_feb_combined" }}
        [sources.series]
        value = {{ measure = "value" }}
        ytd_value = {{ measure = "ytd" }}
    """)
    load(config, path)
    rows = file_rows(path)
    combined = [r for r in rows if r["jan_feb_combined"] == "True"]
    assert combined, "the real file has Jan–Feb combined releases"
    for r in combined:
        year = r["date"][:4]
        assert value(config, "fai", "CN", f"{year}-02", "ytd") == float(r["ytd_value"])
        assert value(config, "fai", "CN", f"{year}-01", "ytd") is None
        assert value(config, "fai", "CN", f"{year}-01", "value") is None
    n_ytd = stored(config, "SELECT count(*) FROM observations WHERE measure = 'ytd'")
    assert n_ytd == [(sum(1 for r in rows if r["ytd_value"]),)]


def test_gbk_wide_table_equals_the_utf8_long_copy(
    make_config: Callable[[str], Config], tmp_path: Path
) -> None:
    config = make_config(
        PROVINCES
        + f"""
        [[sources]]
        name = "gbk"
        path = "{PROVINCIAL_GBK}"
        layout = "wide"
        encoding = "auto"
        row_key = "region"
        indicator = "floor_space"
        measure = "ytd"
        revises_ytd = true
        columns = {{ key = "地区" }}

        [[sources]]
        name = "utf8"
        path = "{PROVINCIAL_UTF8}"
        layout = "long"
        indicator = "floor_space"
        measure = "ytd"
        revises_ytd = true
        columns = {{ period = "period", value = "value", region = "province" }}
    """
    )
    report = load(config, PROVINCIAL_GBK, "gbk")
    assert len({s.region for s in report.series}) == 31
    assert value(config, "floor_space", "p0", "2023-04", "ytd") == 11681.17
    cells = sum(
        1 for row in file_rows(PROVINCIAL_GBK, "gbk") for k, v in row.items() if k != "地区" and v
    )
    assert report.new == cells
    again = load(config, PROVINCIAL_UTF8, "utf8")
    assert (again.new, again.revised) == (0, 0), "the UTF-8 copy holds the same figures"
    assert again.unchanged == report.new


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gb18030"])
def test_long_csv_in_other_encodings_loads_the_same(
    make_config: Callable[[str], Config], tmp_path: Path, encoding: str
) -> None:
    copy = tmp_path / f"long-{encoding}.csv"
    copy.write_text(LONG.read_text(encoding="utf-8"), encoding=encoding)
    config = make_config(LONG_SOURCE.replace(str(LONG), str(copy)))
    first = load(config, copy)
    assert first.new > 600
    plain = load(config, LONG)
    assert (plain.new, plain.revised, plain.unchanged) == (0, 0, first.new)


def test_xls_columns_sheet_with_note_rows(make_config: Callable[[str], Config]) -> None:
    path = NBS / "raw_xls" / "GKDGKD_industrial_output_monthly.xls"
    config = make_config(f"""
        [[indicators]]
        id = "crude_oil"
        name = "原油产量"
        unit = "万吨"
        kind = "flow"
        [[sources]]
        name = "xls"
        path = "{path}"
        layout = "columns"
        sheet = "Sheet1"
        data_start_row = 5
        region = "CN"
        unmapped = "ignore"
        columns = {{ period = "指标" }}
        [sources.series]
        "原油产量_当期" = {{ indicator = "crude_oil", measure = "value" }}
    """)
    report = load(config, path)
    assert value(config, "crude_oil", "CN", "2020-03", "value") == 1656.3
    assert value(config, "crude_oil", "CN", "2010-05", "value") == 1715.3
    assert value(config, "crude_oil", "CN", "2020-02", "value") is None  # missing, not zero
    assert report.new == 106


def test_xls_wide_quarterly_sheet(make_config: Callable[[str], Config]) -> None:
    path = NBS / "raw_xls" / "GKDGKD_GDP_current_prices_18q.xls"
    config = make_config(f"""
        [[indicators]]
        id = "gdp"
        name = "国内生产总值"
        unit = "亿元"
        kind = "flow"
        frequency = "quarterly"
        [[sources]]
        name = "xls"
        path = "{path}"
        layout = "wide"
        sheet = "季度数据"
        header_row = 3
        region = "CN"
        freq = "Q"
        unmapped = "ignore"
        columns = {{ key = "指标" }}
        [sources.series]
        "国内生产总值当季值(亿元)" = {{ indicator = "gdp", measure = "value" }}
        "国内生产总值累计值(亿元)" = {{ indicator = "gdp", measure = "ytd" }}
    """)
    report = load(config, path)
    assert report.new == 36
    assert value(config, "gdp", "CN", "2019Q4", "ytd") == 990865.1
    assert value(config, "gdp", "CN", "2020Q1", "value") == 206504.3


def test_xlsx_vendor_sheet_agrees_with_the_long_table(make_config: Callable[[str], Config]) -> None:
    path = NBS / "raw_xls" / "MinjieNote_4_FixedAsset.xlsx"
    config = make_config(
        LONG_SOURCE
        + f"""
        [[sources]]
        name = "xlsx"
        path = "{path}"
        layout = "columns"
        sheet = "当月"
        header_row = 4
        data_start_row = 11
        region = "CN"
        unmapped = "ignore"
        columns = {{ period = "指标名称" }}
        [sources.series]
        "固定资产投资完成额:累计值" = {{ indicator = "fai", measure = "ytd" }}
    """
    )
    report = load(config, path, "xlsx")
    assert value(config, "fai", "CN", "2020-03", "ytd") == 84145
    again = load(config, LONG, "long")
    fai = next(s for s in again.series if s.measure == "ytd")
    assert fai.revised == 0, "the long table was derived from this workbook"
    assert fai.unchanged == report.new


IAV_13M = NBS / "raw_xls" / "GKDGKD_IAV_monthly_NBS_13m.xls"
IAV_SOURCE = f"""
    [[sources]]
    name = "xls"
    path = "{IAV_13M}"
    layout = "wide"
    sheet = "SHEET"
    header_row = HEADER
    region = "CN"
    indicator = "fai_growth"
    unmapped = "UNMAPPED"
    columns = {{ key = "指标" }}
    [sources.series]
    "工业增加值累计增长(%)" = {{ measure = "ytd_yoy_pct" }}
    "工业增加值同比增长(%)" = {{ measure = "yoy_pct" }}
"""


def iav_source(sheet: str, header: int, unmapped: str) -> str:
    return (
        IAV_SOURCE.replace("SHEET", sheet)
        .replace("HEADER", str(header))
        .replace("UNMAPPED", unmapped)
    )


def test_sheet_with_values_beyond_the_period_header_is_refused(
    make_config: Callable[[str], Config],
) -> None:
    config = make_config(iav_source("月度数据", 3, "ignore"))
    with pytest.raises(IngestError) as info:
        load(config, IAV_13M)
    first = info.value.errors[0]
    assert (first.line, first.field, first.value) == (4, "W4", "6.8")
    assert "no period" in first.reason


def test_sheet_with_a_second_table_below_is_refused_row_by_row(
    make_config: Callable[[str], Config],
) -> None:
    config = make_config(iav_source("累计", 1, "error"))
    with pytest.raises(IngestError) as info:
        load(config, IAV_13M)
    first = info.value.errors[0]
    assert (first.line, first.field, first.value) == (
        3,
        "指标",
        "煤炭开采和洗选业增加值累计增长(%)",
    )
    assert "not mapped" in first.reason
    assert any(e.value == "2018年10月" for e in info.value.errors), "the transposed block below"


def test_unit_scale_converts_wan_yuan(make_config: Callable[[str], Config], tmp_path: Path) -> None:
    path = tmp_path / "wc.csv"
    path.write_text("period,value\n2024年1-2月,1500000\n2024年3月,2600000\n", encoding="utf-8")
    config = make_config(f"""
        [[sources]]
        name = "wc"
        path = "{path}"
        layout = "long"
        region = "west_coast"
        indicator = "fai"
        measure = "ytd"
        scale = 0.0001
        columns = {{ period = "period", value = "value" }}
    """)
    load(config, path)
    assert value(config, "fai", "west_coast", "2024-02", "ytd") == pytest.approx(150.0)
    assert value(config, "fai", "west_coast", "2024-03", "ytd") == pytest.approx(260.0)
