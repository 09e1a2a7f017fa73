"""Billing-cycle arithmetic. Months clamp to the month's last day and return to the anchor day."""
import calendar
from datetime import datetime


def add_months(moment: datetime, months: int, anchor_day: int | None = None) -> datetime:
    """`moment` plus `months`, on `anchor_day` (default moment's day) clamped to the month's length."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(anchor_day or moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)
