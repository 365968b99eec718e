"""The ladder's rule on DuckDB itself, against a plain reading of it, for any history."""

from __future__ import annotations

import itertools
from datetime import date

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics.ladder import Escalation, Talk, history_sql

STATUSES = ("behind", "on_track", "at_risk", "no_data")


def levels(esc: Escalation, statuses: list[str]) -> list[int]:
    """The ladder of one item with these monthly statuses, computed by DuckDB."""
    con = duckdb.connect()
    try:
        con.execute("CREATE TABLE escalation_talk_units (talk_date DATE, unit_key VARCHAR)")
        for t in esc.talks:
            con.execute("INSERT INTO escalation_talk_units VALUES (?, ?)", [t.date, t.unit])
        con.execute(
            "CREATE TABLE items AS SELECT 'check' AS item_kind, 'x' AS item, 'u' AS unit, "
            "'i' AS indicator, 'r' AS region, CAST(n AS VARCHAR) AS period, "
            "last_day(make_date(2000 + n // 12, n % 12 + 1, 1)) AS period_end, s AS status "
            "FROM (SELECT unnest(range(len($s))) AS n, unnest($s) AS s)",
            {"s": statuses},
        )
        got = con.execute(
            f"SELECT level FROM ({history_sql(esc, 'SELECT * FROM items')}) ORDER BY period_end"
        ).fetchall()
    finally:
        con.close()
    return [int(r[0]) for r in got]


def reference(esc: Escalation, statuses: list[str]) -> list[int]:
    """The rule as the README states it, one period at a time."""
    level, behind, on_track, out = 0, 0, 0, []
    for status in statuses:
        if status == "no_data":
            continue
        behind = behind + 1 if status == "behind" else 0
        on_track = on_track + 1 if status == "on_track" else 0
        if behind:
            level = max(level, sum(behind >= n for n in esc.periods))
        elif on_track and on_track % esc.recover_periods == 0:
            level = max(0, level - esc.step_down)
        out.append(level)
    return out


histories = st.lists(st.sampled_from(STATUSES), max_size=40)
rules = st.builds(
    Escalation,
    periods=st.sampled_from([(1, 2, 3), (2, 4, 6), (1, 3), (3,), (1, 2, 12)]),
    recover_periods=st.integers(1, 4),
    step_down=st.integers(1, 3),
    after_talk=st.booleans(),
    # another unit's talk: the talk rule's SQL runs and must change nothing
    talks=st.sampled_from([(), (Talk(date=date(2000, 3, 1), unit="another"),)]),
)


@settings(deadline=None, max_examples=60)
@given(rules, histories)
def test_the_ladder_is_the_stated_rule(esc: Escalation, statuses: list[str]) -> None:
    assert levels(esc, statuses) == reference(esc, statuses)


@settings(deadline=None, max_examples=40)
@given(st.integers(1, 4), histories)
def test_monotone_in_the_run_and_one_level_at_a_time_down(
    recover: int, statuses: list[str]
) -> None:
    esc = Escalation(recover_periods=recover)
    got = levels(esc, statuses)
    shown = [s for s in statuses if s != "no_data"]
    run = 0
    for i, (status, level) in enumerate(zip(shown, got, strict=True)):
        before = got[i - 1] if i else 0
        run = run + 1 if status == "behind" else 0
        if run:
            assert level >= before and level >= min(run, 3)
        else:
            assert before - 1 <= level <= before


def test_a_configured_step_down_clears_at_once() -> None:
    esc = Escalation(step_down=3)
    assert levels(esc, ["behind"] * 3 + ["on_track"]) == [1, 2, 3, 0]
    assert levels(Escalation(), ["behind"] * 3 + ["on_track"] * 3) == [1, 2, 3, 2, 1, 0]


@settings(deadline=None, max_examples=40)
@given(histories, st.integers(0, 40), st.integers(1, 28))
def test_a_talk_only_raises_and_the_way_down_stays_one_level_at_a_time(
    statuses: list[str], month: int, day: int
) -> None:
    talk = Talk(date=date(2000 + month // 12, month % 12 + 1, day), unit="u")
    plain = levels(Escalation(), statuses)
    talked = levels(Escalation(talks=(talk,)), statuses)
    assert all(b >= a for a, b in zip(plain, talked, strict=True))
    assert all(b >= a - 1 for a, b in itertools.pairwise(talked))
    # the talk raises only periods behind, and only to 问责
    shown = [s for s in statuses if s != "no_data"]
    for status, a, b, before in zip(shown, plain, talked, [0, *talked], strict=False):
        if b != a and status == "behind":
            assert b == 3 or b == before


@settings(deadline=None, max_examples=40)
@given(
    rules,
    histories,
    st.one_of(st.none(), st.integers(0, 40)),  # a talk with the item's own unit, or none
)
def test_any_rule_is_monotone_in_the_run_and_steps_down_at_most_as_configured(
    esc: Escalation, statuses: list[str], talk_month: int | None
) -> None:
    if talk_month is not None:
        own = Talk(date=date(2000 + talk_month // 12, talk_month % 12 + 1, 15), unit="u")
        esc = esc.model_copy(update={"talks": (own,)})
    got = levels(esc, statuses)
    shown = [s for s in statuses if s != "no_data"]
    run = 0
    for i, (status, level) in enumerate(zip(shown, got, strict=True)):
        before = got[i - 1] if i else 0
        run = run + 1 if status == "behind" else 0
        if run:  # a longer run never stands lower, and reaches each threshold it passes
            assert level >= before and level >= sum(run >= n for n in esc.periods)
        else:  # down by at most `step_down` (one level unless configured), never up
            assert before - esc.step_down <= level <= before
