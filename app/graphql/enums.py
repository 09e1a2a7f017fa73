"""The contract's enums. Values are Stripe's lowercase strings, as stored in the models."""
from enum import Enum

import strawberry


@strawberry.enum
class PriceType(Enum):
    ONE_TIME = "one_time"
    RECURRING = "recurring"


@strawberry.enum
class RecurringInterval(Enum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"


@strawberry.enum
class UsageType(Enum):
    LICENSED = "licensed"
    METERED = "metered"


@strawberry.enum
class AggregateUsage(Enum):
    SUM = "sum"
    LAST_DURING_PERIOD = "last_during_period"
    LAST_EVER = "last_ever"
    MAX = "max"


@strawberry.enum
class BillingScheme(Enum):
    PER_UNIT = "per_unit"
    TIERED = "tiered"


@strawberry.enum
class TiersMode(Enum):
    GRADUATED = "graduated"
    VOLUME = "volume"


@strawberry.enum
class RoundingMode(Enum):
    UP = "up"
    DOWN = "down"


@strawberry.enum
class CouponDuration(Enum):
    ONCE = "once"
    REPEATING = "repeating"
    FOREVER = "forever"


@strawberry.enum
class TestClockStatus(Enum):
    READY = "ready"
    ADVANCING = "advancing"
    INTERNAL_FAILURE = "internal_failure"


@strawberry.enum
class SubscriptionStatus(Enum):
    INCOMPLETE = "incomplete"
    INCOMPLETE_EXPIRED = "incomplete_expired"
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    UNPAID = "unpaid"
    CANCELED = "canceled"
    PAUSED = "paused"


@strawberry.enum
class InvoiceStatus(Enum):
    DRAFT = "draft"
    OPEN = "open"
    PAID = "paid"
    VOID = "void"
    UNCOLLECTIBLE = "uncollectible"
