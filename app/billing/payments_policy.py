"""The payment retry policy, configured by environment variables."""
import os
from datetime import datetime, timedelta

# Days after the first failed attempt when the payment is retried: 4 attempts over 2 weeks.
DEFAULT_RETRY_DAYS = (3, 7, 14)


def retry_days() -> tuple[int, ...]:
    """BILLING_PAYMENT_RETRY_DAYS, e.g. "3,7,14": retries after the first failure, in days."""
    raw = os.environ.get("BILLING_PAYMENT_RETRY_DAYS")
    return tuple(int(d) for d in raw.split(",")) if raw else DEFAULT_RETRY_DAYS


def after_retries_exhausted() -> str:
    """BILLING_AFTER_RETRIES: what a subscription becomes when its retries fail, canceled (default) or unpaid."""
    value = os.environ.get("BILLING_AFTER_RETRIES", "canceled")
    return value if value in ("canceled", "unpaid") else "canceled"


def next_attempt_after_failure(first_attempt: datetime, now: datetime) -> datetime | None:
    """The first scheduled retry after `now` (a failure at that instant); None when retries are exhausted.
    Reading the schedule by time, not by attempt count, keeps it intact when someone also pays by hand."""
    scheduled = (first_attempt + timedelta(days=days) for days in retry_days())
    return next((at for at in scheduled if at > now), None)
