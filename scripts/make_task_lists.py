"""Generate the illustrative task lists of the third task force (fixed seed, reproducible).

Only the quantities are the action plan's: 627 urban-renewal projects to start in the
year, 151 of them in Q1; 22 model districts; 26 model roads; 13 city-management
campaigns. Every task, person, date, report and problem is invented for the demo.
Writes three CSV files into the folder given (default sample/task_lists_illustrative):
tasks.csv (the lists), progress.csv (weekly reports to LAST) and problems.csv.
Run: python scripts/make_task_lists.py [FOLDER]
"""

from __future__ import annotations

import csv
import random
import sys
from datetime import date, timedelta
from pathlib import Path

SEED = 20260105
LAST = date(2026, 11, 27)  # the last Friday reported
ZONES = {"sino_german_ecopark": 0.30, "dongjiakou": 0.45, "guzhenkou": 0.25}
TASK_COLUMNS = [
    "task", "title", "unit", "person", "supporting", "cadence", "start", "deadline",
    "quantity", "quantity_unit", "parent",
]  # fmt: skip


def fridays(first: date, last: date) -> list[date]:
    """Every Friday from first to last."""
    day = first + timedelta(days=(4 - first.weekday()) % 7)
    out = []
    while day <= last:
        out.append(day)
        day += timedelta(days=7)
    return out


def finished(rng: random.Random, deadline: date) -> date | None:
    """When an item was finished: mostly by its deadline, some late, some not yet."""
    roll = rng.random()
    if roll < 0.72:  # never before the plan's first working week
        return max(date(2026, 1, 5), deadline - timedelta(days=rng.randint(0, 20)))
    if roll < 0.92:
        return deadline + timedelta(days=rng.randint(1, 24))
    return None


def key_works() -> list[dict[str, object]]:
    """The plan's quantities as key works with a quantity target."""
    y = {"start": "2026-01-01", "cadence": "week", "parent": "", "supporting": ""}
    return [
        {**y, "task": "UR-2026", "title": "城市更新项目开工", "unit": "renewal",
         "person": "更新指挥部总指挥", "deadline": "2026-12-31", "quantity": 627,
         "quantity_unit": "个"},
        {**y, "task": "UR-Q1", "title": "城市更新项目一季度开工", "unit": "renewal",
         "person": "更新指挥部总指挥", "deadline": "2026-03-31", "quantity": 151,
         "quantity_unit": "个", "parent": "UR-2026"},
        {**y, "task": "MD-2026", "title": "示范片区建设", "unit": "housing",
         "person": "住建局局长", "deadline": "2026-11-30", "quantity": 22,
         "quantity_unit": "个"},
        {**y, "task": "MR-2026", "title": "示范道路整治", "unit": "transport",
         "person": "交通局局长", "supporting": "city_invest", "deadline": "2026-10-31",
         "quantity": 26, "quantity_unit": "条"},
        {**y, "task": "CM-2026", "title": "城市管理攻坚行动", "unit": "enforcement",
         "person": "执法局局长", "cadence": "month", "deadline": "2026-12-31",
         "quantity": 13, "quantity_unit": "项"},
    ]  # fmt: skip


def items(rng: random.Random) -> list[tuple[dict[str, object], date | None]]:
    """Every project, district, road and campaign as a task, with when it finished."""
    out = []
    q1, rest = fridays(date(2026, 1, 9), date(2026, 3, 27)), fridays(date(2026, 4, 3), LAST)
    for n in range(1, 628):
        zone = rng.choices(list(ZONES), weights=list(ZONES.values()))[0]
        deadline = rng.choice(q1 if n <= 151 else rest + fridays(LAST, date(2026, 12, 25)))
        parent = "UR-Q1" if n <= 151 else "UR-2026"
        task = {"task": f"UR-{n:03d}", "title": f"城市更新项目{n}开工", "unit": zone,
                "person": f"项目长{n:03d}", "supporting": "renewal", "cadence": "week",
                "deadline": deadline, "parent": parent}  # fmt: skip
        out.append((task, finished(rng, deadline)))
    for prefix, count, unit, what, first, last, cadence, support in (
        ("MD", 22, "housing", "示范片区", date(2026, 5, 1), date(2026, 11, 27), "month", ""),
        ("MR", 26, "transport", "示范道路", date(2026, 4, 3), date(2026, 10, 30), "week",
         "city_invest"),
        ("CM", 13, "enforcement", "城市管理攻坚行动", date(2026, 2, 27), date(2026, 12, 25),
         "month", ""),
    ):  # fmt: skip
        days = fridays(first, last)
        for n in range(1, count + 1):
            deadline = days[(n - 1) * len(days) // count]
            task = {"task": f"{prefix}-{n:02d}", "title": f"{what}{n}", "unit": unit,
                    "person": f"{what}责任人{n}", "supporting": support, "cadence": cadence,
                    "deadline": deadline, "parent": f"{prefix}-2026"}  # fmt: skip
            out.append((task, finished(rng, deadline)))
    return out


def reports(listed: list[tuple[dict[str, object], date | None]]) -> list[list[object]]:
    """A done report per finished item, and each key work's weekly count of them."""
    rows: list[list[object]] = []
    weekly: dict[tuple[str, date], int] = {}
    for task, done in listed:
        if done is None or done > LAST:
            continue
        rows.append([task["task"], done, "", "是", "办结"])
        friday = done + timedelta(days=(4 - done.weekday()) % 7)
        for parent in {str(task["parent"]), "UR-2026" if task["parent"] == "UR-Q1" else ""}:
            if parent:
                weekly[(parent, friday)] = weekly.get((parent, friday), 0) + 1
    for (parent, friday), n in sorted(weekly.items()):
        if friday <= LAST:
            rows.append([parent, friday, n, "", "本周完成"])
    return sorted(rows, key=lambda r: (str(r[1]), str(r[0])))


def problems(rng: random.Random) -> list[list[object]]:
    """Problems raised at the ten-day reviews (每旬分析), due within a 旬, most solved."""
    units = ["renewal", "housing", "transport", "enforcement", "city_invest", *ZONES]
    topics = ["征收协调", "资金拨付", "管线迁改", "手续办理", "施工许可", "交通导改"]
    rows = []
    for n in range(1, 61):
        raised = date(2026, 1, 10) + timedelta(days=rng.randint(0, 320))
        due = raised + timedelta(days=10)
        solved = raised + timedelta(days=rng.randint(2, 25)) if rng.random() < 0.8 else None
        solved = solved if solved is not None and solved <= LAST else None
        rows.append([f"Q-{n:03d}", rng.choice(topics), rng.choice(units), "", "", raised, due,
                     solved or ""])  # fmt: skip
    return rows


def write(path: Path, header: list[str], rows: list[list[object]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(header)
        out.writerows(rows)


def main(folder: Path) -> None:
    rng = random.Random(SEED)
    folder.mkdir(parents=True, exist_ok=True)
    listed = items(rng)
    tasks = key_works() + [t for t, _ in listed]
    write(folder / "tasks.csv", TASK_COLUMNS, [[t.get(c, "") for c in TASK_COLUMNS] for t in tasks])
    write(folder / "progress.csv", ["task", "date", "quantity", "done", "note"], reports(listed))
    header = ["problem", "title", "unit", "task", "project", "raised", "due", "resolved"]
    write(folder / "problems.csv", header, problems(rng))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("sample/task_lists_illustrative"))
