"""The monthly bulletin, laid out by headless Chromium: every section, from a real store."""

from __future__ import annotations

import re
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import bcrypt
import duckdb
import pytest
from click.testing import CliRunner, Result
from matplotlib.image import imread

from kpiwatch.cli import cli
from kpiwatch.config import Config
from kpiwatch.report import Request, build
from tests.bulletin_helpers import MONTH, UNITS, ZONES, build_store, probe, screenshot
from tests.service_helpers import free_port, kpiwatch_serve, wait_for
from tests.test_access import PASSWORD, https, make_cert

SECTIONS = ["headline", "board", "charts", "ranking", "named", "projects", "notes"]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Config:
    return build_store(tmp_path_factory.mktemp("bulletin"))


@pytest.fixture(scope="module")
def page(store: Config, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The October bulletin written by the command a user runs."""
    out = tmp_path_factory.mktemp("page") / "bulletin.html"
    done = _run(store, "report", "--month", MONTH, "-o", str(out))
    assert done.exit_code == 0, done.output
    yield out


@pytest.fixture(scope="module")
def laid_out(page: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    return probe(page.read_text(encoding="utf-8"), tmp_path_factory.mktemp("probe"))


def _run(config: Config, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(
        cli, ["--config", str(config.base_dir / "config.toml"), *args], env=env
    )


def _items(config: Config, where: str = "true") -> set[tuple[str, str]]:
    """The store's items checked in the month, read independently of the bulletin."""
    con = duckdb.connect(str(config.store_path), read_only=True)
    try:
        rows = con.execute(
            "SELECT DISTINCT indicator, region FROM progress "
            f"WHERE strftime(as_of_end, '%Y-%m') = ? AND {where}",
            [MONTH],
        ).fetchall()
    finally:
        con.close()
    return {(str(i), str(r)) for i, r in rows}


def test_the_table_has_a_row_per_item_and_every_chart_is_laid_out(
    store: Config, laid_out: dict[str, object]
) -> None:
    items = _items(store)
    assert laid_out["rows"] == len(items) == 6
    charts, panels = laid_out["charts"], laid_out["panels"]
    assert isinstance(charts, list) and isinstance(panels, list)
    keys = {str(key) for key, _, _ in charts}
    # one region: a wide chart; the four zones: small multiples, a panel each, one figure
    assert {"c-fai-west_coast", "c-signed-west_coast", "g-urban_renewal-0"} <= keys
    assert {str(key) for key, _, _ in panels} == {f"c-urban_renewal-{z}" for z in ZONES}
    assert {f"c-{i}-{r}" for i, r in items} <= keys | {str(key) for key, _, _ in panels}
    assert any(key.startswith("p-signed-") for key in keys)  # the 进度图 of the register
    assert all(w > 50 and h > 30 for _, w, h in charts + panels), charts + panels


def test_sections_come_in_the_readers_order_with_chinese_text(
    laid_out: dict[str, object],
) -> None:
    assert laid_out["sections"] == SECTIONS
    units = laid_out["units"]
    assert isinstance(units, list)
    for unit in UNITS:
        assert unit in units
    text = str(laid_out["text"])
    for expected in ("城市更新项目开工", "古镇口核心区", "挂图作战", "签约亿元以上项目"):
        assert expected in text
    # a small multiple's panel names its region in the chart's own text (not a glyph path)
    assert "古镇口核心区 2026-10" in str(laid_out["chart_text"])


def test_headline_changes_ranking_ladder_projects_and_notes(laid_out: dict[str, object]) -> None:
    text = str(laid_out["text"])
    # guzhenkou started nothing in October: red now, on track in September
    new_reds = text.split("New reds since the previous check:")[1].split("\n")[0]
    assert "城市更新项目开工 · 古镇口核心区" in new_reds
    assert "城市更新项目开工 · 董家口经济区" not in new_reds
    # lingshan started nothing in September and caught up in October
    recovered = text.split("Recovered:")[1].split("\n")[0]
    assert recovered.strip() == "城市更新项目开工 · 灵山湾"
    ranking = text.split("Ranking within parent")[1].split("Named units")[0]
    order = [ranking.index(z) for z in ("董家口经济区", "古镇口核心区", "中德生态园")]
    assert order == sorted(order)
    named = text.split("Named units and escalations")[1].split("Major projects")[0]
    assert "中德生态园管委会" in named and "通报" in named
    projects = text.split("Major projects")[1].split("Data notes")[0]
    # one project signed in October (on the 8th: its first 旬) against a month target of 2
    assert "签约亿元以上项目 · 西海岸新区\t1\t0\t0\t1\t2.00" in projects
    assert "进度图 签约亿元以上项目 · 西海岸新区" in projects  # the chart: top of the tree only
    # six starts planned for 15 September, none reported: 46 days late on 31 October
    assert "董家口经济区管委会\t6\t6\t46" in projects.split("Overdue nodes by unit")[1]
    notes = text.split("Data notes")[1]
    assert "固定资产投资 · 西海岸新区: January and February published together" in notes
    assert "固定资产投资 · 西海岸新区: 1 period(s) revised" in notes


def test_the_first_screen_is_drawn(page: Path, tmp_path: Path) -> None:
    png = tmp_path / "first.png"
    screenshot(page.as_uri(), png)
    pixels = imread(png)
    assert pixels.shape[0] > 1000 and pixels.shape[1] >= 900
    assert pixels.std() > 0.05  # text, colours and lines, not a blank page


def test_a_region_or_a_unit_narrows_the_bulletin(store: Config) -> None:
    zone = build(store, Request(MONTH, region="古镇口核心区"))
    assert zone.count('<tr class="item') == len(_items(store, "region = 'guzhenkou'")) == 1
    unit = build(store, Request(MONTH, unit="西海岸新区管委会"))  # a region's own owner
    assert unit.count('<tr class="item') == 2 and "固定资产投资" in unit


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--month", "2025-10"], "no checks for 2025-10 (checks run from 2026-01 to 2026-10)"),
        (["--month", "2026-13"], "--month '2026-13': expected a month as YYYY-MM"),
        (["--month", MONTH, "--region", "atlantis"], "no region 'atlantis'"),
        (["--month", MONTH, "--unit", "无此单位"], "unit '无此单位': no such unit"),
    ],
)
def test_bad_requests_are_one_clear_line(
    store: Config, tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "b.html"
    done = _run(store, "report", *args, "-o", str(out))
    assert done.exit_code == 1
    assert message in done.output and len(done.output.strip().splitlines()) == 1
    assert not out.exists()


def _poppler(*args: str) -> str:
    """pdfinfo or pdftotext (Debian's poppler-utils): a real component, never skipped."""
    if shutil.which(args[0]) is None:
        pytest.fail(f"{args[0]} not found: install Debian's poppler-utils (make tools)")
    return subprocess.run(args, capture_output=True, check=True, text=True).stdout


def test_the_pdf_is_a4_with_the_table_first_and_the_charts_on_their_own_pages(
    store: Config, tmp_path: Path
) -> None:
    pdf = tmp_path / "bulletin.pdf"
    done = _run(store, "report", "--month", MONTH, "--format", "pdf", "-o", str(pdf))
    assert done.exit_code == 0, done.output
    info = _poppler("pdfinfo", str(pdf))
    assert re.search(r"Page size:\s+59\d\.\d+ x 84\d\.\d+ pts \(A4\)", info), info
    pages = int(re.search(r"Pages:\s+(\d+)", info).group(1))  # type: ignore[union-attr]
    text = [_poppler("pdftotext", "-f", str(n), "-l", str(n), str(pdf), "-") for n in range(1, 5)]
    # the headline and the table; the charts (one figure of four small multiples, two
    # full-width charts) on a page of their own, the panels' titles as text;
    # ranking, units and projects; notes
    assert pages == 4
    assert "Monthly bulletin 2026-10" in text[0] and "挂图作战" not in text[0]
    for unit in UNITS:
        assert unit in text[0]
    assert "挂图作战" in text[1] and "古镇口核心区 2026-10" in text[1]
    assert "Ranking within parent" not in text[1]
    assert "Ranking within parent" in text[2] and "Data notes" in text[3]
    assert "古镇口核心区管委会" in text[2]  # named: red this month


def test_a_pdf_without_chromium_says_how_to_get_it(store: Config, tmp_path: Path) -> None:
    pdf = tmp_path / "bulletin.pdf"
    args = ("report", "--month", MONTH, "--format", "pdf", "-o", str(pdf))
    done = _run(store, *args, env={"PATH": str(tmp_path)})
    assert done.exit_code == 1 and not pdf.exists()
    assert done.output.strip() == (
        "chromium not found: install Debian's chromium package (make tools)"
    )


def test_the_service_serves_the_bulletin_with_the_tls_and_auth_of_metrics(
    store: Config, tmp_path: Path
) -> None:
    work = tmp_path / "served"
    shutil.copytree(store.base_dir, work)
    make_cert(work)
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    (work / "web.yml").write_text(
        "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
        f"basic_auth_users:\n  board: '{hashed}'\n",
        encoding="utf-8",
    )
    with (work / "config.toml").open("a", encoding="utf-8") as config:
        config.write('\n[server]\nweb_config_file = "web.yml"\n')
    ctx = ssl.create_default_context(cafile=str(work / "server.crt"))
    port, token, user = free_port(), "bulletin-refresh", f"board:{PASSWORD}"
    base = f"https://127.0.0.1:{port}/bulletin"
    with kpiwatch_serve(work, port, env={"KPIWATCH_REFRESH_TOKEN": token}, today="2026-11-25"):
        wait_for(lambda: https(base, ctx, user)[0] == 200, timeout=120, what="the bulletin")
        assert https(base, ctx)[0] == 401 and https(f"{base}/2026-09", ctx)[0] == 401
        page = https(base, ctx, user)[1].decode("utf-8")
        assert "Monthly bulletin 2026-10" in page and '<meta http-equiv="refresh"' in page
        code, older = https(f"{base}/2026-09", ctx, user)
        assert code == 200 and "Monthly bulletin 2026-09" in older.decode("utf-8")
        code, body = https(f"{base}/2025-01", ctx, user)
        assert code == 404 and body.decode("utf-8").startswith("no checks for 2025-01")
        assert https(f"{base}/junk", ctx, user)[0] == 404
        assert https(base, ctx, user, "POST")[0] == 405
        zone, zone_page = _scoped_pages(base, ctx, user)
        # each good refresh rebuilds the current page
        stamp = re.search(r"generated ([\d-]+ [\d:]+)", page)
        assert stamp is not None
        refresh = f"https://127.0.0.1:{port}/-/refresh"
        assert https(refresh, ctx, user, "POST", {"X-Refresh-Token": token})[0] == 202
        wait_for(
            lambda: stamp.group(1) not in https(base, ctx, user)[1].decode("utf-8"),
            timeout=120,
            what="the bulletin rebuilt after a refresh",
        )
        assert https(zone, ctx, user)[1] != zone_page  # a scope's page is rebuilt too
    laid = probe(page, tmp_path)
    assert laid["rows"] == 6 and laid["sections"] == SECTIONS
    charts = laid["charts"]
    assert isinstance(charts, list) and charts
    assert all(w > 50 and h > 30 for _, w, h in charts)
    laid = probe(zone_page.decode("utf-8"), tmp_path)
    assert laid["rows"] == 1 and "古镇口核心区" in str(laid["text"])
    charts = laid["charts"]
    assert isinstance(charts, list) and charts
    assert all(w > 50 and h > 30 for _, w, h in charts)


def _scoped_pages(base: str, ctx: ssl.SSLContext, user: str) -> tuple[str, bytes]:
    """A region's and a unit's bulletin, kept until the next refresh; an unknown region or
    unit is a 404 with the reason, a parameter the route does not take a 400."""
    zone = f"{base}?region={quote('古镇口核心区')}"
    assert https(zone, ctx)[0] == 401
    code, page = https(zone, ctx, user)
    assert code == 200 and page.count(b'<tr class="item') == 1
    assert b'<meta http-equiv="refresh"' in page  # the current month: a wall screen's page
    assert https(zone, ctx, user)[1] == page  # the same page, not built again
    code, unit = https(f"{base}/2026-09?unit={quote('西海岸新区管委会')}", ctx, user)
    assert code == 200 and unit.count(b'<tr class="item') == 2
    assert "Monthly bulletin 2026-09" in unit.decode("utf-8")
    for query, reason in [
        ("region=atlantis", "no region 'atlantis'"),
        (f"unit={quote('无此单位')}", "unit '无此单位': no such unit"),
        (f"region=lingshan&unit={quote('董家口经济区管委会')}", "no checks for 2026-10 in region"),
        ("colour=red", "unknown parameter 'colour': /bulletin takes region and unit"),
        ("region=a&region=b", "region: give one non-empty value"),
    ]:
        code, body = https(f"{base}?{query}", ctx, user)
        assert code == (400 if "region and unit" in reason or "one" in reason else 404)
        assert body.decode("utf-8").startswith(reason), body
    assert https(f"{base}/2026-09?region=atlantis", ctx, user)[0] == 404
    return zone, page


def test_make_tools_installs_the_browser_fonts_and_pdf_tools_when_missing() -> None:
    plan = subprocess.run(
        ["make", "-n", "-C", str(Path(__file__).resolve().parent.parent), "tools"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "command -v chromium" in plan and "command -v pdftotext" in plan
    assert "Noto Sans CJK" in plan
    assert "apt-get install -y -qq --no-install-recommends" in plan
    assert "chromium fonts-noto-cjk poppler-utils" in plan
