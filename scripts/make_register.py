"""Generate the illustrative major-project register of the demo (fixed seed, reproducible).

About 3,000 projects of the West Coast New Area's three zones, planned to start from
2023 to 2028 with the March push of 集中开工, each with the default nodes (签约 for the
investment-attraction projects, the 7 key approvals, 开工, 竣工) planned and, up to the
register's day, reported and mostly confirmed. Some starts slip by weeks; about 4 % of
projects are stuck at one approval. Every figure is invented: only the targets the demo
checks them against are the action plan's.
Run: python scripts/make_register.py > sample/major_projects_register.csv
"""

from __future__ import annotations

import csv
import math
import random
import sys
from datetime import date, timedelta

SEED = 20260301
PROJECTS = 3000
AS_OF = date(2026, 11, 20)  # the register's day: the end of November's second 旬
ZONES = {"中德生态园": 0.30, "董家口经济区": 0.45, "古镇口核心区": 0.25}
UNITS = ["发展改革局", "工业和信息化局", "住房城乡建设局", "交通运输局", "商务局", "文化和旅游局"]
SUPPORT = ["自然资源局", "生态环境分局", "行政审批服务局", "财政局"]
KINDS = ["智能制造", "新能源", "海洋经济", "港航物流", "文旅康养", "城市更新", "基础设施"]
# Planned starts per month of each year (March is the concentrated start, 集中开工).
PROFILE = [0.06, 0.07, 0.30, 0.10, 0.08, 0.08, 0.05, 0.05, 0.07, 0.05, 0.05, 0.04]
YEARS = {2023: 0.12, 2024: 0.19, 2025: 0.2, 2026: 0.2, 2027: 0.19, 2028: 0.1}
NODES = ["签约", "立项", "土地", "规划许可", "环评", "概算批复", "施工图审查", "施工许可"]
NODES += ["开工", "竣工"]
HEADER = [
    "项目编号",
    "项目名称",
    "区域",
    "责任单位",
    "配合单位",
    "总投资(亿元)",
    "类别",
    "到位资金(亿元)",
    "形象进度(%)",
] + [f"{n}{s}" for n in NODES for s in ("计划", "实际", "认定")]


def planned_start(rng: random.Random) -> date:
    """A planned start: year, then month by the profile, then a day."""
    year = rng.choices(list(YEARS), list(YEARS.values()))[0]
    month = rng.choices(range(1, 13), PROFILE)[0]
    return date(year, month, rng.randint(1, 28))


def investment(rng: random.Random) -> float:
    """Total investment in 亿元: a long tail, about 7 % of projects at 50 亿 or more."""
    return round(max(0.3, math.exp(rng.gauss(1.6, 1.5))), 1)


def slip(rng: random.Random) -> int:
    """Days an event happens after its plan: most on time, some weeks late."""
    return 0 if rng.random() < 0.55 else int(rng.expovariate(1 / 20))


def project(rng: random.Random, n: int) -> list[str]:
    start = planned_start(rng)
    amount = investment(rng)
    attracted = rng.random() < 0.45  # investment-attraction projects are signed first
    first = start - timedelta(days=rng.randint(150, 360))
    plans = [first + (start - first) * k / 8 for k in range(8)]
    plans += [start, start + timedelta(days=rng.randint(360, 1100))]
    stuck_at = rng.randint(2, 7) if rng.random() < 0.04 else None
    if stuck_at is not None and plans[stuck_at] < AS_OF - timedelta(days=240):
        stuck_at = None  # registers drop projects stuck for years: these are recent
    cells: list[str] = []
    done_until = date.min
    for k, plan in enumerate(plans):
        if k == 0 and not attracted:
            cells += ["", "", ""]
            continue
        actual = max(plan + timedelta(days=slip(rng)), done_until)
        if (stuck_at is not None and k >= stuck_at) or actual > AS_OF:
            cells += [plan.isoformat(), "", ""]
            done_until = date.max
            continue
        done_until = actual
        confirmed = actual + timedelta(days=rng.randint(0, 10))
        cells += [plan.isoformat(), _published(rng, actual), _confirmed(confirmed)]
    progress = _progress(plans, cells)
    zone = rng.choices(list(ZONES), list(ZONES.values()))[0]
    funds = round(amount * progress / 100 * rng.uniform(0.8, 1.2), 1)
    name = f"{rng.choice(KINDS)}项目{n:04d}"
    unit, support = rng.choice(UNITS), "、".join(rng.sample(SUPPORT, 2))
    head = [f"XHA-{n:04d}", name, zone, unit, support, f"{amount}", name[:4], f"{funds}"]
    return [*head, f"{progress}", *cells]


def _published(rng: random.Random, day: date) -> str:
    """Dates as units type them: ISO, slashes or 年月日."""
    style = rng.random()
    if style < 0.6:
        return day.isoformat()
    if style < 0.85:
        return f"{day.year}/{day.month}/{day.day}"
    return f"{day.year}年{day.month}月{day.day}日"


def _confirmed(day: date) -> str:
    """Confirmed once a 旬 review has passed since; recent events are reported only."""
    return day.isoformat() if day <= AS_OF - timedelta(days=10) else ""


def _progress(plans: list[date], cells: list[str]) -> int:
    """Physical progress (%): 0 before the start, 100 when completed, linear between."""
    started, completed = cells[8 * 3 + 1], cells[9 * 3 + 1]
    if completed:
        return 100
    if not started:
        return 0
    span = (plans[9] - plans[8]).days
    return min(95, max(1, round(100 * (AS_OF - plans[8]).days / span)))


def main() -> None:
    rng = random.Random(SEED)
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(project(rng, n) for n in range(1, PROJECTS + 1))


if __name__ == "__main__":
    main()
