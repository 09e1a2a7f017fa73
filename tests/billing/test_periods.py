"""Billing-cycle arithmetic: month ends, leap years, anchors, boundaries for every interval."""
from datetime import UTC, datetime, timedelta

import pytest

from app.billing.periods import (
    add_months,
    boundary,
    interval_length,
    max_interval,
    next_boundary,
    period_after,
    previous_boundary,
)


def at(year: int, month: int, day: int, hour: int = 12, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


JAN_31 = at(2025, 1, 31)


def test_month_end_anchor_clamps_and_returns_to_its_day():
    assert [boundary(JAN_31, "month", 1, k) for k in range(0, 6)] == [
        at(2025, 1, 31), at(2025, 2, 28), at(2025, 3, 31), at(2025, 4, 30), at(2025, 5, 31), at(2025, 6, 30)]


def test_month_end_anchor_in_a_leap_year_takes_feb_29():
    assert boundary(at(2024, 1, 31), "month", 1, 1) == at(2024, 2, 29)
    assert boundary(at(2024, 1, 31), "month", 1, 2) == at(2024, 3, 31)


def test_day_30_anchor_clamps_only_in_february():
    anchor = at(2025, 1, 30)
    assert [boundary(anchor, "month", 1, k).day for k in range(1, 4)] == [28, 30, 30]


def test_boundaries_keep_the_anchor_time_of_day_and_timezone():
    anchor = at(2025, 1, 31, 23, 59, 59)
    assert boundary(anchor, "month", 1, 1) == at(2025, 2, 28, 23, 59, 59)
    assert boundary(anchor, "month", 1, 1).tzinfo is UTC


def test_negative_k_walks_back_from_the_anchor():
    assert [boundary(JAN_31, "month", 1, k) for k in (-1, -2, -3, -11, -12)] == [
        at(2024, 12, 31), at(2024, 11, 30), at(2024, 10, 31), at(2024, 2, 29), at(2024, 1, 31)]
    assert boundary(JAN_31, "week", 1, -1) == at(2025, 1, 24)
    assert boundary(JAN_31, "day", 3, -2) == at(2025, 1, 25)
    assert boundary(JAN_31, "year", 1, -1) == at(2024, 1, 31)


def test_feb_29_yearly_anchor_is_feb_28_except_in_leap_years():
    anchor = at(2024, 2, 29)
    assert [boundary(anchor, "year", 1, k) for k in range(-1, 5)] == [
        at(2023, 2, 28), at(2024, 2, 29), at(2025, 2, 28), at(2026, 2, 28), at(2027, 2, 28), at(2028, 2, 29)]
    assert next_boundary(anchor, "year", 1, at(2027, 3, 1)) == at(2028, 2, 29)


def test_year_is_twelve_months_and_counts_multiply():
    assert boundary(JAN_31, "year", 2, 1) == at(2027, 1, 31)
    assert boundary(JAN_31, "month", 3, 1) == at(2025, 4, 30)
    assert boundary(JAN_31, "month", 3, 2) == at(2025, 7, 31)
    assert boundary(JAN_31, "week", 2, 3) == JAN_31 + timedelta(weeks=6)
    assert boundary(JAN_31, "day", 10, 1) == at(2025, 2, 10)


def test_boundaries_are_always_computed_from_the_anchor_not_chained():
    chained = JAN_31
    for _ in range(2):
        chained = add_months(chained, 1)
    assert chained == at(2025, 3, 28)  # chaining loses the 31st...
    assert boundary(JAN_31, "month", 1, 2) == at(2025, 3, 31)  # ... the anchor keeps it


def test_add_months_with_an_explicit_anchor_day():
    assert add_months(at(2025, 2, 28), 1, anchor_day=31) == at(2025, 3, 31)
    assert add_months(at(2025, 11, 30), 3, anchor_day=31) == at(2026, 2, 28)
    assert add_months(at(2025, 3, 15), -15) == at(2023, 12, 15)


@pytest.mark.parametrize(("after", "expected"), [
    (at(2025, 1, 31), at(2025, 2, 28)),  # exactly on a boundary: strictly after
    (at(2025, 2, 28, 11, 59, 59), at(2025, 2, 28)),
    (at(2025, 2, 28), at(2025, 3, 31)),
    (at(2025, 3, 1), at(2025, 3, 31)),
    (at(2025, 3, 31, 12, 0, 1), at(2025, 4, 30)),
    (at(2024, 12, 31, 13), at(2025, 1, 31)),  # before the anchor
    (at(2020, 6, 15), at(2020, 6, 30)),
])
def test_next_boundary_monthly(after, expected):
    assert next_boundary(JAN_31, "month", 1, after) == expected


@pytest.mark.parametrize(("moment", "expected"), [
    (at(2025, 1, 31), at(2025, 1, 31)),  # on a boundary: that boundary
    (at(2025, 2, 28, 11, 59, 59), at(2025, 1, 31)),
    (at(2025, 2, 28), at(2025, 2, 28)),
    (at(2025, 3, 30), at(2025, 2, 28)),
    (at(2025, 1, 30), at(2024, 12, 31)),  # before the anchor
    (at(2030, 3, 1), at(2030, 2, 28)),
])
def test_previous_boundary_monthly(moment, expected):
    assert previous_boundary(JAN_31, "month", 1, moment) == expected


@pytest.mark.parametrize(("interval", "count", "moment", "previous", "following"), [
    ("day", 1, at(2025, 3, 1, 11), at(2025, 2, 28), at(2025, 3, 1)),
    ("day", 7, at(2025, 2, 10), at(2025, 2, 7), at(2025, 2, 14)),
    ("week", 1, at(2025, 2, 10), at(2025, 2, 7), at(2025, 2, 14)),  # Fridays, as the anchor
    ("week", 2, at(2025, 2, 10), at(2025, 1, 31), at(2025, 2, 14)),
    ("week", 2, at(2025, 1, 20), at(2025, 1, 17), at(2025, 1, 31)),
    ("month", 3, at(2025, 6, 1), at(2025, 4, 30), at(2025, 7, 31)),
    ("month", 3, at(2024, 12, 1), at(2024, 10, 31), at(2025, 1, 31)),
    ("year", 1, at(2026, 1, 31, 11), at(2025, 1, 31), at(2026, 1, 31)),
    ("year", 2, at(2026, 6, 1), at(2025, 1, 31), at(2027, 1, 31)),
])
def test_boundaries_around_a_moment(interval, count, moment, previous, following):
    assert previous_boundary(JAN_31, interval, count, moment) == previous
    assert next_boundary(JAN_31, interval, count, moment) == following


def test_next_and_previous_are_consecutive_boundaries_for_any_moment():
    for interval, count in [("day", 1), ("week", 1), ("week", 3), ("month", 1), ("month", 6), ("year", 1)]:
        moment = at(2023, 11, 29, 7, 13, 5)
        for _ in range(60):
            prev = previous_boundary(JAN_31, interval, count, moment)
            following = next_boundary(JAN_31, interval, count, moment)
            assert prev <= moment < following
            if interval in ("day", "week"):
                assert following - prev == max_interval(interval, count)
            assert next_boundary(JAN_31, interval, count, prev) == following
            moment += timedelta(days=13, hours=5)


def test_period_after_uses_the_start_as_its_own_anchor():
    assert period_after(at(2025, 1, 31), "month", 1) == at(2025, 2, 28)
    assert period_after(at(2025, 2, 28), "month", 1) == at(2025, 3, 28)
    assert period_after(at(2024, 2, 29), "year", 1) == at(2025, 2, 28)
    assert period_after(at(2025, 3, 1), "week", 1) == at(2025, 3, 8)
    assert period_after(at(2025, 3, 1), "day", 1) == at(2025, 3, 2)


@pytest.mark.parametrize(("interval", "count", "end", "length"), [
    ("month", 1, at(2025, 3, 31), timedelta(days=31)),  # Feb 28 -> Mar 31
    ("month", 1, at(2025, 3, 1), timedelta(days=28)),
    ("month", 1, at(2024, 3, 1), timedelta(days=29)),
    ("month", 1, at(2025, 5, 1), timedelta(days=30)),
    ("month", 3, at(2025, 4, 1), timedelta(days=90)),
    ("year", 1, at(2025, 3, 1), timedelta(days=365)),
    ("year", 1, at(2024, 3, 1), timedelta(days=366)),  # spans Feb 29 2024
    ("week", 2, at(2025, 3, 1), timedelta(days=14)),
    ("day", 1, at(2025, 3, 1), timedelta(days=1)),
])
def test_interval_length_is_the_whole_period_ending_at_the_anchor(interval, count, end, length):
    assert interval_length(interval, count, end) == length


def test_max_interval_bounds_every_period():
    for interval, count in [("day", 3), ("week", 2), ("month", 1), ("month", 3), ("year", 1)]:
        longest = max(boundary(JAN_31, interval, count, k + 1) - boundary(JAN_31, interval, count, k)
                      for k in range(-30, 30))
        assert longest <= max_interval(interval, count)
