"""Properties of the pure pacing functions."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from metrics.pace import LINEAR, pace_curve, profile_shares, seasonal_shares

amounts = st.floats(min_value=1, max_value=1e6, allow_nan=False)
weights = st.lists(st.floats(min_value=0.01, max_value=100), min_size=12, max_size=12)


@given(
    amounts, st.lists(st.floats(min_value=0.05, max_value=0.95), min_size=0, max_size=3), weights
)
def test_pace_is_monotone_hits_quarters_and_ends_at_the_annual_target(
    annual: float, fractions: list[float], w: list[float]
) -> None:
    fracs = sorted(fractions)
    quarters = {q + 1: annual * f for q, f in enumerate(fracs)}
    for shares in (LINEAR, profile_shares(w)):
        curve = pace_curve(annual, shares, quarters)
        assert curve[0] == 0
        assert np.isclose(curve[12], annual)
        assert np.all(np.diff(curve) >= -1e-9 * annual)
        for q, v in quarters.items():
            assert np.isclose(curve[3 * q], v)


@given(amounts, st.integers(1, 11), st.floats(min_value=0.01, max_value=0.99))
def test_explicit_month_targets_are_hit(annual: float, month: int, frac: float) -> None:
    curve = pace_curve(annual, LINEAR, months={month: annual * frac})
    assert np.isclose(curve[month], annual * frac)


@given(st.dictionaries(st.integers(2000, 2030), weights, min_size=1, max_size=5))
def test_seasonal_shares_are_monotone_from_zero_to_one(years: dict[int, list[float]]) -> None:
    ytd = {
        y: {m + 1: float(v) for m, v in enumerate(np.cumsum(w)) if m != 0}  # Jan–Feb combined
        for y, w in years.items()
    }
    shares = seasonal_shares(ytd)
    assert shares is not None
    assert shares[0] == 0 and np.isclose(shares[12], 1)
    assert np.all(np.diff(shares) >= 0)


def test_seasonal_shares_need_a_complete_year() -> None:
    assert seasonal_shares({2025: {1: 5.0, 2: 9.0}}) is None


def test_linear_pace_is_time_proportional() -> None:
    assert np.allclose(pace_curve(1200.0), np.arange(13) * 100.0)


@given(
    amounts,
    st.dictionaries(st.sampled_from(["Q1", "Q2", "Q3"]), st.floats(0, 1e6), max_size=3),
    st.dictionaries(st.sampled_from([str(m) for m in range(1, 12)]), st.floats(0, 1e6), max_size=3),
)
def test_batched_linear_curves_equal_the_pure_function(
    annual: float, quarters: dict[str, float], months: dict[str, float]
) -> None:
    import duckdb

    from ingest.schema import Indicator
    from metrics.schema import Target, Thresholds
    from metrics.targets import target_tables

    t = Target(
        indicator="x",
        region="r",
        year=2026,
        annual=annual,
        quarters=quarters,  # type: ignore[arg-type]
        months=months,
    )
    con = duckdb.connect()
    flow = Indicator(id="x", name="x", kind="flow")
    target_tables(con, [t, t], {"x": flow}, lambda _: Thresholds())
    rows = con.execute("SELECT target_id, pace FROM curves ORDER BY target_id").fetchall()
    con.close()
    want = pace_curve(
        annual,
        LINEAR,
        {int(q[1]): v for q, v in quarters.items()},
        {int(m): v for m, v in months.items()},
    )
    for tid in (0, 1):
        assert rows[tid][0] == tid
        assert np.allclose(rows[tid][1], want, rtol=1e-9, atol=1e-6)
