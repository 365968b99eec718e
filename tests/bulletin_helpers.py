"""A small store with every bulletin section, and reading a page through headless Chromium."""

from __future__ import annotations

import html
import json
import re
from datetime import date, datetime
from pathlib import Path

import pytest

from exporters import chromium
from ingest.errors import StageError
from kpiwatch import app
from kpiwatch.config import Config, load_config

CONFIG = """
[store]
path = "store.duckdb"

[[regions]]
id = "west_coast"
name = "西海岸新区"
owner = "西海岸新区管委会"
[[regions]]
id = "dongjiakou"
name = "董家口经济区"
parent = "west_coast"
owner = "董家口经济区管委会"
[[regions]]
id = "guzhenkou"
name = "古镇口核心区"
parent = "west_coast"
owner = "古镇口核心区管委会"
[[regions]]
id = "ecopark"
name = "中德生态园"
parent = "west_coast"
owner = "中德生态园管委会"
[[regions]]
id = "lingshan"
name = "灵山湾"
parent = "west_coast"
owner = "灵山湾管委会"

[[indicators]]
id = "urban_renewal"
name = "城市更新项目开工"
unit = "个"
kind = "flow"
owner = "住房和城乡建设局"
[[indicators]]
id = "fai"
name = "固定资产投资"
unit = "亿元"
kind = "flow"
owner = "发展和改革局"
[[indicators]]
id = "signed"
name = "签约亿元以上项目"
unit = "个"
kind = "flow"
owner = "投资促进局"

[[sources]]
name = "data"
path = "data*.csv"
layout = "long"
[sources.columns]
period = "period"
region = "region"
series = "indicator"
measure = "measure"
value = "value"

[[registers]]
name = "major"
path = "register.csv"
nodes = [{id = "signed", name = "签约"}, {id = "started", name = "开工"}]
counts = [{indicator = "signed", node = "signed", min_investment = 1}]

[[targets]]
indicator = "fai"
region = "west_coast"
year = 2026
annual = 120

[[targets]]
indicator = "signed"
region = "west_coast"
year = 2026
annual = 24
"""
# Each zone's urban-renewal starts a month: on pace; short of it; on pace until nothing in
# October (a new red); nothing in September, then catching up in October (recovered).
ZONES = {
    "dongjiakou": [10] * 10,
    "ecopark": [8] * 10,
    "guzhenkou": [11] * 9 + [0],
    "lingshan": [7] * 8 + [0, 60],
}
UNITS = ("董家口经济区管委会", "古镇口核心区管委会", "中德生态园管委会", "西海岸新区管委会")
MONTH = "2026-10"


def _data() -> str:
    lines = ["period,region,indicator,measure,value"]
    for zone, values in ZONES.items():
        lines += [f"2026-{m:02d},{zone},urban_renewal,value,{v}" for m, v in enumerate(values, 1)]
    lines.append("2026年1-2月,west_coast,fai,ytd,18")  # published together (1–2月)
    lines += [f"2026-{m:02d},west_coast,fai,ytd,{9 * m + 1}" for m in range(3, 11)]
    return "\n".join(lines) + "\n"


def _register() -> str:
    rows = []
    for n in range(1, 19):
        zone = ("董家口经济区", "古镇口核心区", "中德生态园")[n % 3]
        signed = f"2026-{(n % 10) + 1:02d}-{(n * 7) % 28 + 1:02d}"
        # a third of the starts planned for September and still not reported
        started = ("2026-09-15", "") if n % 3 == 0 else ("2026-12-01", "")
        rows.append(
            f"P{n:03d},项目{n},{zone},{zone}管委会,{5 + n},"
            f"{signed},{signed},,{started[0]},{started[1]},"
        )
    header = "项目编号,项目名称,区域,责任单位,总投资(亿元)," + ",".join(
        f"{n}计划,{n}实际,{n}认定" for n in ("签约", "开工")
    )
    return "\n".join([header, *rows]) + "\n"


def build_store(root: Path) -> Config:
    """The bulletin's store: zones on and off pace, a Jan–Feb figure, a revision, a register."""
    targets = "".join(
        f'\n[[targets]]\nindicator = "urban_renewal"\nregion = "{z}"\nyear = 2026\nannual = 120\n'
        for z in ZONES
    )
    (root / "config.toml").write_text(CONFIG + targets, encoding="utf-8")
    (root / "data.csv").write_text(_data(), encoding="utf-8")
    (root / "register.csv").write_text(_register(), encoding="utf-8")
    config = load_config(root / "config.toml")
    _ok(app.ingest(config, known_from=datetime(2026, 11, 5)))
    (root / "data_revised.csv").write_text(
        "period,region,indicator,measure,value\n2026-09,west_coast,fai,ytd,80\n", encoding="utf-8"
    )
    _ok(app.ingest(config, [root / "data_revised.csv"], known_from=datetime(2026, 11, 20)))
    app.refresh(config, date(2026, 11, 25))
    return config


def _ok(outcomes: list[app.FileOutcome]) -> None:
    assert all(o.error is None for o in outcomes), [str(o.error) for o in outcomes]


# Written into the page before Chromium dumps it: what the browser laid out.
PROBE = """
<script>
const box = (e) => { const r = e.getBoundingClientRect(); return [r.width, r.height]; };
const probe = {
  rows: document.querySelectorAll("table.items tbody tr").length,
  charts: [...document.querySelectorAll("figure.chart")].map(
      (f) => [f.dataset.key, ...box(f.querySelector("svg"))]),
  panels: [...document.querySelectorAll("figure.chart svg g[id^='c-']")].map(
      (g) => [g.id, ...box(g)]),
  units: [...document.querySelectorAll("td.unit")].map((td) => td.innerText.trim()),
  sections: [...document.querySelectorAll("body > section")].map((s) => s.id),
  text: document.body.innerText,
  chart_text: [...document.querySelectorAll("figure.chart svg text")].map((t) => t.textContent),
};
const pre = document.createElement("pre");
pre.id = "probe";
pre.textContent = JSON.stringify(probe);
document.body.appendChild(pre);
</script>
"""


def probe(page: str, where: Path) -> dict[str, object]:
    """Lay the page out in headless Chromium and read back rows, chart sizes and text."""
    path = where / "probed.html"
    path.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = _chromium(["--dump-dom"], path.as_uri()).decode("utf-8")
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    result: dict[str, object] = json.loads(html.unescape(found.group(1)))
    return result


def screenshot(url: str, png: Path, width: int = 900, height: int = 1300) -> None:
    """The page's first screen as PNG."""
    _chromium([f"--screenshot={png}", f"--window-size={width},{height}"], url)


def _chromium(args: list[str], url: str) -> bytes:
    """Chromium is a real component here: without it the test fails, never skips."""
    try:
        return chromium.run(args, url)
    except StageError as exc:
        pytest.fail(str(exc))
