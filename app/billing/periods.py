"""Billing-cycle arithmetic. Months clamp to the month's last day and return to the anchor day
(Jan 31 -> Feb 28 -> Mar 31); years are twelve months (Feb 29 -> Feb 28 -> ... -> Feb 29)."""
import calendar
from datetime import datetime, timedelta

MONTHS = {"month": 1, "year": 12}
DAYS = {"day": 1, "week": 7}


def add_months(moment: datetime, months: int, anchor_day: int | None = None) -> datetime:
    """`moment` plus `months`, on `anchor_day` (default moment's day) clamped to the month's length."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(anchor_day or moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def boundary(anchor: datetime, interval: str, count: int, k: int) -> datetime:
    """The k-th period boundary from the anchor (k may be negative), always computed from the anchor."""
    if interval in MONTHS:
        return add_months(anchor, k * count * MONTHS[interval])
    return anchor + timedelta(days=k * count * DAYS[interval])


def _estimate(anchor: datetime, interval: str, count: int, moment: datetime) -> int:
    if interval in MONTHS:
        months = (moment.year - anchor.year) * 12 + moment.month - anchor.month
        return months // (count * MONTHS[interval])
    return (moment - anchor).days // (count * DAYS[interval])


def next_boundary(anchor: datetime, interval: str, count: int, after: datetime) -> datetime:
    """The first boundary strictly after `after`."""
    k = _estimate(anchor, interval, count, after) - 1
    while boundary(anchor, interval, count, k) <= after:
        k += 1
    return boundary(anchor, interval, count, k)


def previous_boundary(anchor: datetime, interval: str, count: int, at_or_before: datetime) -> datetime:
    """The last boundary at or before `at_or_before`."""
    k = _estimate(anchor, interval, count, at_or_before) + 1
    while boundary(anchor, interval, count, k) > at_or_before:
        k -= 1
    return boundary(anchor, interval, count, k)


def period_after(start: datetime, interval: str, count: int) -> datetime:
    """The end of a whole period that starts at `start` (its own anchor)."""
    return boundary(start, interval, count, 1)


def interval_length(interval: str, count: int, end: datetime) -> timedelta:
    """The length of the whole period that ends at the anchor-aligned `end` (the first period of a
    subscription whose billing_cycle_anchor is ahead of its start is prorated against it)."""
    return end - boundary(end, interval, count, -1)


def max_interval(interval: str, count: int) -> timedelta:
    """An upper bound of one period's length (for limits such as a test clock's advance)."""
    if interval in MONTHS:
        return timedelta(days=31 * count * MONTHS[interval])
    return timedelta(days=count * DAYS[interval])
