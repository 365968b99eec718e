"""The nowcasts as `kpiwatch status` shows them: the open quarters and the latest news."""

from __future__ import annotations

from kpiwatch.board import read_store
from kpiwatch.config import Config

NOWCASTS_SQL = """
SELECT region_name, indicator_name, quarter, as_of, point, lower80, upper80, target, p_meet,
       coalesce('fallback: ' || fallback_reason, model)
FROM nowcasts WHERE latest AND ($region IS NULL OR region = $region)
QUALIFY as_of = max(as_of) OVER (PARTITION BY indicator, region)
ORDER BY region, indicator, quarter
"""
# The releases that moved the first open quarter most at the latest date.
NEWS_SQL = """
SELECT summary FROM nowcast_news WHERE ($region IS NULL OR region = $region)
QUALIFY as_of = max(as_of) OVER (PARTITION BY indicator, region)
    AND quarter = min(quarter) OVER (PARTITION BY indicator, region)
ORDER BY abs(impact) DESC LIMIT $top
"""
Row = tuple[str, str, str, str, str, str, str, str]


def nowcast_rows(config: Config, region: str | None, top: int = 5) -> tuple[list[Row], list[str]]:
    """The latest nowcast of each open quarter, formatted, and the largest news."""
    if not config.nowcasts:
        return [], []
    with read_store(config) as con:
        rows = con.execute(NOWCASTS_SQL, {"region": region}).fetchall()
        news = con.execute(NEWS_SQL, {"region": region, "top": top}).fetchall()
    shown = [
        (
            str(reg),
            str(name),
            f"{q} (as of {as_of})",
            f"{point:.1f}%",
            f"{lo:.1f}–{hi:.1f}%",
            "" if goal is None else f"{goal:.1f}%",
            "" if p is None else f"{p:.0%}",
            str(model),
        )
        for reg, name, q, as_of, point, lo, hi, goal, p, model in rows
    ]
    return shown, [str(n[0]) for n in news]
